#include "tensor/tensor.h"

#include "tensor/allocator.h"

#include <atomic>

namespace ringlm {

namespace {
Allocator* allocators[2] = {nullptr, nullptr};
}

uint64_t next_tensor_id() {
    static std::atomic<uint64_t> counter{1};
    return counter.fetch_add(1, std::memory_order_relaxed);
}

Storage::~Storage() {
    if (allocator && data) allocator->release(data, bytes);
}

void register_allocator(Device device, Allocator* allocator) { allocators[static_cast<int>(device)] = allocator; }

Allocator& allocator_for(Device device) {
    if (device == Device::cpu) return cpu_allocator();
    Allocator* allocator = allocators[static_cast<int>(device)];
    if (!allocator) fail("tensor: no allocator for device {} (built without it?)", device_name(device));
    return *allocator;
}

Tensor empty(Shape shape, DType dtype, Device device) { return empty_in(allocator_for(device), shape, dtype, device); }

Tensor empty_in(Allocator& allocator, Shape shape, DType dtype, Device device) {
    Tensor t;
    t.storage_ = std::make_shared<Storage>();
    t.storage_->bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
    t.storage_->device = device;
    t.storage_->allocator = &allocator;
    t.storage_->data = t.storage_->allocator->allocate(t.storage_->bytes);
    t.shape_ = shape;
    t.dtype_ = dtype;
    t.id_ = next_tensor_id();
    return t;
}

Tensor wrap(void* data, Shape shape, DType dtype, Device device) {
    Tensor t;
    t.storage_ = std::make_shared<Storage>();
    t.storage_->data = data;
    t.storage_->bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
    t.storage_->device = device;
    t.shape_ = shape;
    t.dtype_ = dtype;
    t.id_ = next_tensor_id();
    return t;
}

Tensor Tensor::view(Shape shape) const {
    if (shape.numel() != numel()) fail("view: cannot view {} as {}", describe(), shape);
    Tensor t = *this;
    t.shape_ = shape;
    t.id_ = next_tensor_id();
    return t;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
    if (dim() < 1 || begin < 0 || end < begin || end > shape_[0])
        fail("rows: range [{}, {}) outside {}", begin, end, describe());
    Tensor t = *this;
    t.shape_[0] = end - begin;
    t.offset_ = offset_ + begin * (shape_[0] ? numel() / shape_[0] : 0);
    t.id_ = next_tensor_id();
    return t;
}

std::string Tensor::describe() const {
    if (!defined()) return "undefined";
    return fmt::format("{} {}", dtype_name(dtype_), shape_.str());
}

Tensor empty_like(const Tensor& like) { return empty(like.shape(), like.dtype(), like.device()); }

Tensor zeros(Shape shape, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    allocator_for(device).set_zero(t.raw(), t.bytes());
    return t;
}

Tensor zeros_like(const Tensor& like) { return zeros(like.shape(), like.dtype(), like.device()); }

}  // namespace ringlm
