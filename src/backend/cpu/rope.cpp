// CPU RoPE kernels, Hugging Face "rotate halves" layout (see backend.h):
//   angle(t, i) = position_ids[t] * inverse_frequency[i],  i < D/2
//   y[i]     = s (x[i] cos - x[i+D/2] sin)
//   y[i+D/2] = s (x[i+D/2] cos + x[i] sin)          s: the attention scaling (YaRN), else 1
// The rotation is orthogonal, so the backward is the same rotation by -angle, times s.
#include "backend/cpu/cpu_backend.h"

#include <cmath>
#include <vector>

namespace ringlm {

namespace {

// out = R(direction * angle) in (overwrite) or out += R(direction * angle) in (accumulate).
// The angles are computed in double whatever T is: positions reach 10^5 and more in long
// context, where an f32 angle would be off by thousandths of a radian.
template <typename T>
void rotate_halves(T* out, const T* in, const int32_t* position_ids, int64_t tokens, int64_t heads,
                   int64_t head_dim, const double* inverse_frequency, double scale, double direction,
                   bool accumulate) {
    const int64_t half = head_dim / 2;
#pragma omp parallel
    {
        // cos/sin of one token, shared by all its heads
        std::vector<T> cos_angle(half), sin_angle(half);
#pragma omp for schedule(static)
        for (int64_t t = 0; t < tokens; t++) {
            for (int64_t i = 0; i < half; i++) {
                const double angle = direction * position_ids[t] * inverse_frequency[i];
                cos_angle[i] = static_cast<T>(scale * std::cos(angle));
                sin_angle[i] = static_cast<T>(scale * std::sin(angle));
            }
            for (int64_t h = 0; h < heads; h++) {
                const T* x = in + (t * heads + h) * head_dim;
                T* y = out + (t * heads + h) * head_dim;
                for (int64_t i = 0; i < half; i++) {
                    const T first = x[i] * cos_angle[i] - x[i + half] * sin_angle[i];
                    const T second = x[i + half] * cos_angle[i] + x[i] * sin_angle[i];
                    if (accumulate) {
                        y[i] += first;
                        y[i + half] += second;
                    } else {
                        y[i] = first;
                        y[i + half] = second;
                    }
                }
            }
        }
    }
}

}  // namespace

void CpuBackend::rope_forward(Tensor& y, const Tensor& x, const Tensor& position_ids,
                              const Tensor& inverse_frequency, double scale) {
    if (any_bf16({&y, &x})) {  // bf16 q, k; the backward's dy and dx are f32
        Tensor y_f32 = f32_output(y);
        rope_forward(y_f32, widened(x), position_ids, inverse_frequency, scale);
        return narrow_into(y, y_f32);
    }
    dispatch_floating("rope_forward", x.dtype(), [&]<typename T>(T) {
        rotate_halves(y.data<T>(), x.data<T>(), position_ids.data<int32_t>(), x.size(0), x.size(1), x.size(2),
                      inverse_frequency.data<double>(), scale, +1.0, false);
    });
}

// dx += s R(-angle) dy
void CpuBackend::rope_backward(Tensor& dx, const Tensor& dy, const Tensor& position_ids,
                               const Tensor& inverse_frequency, double scale) {
    dispatch_floating("rope_backward", dy.dtype(), [&]<typename T>(T) {
        rotate_halves(dx.data<T>(), dy.data<T>(), position_ids.data<int32_t>(), dy.size(0), dy.size(1), dy.size(2),
                      inverse_frequency.data<double>(), scale, -1.0, true);
    });
}

}  // namespace ringlm
