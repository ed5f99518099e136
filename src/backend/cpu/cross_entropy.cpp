// CPU cross-entropy kernels on one chunk of logits [R, V]; the formulas are in backend.h and
// src/ops/cross_entropy.cpp. Rows are independent, so they split across threads; each row is
// reduced by one thread in a fixed order, which keeps the results the same bits run to run.
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/vector_exp.h"
#include "backend/labels.h"

#include <cmath>

namespace ringlm {

void CpuBackend::cross_entropy_forward(Tensor& losses, Tensor& lse, const Tensor& logits, const Tensor& labels) {
    dispatch_floating("cross_entropy_forward", logits.dtype(), [&]<typename T>(T) {
        const int64_t R = logits.rows(), V = logits.cols();
        const T* logits_p = logits.data<T>();
        const int32_t* labels_p = labels.data<int32_t>();
        T* losses_p = losses.data<T>();
        T* lse_p = lse.data<T>();
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < R; r++) {
            const int32_t label = labels_p[r];
            if (label == ignore_label) {
                losses_p[r] = 0;
                lse_p[r] = 0;
                continue;
            }
            const T* row = logits_p + r * V;
            // lse = m + log sum_v exp(logits[v] - m),  m = max_v logits[v]: no exp overflows and
            // the largest term is exactly 1. The sum runs in double: V float terms would lose
            // about log2(V) bits.
            T row_max = row[0];
            for (int64_t v = 1; v < V; v++) row_max = row[v] > row_max ? row[v] : row_max;
            double sum_exp = 0;
            for (int64_t v = 0; v < V; v++) sum_exp += static_cast<double>(vector_exp(row[v] - row_max));
            const double log_sum_exp = std::log(sum_exp);
            lse_p[r] = static_cast<T>(static_cast<double>(row_max) + log_sum_exp);
            // loss = lse - logits[label] = (m - logits[label]) + log sum: the difference of two
            // floats is exact in double, so a confident token's small loss keeps its digits.
            losses_p[r] = static_cast<T>((static_cast<double>(row_max) - static_cast<double>(row[label])) + log_sum_exp);
        }
    });
}

void CpuBackend::cross_entropy_backward(Tensor& dlogits, const Tensor& logits, const Tensor& lse, const Tensor& labels,
                                        const Tensor& dlosses) {
    dispatch_floating("cross_entropy_backward", logits.dtype(), [&]<typename T>(T) {
        const int64_t R = logits.rows(), V = logits.cols();
        // No restrict: dlogits may alias logits. Each element is read before it is written and
        // nothing else reads it, so the in-place update is safe.
        const T* logits_p = logits.data<T>();
        const T* lse_p = lse.data<T>();
        const T* dlosses_p = dlosses.data<T>();
        const int32_t* labels_p = labels.data<int32_t>();
        T* dlogits_p = dlogits.data<T>();
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < R; r++) {
            const int32_t label = labels_p[r];
            const T* row = logits_p + r * V;
            T* drow = dlogits_p + r * V;
            if (label == ignore_label) {
                for (int64_t v = 0; v < V; v++) drow[v] = 0;
                continue;
            }
            // dlogits[v] = dloss * (softmax[v] - [v == label]),  softmax[v] = exp(logits[v] - lse)
            // (softmax - 1 before the product: exact for a confident label, where softmax ~ 1)
            const T dloss = dlosses_p[r];
            const T row_lse = lse_p[r];
            for (int64_t v = 0; v < V; v++) {
                const T onehot = v == label ? T(1) : T(0);
                drow[v] = dloss * (vector_exp(row[v] - row_lse) - onehot);
            }
        }
    });
}

}  // namespace ringlm
