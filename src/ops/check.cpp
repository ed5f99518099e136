#include "ops/check.h"

#include "backend/backend.h"

#include <algorithm>
#include <limits>

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

void check_activations(const char* op, std::initializer_list<const Tensor*> tensors) {
    const Tensor* first = *tensors.begin();
    for (const Tensor* t : tensors) {
        const bool f32_or_bf16 = t->dtype() == DType::f32 || t->dtype() == DType::bf16;
        if (compute_dtype(t->dtype()) != compute_dtype(first->dtype()) || !(f32_or_bf16 || t->dtype() == DType::f64))
            fail("{}: inputs must be f32 or bf16 (computed in f32), or all f64; got {} and {}", op, first->describe(),
                 t->describe());
        if (t->device() != first->device())
            fail("{}: inputs on different devices ({} and {})", op, device_name(first->device()),
                 device_name(t->device()));
    }
}

void check_ids_in_range(const char* op, const char* name, const Tensor& ids, int64_t limit, const KnownIdRange& known,
                        std::optional<int32_t> ignored, const char* what, const char* hint) {
    if (known) {
        if (!known->empty() && (known->min < 0 || known->max >= limit))
            fail("{}: {} span [{}, {}], outside {} [0, {}) ({})", op, name, known->min, known->max, what, limit, hint);
        if (ids.device() != Device::cpu) return;  // not read back: the point of knowing the range
    }
    Tensor host = ids;
    if (ids.device() != Device::cpu) {
        host = empty(ids.shape(), DType::i32, Device::cpu);
        backend(ids).copy(host, ids);
    }
    const int32_t* values = host.data<int32_t>();
    for (int64_t t = 0; t < host.numel(); t++) {
        if (ignored && values[t] == *ignored) continue;
        if (values[t] < 0 || values[t] >= limit)
            fail("{}: {}[{}] = {} is outside {} [0, {}) ({})", op, name, t, values[t], what, limit, hint);
    }
}

IdRange range_of_ids(const Tensor& ids, std::optional<int32_t> ignored) {
    IdRange range{std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min()};
    const int32_t* values = ids.data<int32_t>();
    for (int64_t t = 0; t < ids.numel(); t++) {
        if (ignored && values[t] == *ignored) continue;
        range.min = std::min(range.min, values[t]);
        range.max = std::max(range.max, values[t]);
    }
    return range;  // none counted: min > max, empty
}

}  // namespace ringlm
