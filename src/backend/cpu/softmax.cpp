// CPU softmax over the last dimension, rows independent:
//   y = exp(x - max(x)) / sum(exp(x - max(x)))     (max-subtracted: no overflow for any x)
//   dx += y * (dy - sum(dy * y))
// Row sums accumulate in double so long rows (a vocabulary) lose nothing in f32.
#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>

namespace ringlm {

void CpuBackend::softmax_forward(Tensor& y, const Tensor& x) {
    dispatch_floating("softmax_forward", x.dtype(), [&]<typename T>(T) {
        const int64_t rows = x.rows(), C = x.cols();
        const T* x_p = x.data<T>();
        T* y_p = y.data<T>();
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const T* xr = x_p + r * C;
            T* yr = y_p + r * C;
            T row_max = xr[0];
            for (int64_t c = 1; c < C; c++) row_max = std::max(row_max, xr[c]);
            double total = 0;
            for (int64_t c = 0; c < C; c++) {
                yr[c] = std::exp(xr[c] - row_max);
                total += yr[c];
            }
            const T inverse_total = static_cast<T>(1.0 / total);
            for (int64_t c = 0; c < C; c++) yr[c] *= inverse_total;
        }
    });
}

void CpuBackend::softmax_backward(Tensor& dx, const Tensor& dy, const Tensor& y) {
    dispatch_floating("softmax_backward", y.dtype(), [&]<typename T>(T) {
        const int64_t rows = y.rows(), C = y.cols();
        const T* y_p = y.data<T>();
        const T* dy_p = dy.data<T>();
        T* dx_p = dx.data<T>();
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const T* yr = y_p + r * C;
            const T* dyr = dy_p + r * C;
            T* dxr = dx_p + r * C;
            double dy_dot_y = 0;
            for (int64_t c = 0; c < C; c++) dy_dot_y += static_cast<double>(dyr[c]) * yr[c];
            const T projection = static_cast<T>(dy_dot_y);
            for (int64_t c = 0; c < C; c++) dxr[c] += yr[c] * (dyr[c] - projection);
        }
    });
}

}  // namespace ringlm
