// CPU RMSNorm kernels; the formulas are in backend.h and src/ops/rmsnorm.cpp.
#include "backend/cpu/cpu_backend.h"

#include <cmath>

namespace ringlm {

void CpuBackend::rmsnorm_forward(Tensor& y, Tensor& inv_rms, const Tensor& x, const Tensor& w, double eps) {
    dispatch_floating("rmsnorm_forward", x.dtype(), [&]<typename T>(T) {
        const int64_t rows = x.rows(), C = x.cols();
        const T* xp = x.data<T>();
        const T* wp = w.data<T>();
        T* yp = y.data<T>();
        T* rp = inv_rms.data<T>();
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < rows; t++) {
            const T* xt = xp + t * C;
            T* yt = yp + t * C;
            T sum_squares = 0;
            for (int64_t c = 0; c < C; c++) sum_squares += xt[c] * xt[c];
            const T r = T(1) / std::sqrt(sum_squares / T(C) + T(eps));
            rp[t] = r;
            for (int64_t c = 0; c < C; c++) yt[c] = xt[c] * r * wp[c];
        }
    });
}

void CpuBackend::rmsnorm_backward(Tensor& dx, Tensor& dw, const Tensor& dy, const Tensor& x, const Tensor& w,
                                  const Tensor& inv_rms) {
    dispatch_floating("rmsnorm_backward", x.dtype(), [&]<typename T>(T) {
        const int64_t rows = x.rows(), C = x.cols();
        const T* xp = x.data<T>();
        const T* wp = w.data<T>();
        const T* dyp = dy.data<T>();
        const T* rp = inv_rms.data<T>();
        T* dxp = dx.data<T>();
        T* dwp = dw.data<T>();
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < rows; t++) {
            const T* xt = xp + t * C;
            const T* dyt = dyp + t * C;
            T* dxt = dxp + t * C;
            const T r = rp[t];
            T mean_wdy_xhat = 0;  // mean over c of (w*dy)_c * x_hat_c
            for (int64_t c = 0; c < C; c++) mean_wdy_xhat += wp[c] * dyt[c] * xt[c] * r;
            mean_wdy_xhat /= T(C);
            for (int64_t c = 0; c < C; c++) dxt[c] += r * (wp[c] * dyt[c] - xt[c] * r * mean_wdy_xhat);
        }
        // dw is a sum over rows: columns split across threads so no two threads write one dw[c].
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            T acc = 0;
            for (int64_t t = 0; t < rows; t++) acc += dyp[t * C + c] * xp[t * C + c] * rp[t];
            dwp[c] += acc;
        }
    });
}

}  // namespace ringlm
