// CPU RMSNorm kernels; the formulas are in backend.h and src/ops/rmsnorm.cpp.
#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>

namespace ringlm {

// x and y may each be bf16 (norm and cast in one: the f32 residual stream in, the bf16 matmul
// input out); w and inv_rms are f32.
void CpuBackend::rmsnorm_forward(Tensor& y, Tensor& inv_rms, const Tensor& x, const Tensor& w, double eps) {
    if (any_bf16({&y, &x})) {
        Tensor y_f32 = f32_output(y);
        rmsnorm_forward(y_f32, inv_rms, widened(x), w, eps);
        return narrow_into(y, y_f32);
    }
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
    if (any_bf16({&x})) return rmsnorm_backward(dx, dw, dy, widened(x), w, inv_rms);  // dx, dy: f32
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
        // dw is a sum over rows: blocks of columns split across threads so no two threads write
        // one dw[c]. Rows run outer so the inner loop walks a block's columns contiguously and
        // vectorises (a column walk strides C elements per row and does not), while each dw[c]
        // still adds its rows in order 0..rows-1: the same bits at every thread count.
        constexpr int64_t block = 64;
#pragma omp parallel for schedule(static)
        for (int64_t c0 = 0; c0 < C; c0 += block) {
            const int64_t width = std::min(block, C - c0);
            T acc[block] = {};
            for (int64_t t = 0; t < rows; t++) {
                const T* dyt = dyp + t * C + c0;
                const T* xt = xp + t * C + c0;
                const T r = rp[t];
                for (int64_t c = 0; c < width; c++) acc[c] += dyt[c] * xt[c] * r;
            }
            for (int64_t c = 0; c < width; c++) dwp[c0 + c] += acc[c];
        }
    });
}

}  // namespace ringlm
