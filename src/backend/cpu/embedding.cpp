// CPU embedding kernels:  out[t] = table[ids[t]];  dtable[ids[t]] += dout[t]
// table [V, C], ids i32 [T] (checked to lie in [0, V) by the op), out [T, C].
#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cstring>

namespace ringlm {

void CpuBackend::embedding_forward(Tensor& out, const Tensor& table, const Tensor& ids) {
    dispatch_floating("embedding_forward", table.dtype(), [&]<typename T>(T) {
        const int64_t tokens = ids.numel(), C = table.cols();
        const T* table_p = table.data<T>();
        const int32_t* ids_p = ids.data<int32_t>();
        T* out_p = out.data<T>();
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < tokens; t++)
            std::memcpy(out_p + t * C, table_p + static_cast<int64_t>(ids_p[t]) * C, C * sizeof(T));
    });
}

// A token id may repeat, so two tokens can add into one row of dtable. Threads split the
// columns instead of the tokens: each dtable element is written by one thread, adding the
// tokens in order, so the result is the same bits whatever the thread count.
void CpuBackend::embedding_backward(Tensor& dtable, const Tensor& dout, const Tensor& ids) {
    dispatch_floating("embedding_backward", dtable.dtype(), [&]<typename T>(T) {
        const int64_t tokens = ids.numel(), C = dtable.cols();
        constexpr int64_t block = 64;  // columns per task: one cache line of f64, two of f32
        const int64_t blocks = (C + block - 1) / block;
        const T* dout_p = dout.data<T>();
        const int32_t* ids_p = ids.data<int32_t>();
        T* dtable_p = dtable.data<T>();
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < blocks; b++) {
            const int64_t begin = b * block, end = std::min(C, begin + block);
            for (int64_t t = 0; t < tokens; t++) {
                T* row = dtable_p + static_cast<int64_t>(ids_p[t]) * C;
                const T* dout_t = dout_p + t * C;
                for (int64_t c = begin; c < end; c++) row[c] += dout_t[c];
            }
        }
    });
}

}  // namespace ringlm
