// CPU copy (with dtype conversion) and fill, and the backend singleton.
#include "backend/cpu/cpu_backend.h"

#include <cstring>

namespace ringlm {

CpuBackend& cpu_backend() {
    static CpuBackend backend;
    return backend;
}

namespace {

template <typename T> double load(const void* p, int64_t i) {
    if constexpr (std::is_same_v<T, bfloat16>) {
        return from_bfloat16(static_cast<const bfloat16*>(p)[i]);
    } else {
        return static_cast<double>(static_cast<const T*>(p)[i]);
    }
}

template <typename T> void store(void* p, int64_t i, double value) {
    if constexpr (std::is_same_v<T, bfloat16>) {
        static_cast<bfloat16*>(p)[i] = to_bfloat16(static_cast<float>(value));
    } else {
        static_cast<T*>(p)[i] = static_cast<T>(value);
    }
}

template <typename Body> void dispatch_any(DType dtype, Body&& body) {
    switch (dtype) {
        case DType::f32: return body(float{});
        case DType::f64: return body(double{});
        case DType::bf16: return body(bfloat16{});
        case DType::i32: return body(int32_t{});
        case DType::i64: return body(int64_t{});
        case DType::f16: fail("cpu backend: f16 is a CUDA storage type only");
    }
}

}  // namespace

void CpuBackend::copy(Tensor& dst, const Tensor& src) {
    if (dst.numel() != src.numel()) fail("copy: {} into {}", src.describe(), dst.describe());
    if (dst.device() != Device::cpu || src.device() != Device::cpu)
        fail("copy: the cpu backend copies host tensors only ({} -> {})", device_name(src.device()),
             device_name(dst.device()));
    if (dst.dtype() == src.dtype()) {
        std::memcpy(dst.raw(), src.raw(), src.bytes());
        return;
    }
    const int64_t n = src.numel();
    dispatch_any(src.dtype(), [&]<typename S>(S) {
        dispatch_any(dst.dtype(), [&]<typename D>(D) {
            const void* s = src.raw();
            void* d = dst.raw();
#pragma omp parallel for schedule(static) if (n > 65536)
            for (int64_t i = 0; i < n; i++) store<D>(d, i, load<S>(s, i));
        });
    });
}

// On the host, offloading is a copy (the layer input's own memory can then be freed).
Tensor CpuBackend::offload(const Tensor& x) {
    Tensor host = empty_like(x);
    copy(host, x);
    return host;
}

Tensor CpuBackend::restore(const Tensor& offloaded) { return offload(offloaded); }

Tensor CpuBackend::empty_staging(Shape shape, DType dtype) { return empty(shape, dtype, Device::cpu); }

void CpuBackend::fill(Tensor& x, double value) {
    const int64_t n = x.numel();
    dispatch_any(x.dtype(), [&]<typename T>(T) {
        void* p = x.raw();
        for (int64_t i = 0; i < n; i++) store<T>(p, i, value);
    });
}

}  // namespace ringlm
