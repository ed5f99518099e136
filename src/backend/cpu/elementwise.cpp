// CPU elementwise kernels and reductions. Reductions accumulate in double whatever the
// tensor dtype, so a loss sum over a long sequence does not drift with its length.
#include "backend/cpu/cpu_backend.h"

namespace ringlm {

void CpuBackend::add(Tensor& out, const Tensor& a, const Tensor& b) {
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

void CpuBackend::scale(Tensor& x, double alpha) {
    dispatch_floating("scale", x.dtype(), [&]<typename T>(T) {
        const int64_t n = x.numel();
        T* xp = x.data<T>();
        const T a = static_cast<T>(alpha);
#pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) xp[i] *= a;
    });
}

double CpuBackend::sum(const Tensor& x) {
    double total = 0;
    dispatch_floating("sum", x.dtype(), [&]<typename T>(T) {
        const int64_t n = x.numel();
        const T* xp = x.data<T>();
#pragma omp parallel for schedule(static) reduction(+ : total) if (n > 65536)
        for (int64_t i = 0; i < n; i++) total += static_cast<double>(xp[i]);
    });
    return total;
}

double CpuBackend::dot(const Tensor& a, const Tensor& b) {
    double total = 0;
    dispatch_floating("dot", a.dtype(), [&]<typename T>(T) {
        const int64_t n = a.numel();
        const T* ap = a.data<T>();
        const T* bp = b.data<T>();
#pragma omp parallel for schedule(static) reduction(+ : total) if (n > 65536)
        for (int64_t i = 0; i < n; i++) total += static_cast<double>(ap[i]) * static_cast<double>(bp[i]);
    });
    return total;
}

}  // namespace ringlm
