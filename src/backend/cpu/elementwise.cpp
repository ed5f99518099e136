// CPU elementwise kernels and reductions. Reductions accumulate in double whatever the
// tensor dtype, so a loss sum over a long sequence does not drift with its length.
#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <vector>

namespace ringlm {

// A bf16 operand (a residual add of a bf16 branch into the f32 stream) is added in f32.
void CpuBackend::add(Tensor& out, const Tensor& a, const Tensor& b) {
    if (any_bf16({&out, &a, &b})) {
        Tensor out_f32 = f32_output(out);
        add(out_f32, widened(a), widened(b));
        return narrow_into(out, out_f32);
    }
    dispatch_floating("add", a.dtype(), [&]<typename T>(T) {
        const int64_t n = a.numel();
        const T* ap = a.data<T>();
        const T* bp = b.data<T>();
        T* op = out.data<T>();
#pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) op[i] = ap[i] + bp[i];
    });
}

void CpuBackend::mul(Tensor& out, const Tensor& a, const Tensor& b) {
    dispatch_floating("mul", a.dtype(), [&]<typename T>(T) {
        const int64_t n = a.numel();
        const T* ap = a.data<T>();
        const T* bp = b.data<T>();
        T* op = out.data<T>();
#pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) op[i] = ap[i] * bp[i];
    });
}

void CpuBackend::axpy(Tensor& y, const Tensor& x, double alpha) {
    dispatch_floating("axpy", y.dtype(), [&]<typename T>(T) {
        const int64_t n = y.numel();
        const T* xp = x.data<T>();
        T* yp = y.data<T>();
        const T a = static_cast<T>(alpha);
#pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) yp[i] += a * xp[i];
    });
}

void CpuBackend::add_bias(Tensor& y, const Tensor& b) {
    if (any_bf16({&y})) {  // the f32 bias added to a bf16 product in f32, rounded once
        Tensor y_f32 = f32_output(y, true);
        add_bias(y_f32, b);
        return narrow_into(y, y_f32);
    }
    dispatch_floating("add_bias", y.dtype(), [&]<typename T>(T) {
        const int64_t rows = y.size(0), C = y.size(1);
        const T* bp = b.data<T>();
        T* yp = y.data<T>();
#pragma omp parallel for schedule(static) if (rows * C > 65536)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < C; c++) yp[r * C + c] += bp[c];
    });
}

// Columns split across threads, each column summed over the rows in order: the same bits
// whatever the thread count.
void CpuBackend::sum_rows(Tensor& db, const Tensor& dy) {
    dispatch_floating("sum_rows", dy.dtype(), [&]<typename T>(T) {
        const int64_t rows = dy.size(0), C = dy.size(1);
        const T* dyp = dy.data<T>();
        T* dbp = db.data<T>();
#pragma omp parallel for schedule(static) if (rows * C > 65536)
        for (int64_t c = 0; c < C; c++) {
            T acc = 0;
            for (int64_t r = 0; r < rows; r++) acc += dyp[r * C + c];
            dbp[c] += acc;
        }
    });
}

void CpuBackend::scale(Tensor& x, double alpha) {
    dispatch_floating("scale", x.dtype(), [&]<typename T>(T) {
        const int64_t n = x.numel();
        T* xp = x.data<T>();
        const T a = static_cast<T>(alpha);
#pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) xp[i] *= a;
    });
}

// Sum of term(i) over [0, n) in double: fixed blocks of 65536 terms, each summed in 8 lanes
// (lane l takes the terms i = l mod 8: one vector of independent adds instead of one chain of
// 65536 dependent ones, 4 cycles each) folded in lane order, then the block sums added in block
// order, so the bits are the same at every thread count and every run (an OpenMP `reduction`
// adds per-thread partial sums in the order the threads finish, and its grouping follows the
// thread count).
namespace {

template <typename Term>
double blocked_sum(int64_t n, Term term) {
    constexpr int64_t block = 65536;
    const int64_t blocks = (n + block - 1) / block;
    std::vector<double> block_sums(static_cast<size_t>(blocks), 0.0);
#pragma omp parallel for schedule(static) if (blocks > 1)
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t end = std::min(n, (b + 1) * block);
        double lanes[8] = {};
        int64_t i = b * block;
        for (; i + 8 <= end; i += 8)
            for (int l = 0; l < 8; l++) lanes[l] += term(i + l);
        for (; i < end; i++) lanes[i % 8] += term(i);
        double s = 0;
        for (int l = 0; l < 8; l++) s += lanes[l];
        block_sums[static_cast<size_t>(b)] = s;
    }
    double total = 0;
    for (double s : block_sums) total += s;
    return total;
}

}  // namespace

double CpuBackend::sum(const Tensor& x) {
    double total = 0;
    dispatch_floating("sum", x.dtype(), [&]<typename T>(T) {
        const T* xp = x.data<T>();
        total = blocked_sum(x.numel(), [xp](int64_t i) { return static_cast<double>(xp[i]); });
    });
    return total;
}

void CpuBackend::sum_to(Tensor& total, const Tensor& x) { fill(total, sum(x)); }
void CpuBackend::dot_to(Tensor& total, const Tensor& a, const Tensor& b) { fill(total, dot(a, b)); }

void CpuBackend::add_scalar(Tensor& y, const Tensor& s) {
    dispatch_floating("add_scalar", y.dtype(), [&]<typename T>(T) {
        T* yp = y.data<T>();
        const T value = s.data<T>()[0];
        for (int64_t i = 0; i < y.numel(); i++) yp[i] += value;
    });
}

double CpuBackend::dot(const Tensor& a, const Tensor& b) {
    double total = 0;
    dispatch_floating("dot", a.dtype(), [&]<typename T>(T) {
        const T* ap = a.data<T>();
        const T* bp = b.data<T>();
        total = blocked_sum(a.numel(),
                            [ap, bp](int64_t i) { return static_cast<double>(ap[i]) * static_cast<double>(bp[i]); });
    });
    return total;
}

}  // namespace ringlm
