// Rotary position embedding (Su et al. 2021), Hugging Face "rotate halves" layout:
//   angle(t, i) = position_ids[t] * inverse_frequency[i],  i < D/2   x, y [T, H, D], position_ids i32 [T]
//   (inverse_frequency = theta^(-2i/D) unscaled; a scaling rule's table otherwise)
//   y[i]     = s (x[i] cos - x[i+D/2] sin)
//   y[i+D/2] = s (x[i+D/2] cos + x[i] sin)          s: YaRN's attention factor, else 1
//   dx += s R(-angle) dy          (the rotation is orthogonal: its transpose is its inverse)
// A bf16 x gives a bf16 y (f32 math); dy and dx are f32.
// Backward does not read x (only its gradient's shape), so x itself is not saved.
// Position ids are global token positions (see DESIGN.md, data path), so a chunk of a ring
// rotates exactly as it would in the whole sequence.
#include "ops/check.h"
#include "ops/ops.h"

#include <cmath>
#include <vector>

namespace ringlm {

RopeFrequencies rope_frequencies(const std::vector<double>& inverse_frequency, double scale, Device device) {
    const Tensor host = from_vector(inverse_frequency, {static_cast<int64_t>(inverse_frequency.size())});
    RopeFrequencies frequencies{empty(host.shape(), DType::f64, device), scale};
    backend(frequencies.inverse_frequency).copy(frequencies.inverse_frequency, host);
    return frequencies;
}

RopeFrequencies default_rope_frequencies(double theta, int64_t head_dim, Device device) {
    if (!(theta > 0)) fail("rope: theta {} must be positive", theta);
    std::vector<double> inverse_frequency(static_cast<size_t>(head_dim / 2));
    for (size_t i = 0; i < inverse_frequency.size(); i++)
        inverse_frequency[i] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    return rope_frequencies(inverse_frequency, 1.0, device);
}

Tensor rope(Tape& tape, const Tensor& x, const Tensor& position_ids, const RopeFrequencies& frequencies) {
    check_shape("rope", "x", x, {any_size, any_size, any_size});
    check_shape("rope", "position_ids", position_ids, {x.size(0)});
    check_dtype("rope", "position_ids", position_ids, DType::i32);
    check_activations("rope", {&x});  // bf16 q and k too
    if (x.size(2) % 2 != 0) fail("rope: head dimension {} of x {} must be even", x.size(2), x.describe());
    check_shape("rope", "inverse_frequency", frequencies.inverse_frequency, {x.size(2) / 2});
    check_dtype("rope", "inverse_frequency", frequencies.inverse_frequency, DType::f64);
    Tensor y = empty_like(x);
    backend(x).rope_forward(y, x, position_ids, frequencies.inverse_frequency, frequencies.scale);
    tape.record("rope", y, [x = TensorDescriptor(x), position_ids, frequencies](Grads& grads, const Tensor& dy) {
        backend(dy).rope_backward(grads.of(x), dy, position_ids, frequencies.inverse_frequency, frequencies.scale);
    });
    return y;
}

Tensor rope(Tape& tape, const Tensor& x, const Tensor& position_ids, double theta) {
    check_shape("rope", "x", x, {any_size, any_size, any_size});
    return rope(tape, x, position_ids, default_rope_frequencies(theta, x.size(2), x.device()));
}

}  // namespace ringlm
