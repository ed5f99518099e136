// Tensor: a typed, shaped view of reference-counted storage. Always contiguous row-major;
// a view (reshape, row range) shares the storage at an element offset. Storage comes from
// the device's caching allocator, so steady-state training does no system allocation.
//
// Autograd identifies a tensor by id(): every tensor made by empty()/view()/rows() gets a
// fresh id, copies of a Tensor keep it.
#pragma once

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/shape.h"
#include "util/error.h"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace ringlm {

class Allocator;

struct Storage {
    void* data = nullptr;
    size_t bytes = 0;
    Device device = Device::cpu;
    Allocator* allocator = nullptr;  // null: memory owned by someone else (a wrapped buffer)
    Storage() = default;
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
    ~Storage();
};

Allocator& allocator_for(Device device);
void register_allocator(Device device, Allocator* allocator);  // the CUDA backend registers its own

class Tensor {
public:
    Tensor() = default;  // an undefined tensor: defined() is false

    bool defined() const { return storage_ != nullptr; }
    uint64_t id() const { return id_; }
    const Shape& shape() const { return shape_; }
    DType dtype() const { return dtype_; }
    Device device() const { return storage_->device; }
    int dim() const { return shape_.rank; }
    int64_t size(int i) const { return shape_[i]; }
    int64_t numel() const { return shape_.numel(); }
    int64_t cols() const { return shape_.rank ? shape_[-1] : 1; }  // the last dimension
    int64_t rows() const { return cols() ? numel() / cols() : 0; }  // everything before it
    size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

    void* raw() const { return static_cast<char*>(storage_->data) + offset_ * dtype_size(dtype_); }
    template <typename T> T* data() const {
        if (dtype_of<T>() != dtype_)
            fail("tensor: read as {} but holds {} {}", dtype_name(dtype_of<T>()), dtype_name(dtype_), shape_);
        return static_cast<T*>(raw());
    }

    // Same storage, another shape with the same number of elements.
    Tensor view(Shape shape) const;
    // Rows [begin, end) of the first dimension, sharing storage.
    Tensor rows(int64_t begin, int64_t end) const;
    // "f32 [4, 8]" for error messages.
    std::string describe() const;

    // Tensors made by the factories below.
    friend Tensor empty_in(Allocator& allocator, Shape shape, DType dtype, Device device);
    friend Tensor wrap(void* data, Shape shape, DType dtype, Device device);

private:
    std::shared_ptr<Storage> storage_;
    int64_t offset_ = 0;  // in elements
    Shape shape_;
    DType dtype_ = DType::f32;
    uint64_t id_ = 0;
};

Tensor empty(Shape shape, DType dtype = DType::f32, Device device = Device::cpu);
// The same from another allocator than the device's own (the CUDA backend's page-locked host
// memory for offloaded activations and communication staging).
Tensor empty_in(Allocator& allocator, Shape shape, DType dtype, Device device);
Tensor empty_like(const Tensor& like);
Tensor zeros(Shape shape, DType dtype = DType::f32, Device device = Device::cpu);
Tensor zeros_like(const Tensor& like);
// A tensor over memory owned elsewhere (for example an mmap'd checkpoint); nothing is freed.
Tensor wrap(void* data, Shape shape, DType dtype, Device device = Device::cpu);

// Host helpers for tests, loaders and small setup work.
template <typename T> Tensor from_vector(const std::vector<T>& values, Shape shape) {
    if (static_cast<int64_t>(values.size()) != shape.numel())
        fail("from_vector: {} values for shape {}", values.size(), shape);
    Tensor t = empty(shape, dtype_of<T>());
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
}
template <typename T> std::vector<T> to_vector(const Tensor& t) {
    const T* p = t.data<T>();
    return std::vector<T>(p, p + t.numel());
}

uint64_t next_tensor_id();

}  // namespace ringlm
