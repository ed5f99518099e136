#include "ops/check.h"

namespace ringlm {

void check_shape(const char* op, const char* name, const Tensor& x, std::initializer_list<int64_t> sizes) {
    if (!x.defined()) fail("{}: {} is undefined", op, name);
    bool ok = x.dim() == static_cast<int>(sizes.size());
    int i = 0;
    for (int64_t size : sizes) {
        if (ok && size != any_size && x.size(i) != size) ok = false;
        i++;
    }
    if (!ok) {
        std::string expected = "[";
        i = 0;
        for (int64_t size : sizes) expected += (i++ ? ", " : "") + (size == any_size ? std::string("*") : std::to_string(size));
        fail("{}: {} has shape {}, expected {}", op, name, x.shape(), expected + "]");
    }
}

void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) fail("{}: shapes {} and {} differ", op, a.shape(), b.shape());
}

void check_dtype(const char* op, const char* name, const Tensor& x, DType dtype) {
    if (x.dtype() != dtype) fail("{}: {} must be {}, got {}", op, name, dtype_name(dtype), x.describe());
}

void check_floating(const char* op, std::initializer_list<const Tensor*> tensors) {
    const Tensor* first = *tensors.begin();
    for (const Tensor* t : tensors) {
        if (!is_floating(t->dtype()) || t->dtype() != first->dtype())
            fail("{}: floating inputs must share one floating dtype, got {} and {}", op, first->describe(),
                 t->describe());
        if (t->device() != first->device())
            fail("{}: inputs on different devices ({} and {})", op, device_name(first->device()),
                 device_name(t->device()));
    }
}

}  // namespace ringlm
