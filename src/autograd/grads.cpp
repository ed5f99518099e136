#include "autograd/grads.h"

#include "backend/backend.h"

namespace ringlm {

std::string TensorDescriptor::describe() const {
    if (id == 0) return "undefined";
    return fmt::format("{} {}", dtype_name(dtype), shape.str());
}

void Grads::bind(const Tensor& value, const Tensor& grad) {
    if (value.shape() != grad.shape() || gradient_dtype(value.dtype()) != grad.dtype())
        fail("grads: cannot bind gradient {} to tensor {}", grad.describe(), value.describe());
    entries_[value.id()] = Entry{grad, true};
}

Tensor& Grads::of(const TensorDescriptor& x) {
    auto [entry, inserted] = entries_.try_emplace(x.id);
    if (inserted) entry->second.grad = zeros(x.shape, gradient_dtype(x.dtype), x.device);
    return entry->second.grad;
}

void Grads::accumulate(const TensorDescriptor& x, const Tensor& contribution) {
    if (contribution.shape() != x.shape || contribution.dtype() != gradient_dtype(x.dtype))
        fail("grads: gradient {} does not match tensor {}", contribution.describe(), x.describe());
    auto entry = entries_.find(x.id);
    if (entry == entries_.end()) {
        entries_.emplace(x.id, Entry{contribution, false});
    } else {
        backend_for(x.device).axpy(entry->second.grad, contribution, 1.0);
    }
}

const Tensor* Grads::find(const TensorDescriptor& x) const {
    auto entry = entries_.find(x.id);
    return entry == entries_.end() ? nullptr : &entry->second.grad;
}

void Grads::drop(const TensorDescriptor& x) {
    auto entry = entries_.find(x.id);
    if (entry != entries_.end() && !entry->second.bound) entries_.erase(entry);
}

void Grads::clear_unbound() {
    std::erase_if(entries_, [](const auto& item) { return !item.second.bound; });
}

}  // namespace ringlm
