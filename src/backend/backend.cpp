#include "backend/backend.h"

#include "backend/cpu/cpu_backend.h"

#include <algorithm>

namespace ringlm {

namespace {
Backend* registered[2] = {nullptr, nullptr};
}

void register_backend(Device device, Backend* backend) { registered[static_cast<int>(device)] = backend; }

Backend& backend_for(Device device) {
    if (device == Device::cpu) return cpu_backend();
    Backend* backend = registered[static_cast<int>(device)];
    if (!backend) fail("backend: no {} backend (ringlm was built without it, or no device is present)", device_name(device));
    return *backend;
}

bool any_bf16(std::initializer_list<const Tensor*> tensors) {
    return std::any_of(tensors.begin(), tensors.end(), [](const Tensor* t) { return t->dtype() == DType::bf16; });
}

Tensor widened(const Tensor& x) {
    if (x.dtype() != DType::bf16) return x;
    Tensor wide = empty(x.shape(), DType::f32, x.device());
    backend(x).copy(wide, x);
    return wide;
}

Tensor f32_output(const Tensor& y, bool keep_values) {
    if (y.dtype() != DType::bf16) return y;
    return keep_values ? widened(y) : empty(y.shape(), DType::f32, y.device());
}

void narrow_into(Tensor& y, const Tensor& computed) {
    if (computed.raw() != y.raw()) backend(y).copy(y, computed);
}

}  // namespace ringlm
