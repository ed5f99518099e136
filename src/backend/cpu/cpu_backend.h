// The CPU backend: ringlm's packed GEMM or OpenBLAS for GEMM (gemm.cpp), OpenMP loops for
// everything else. Each kernel lives in the file named after it (rmsnorm.cpp,
// attention_block.cpp, ...), mirrored by cuda/*.cu.
#pragma once

#include "backend/backend.h"

#include <algorithm>

namespace ringlm {

class CpuBackend final : public Backend {
public:
    const char* name() const override { return "cpu"; }
    void copy(Tensor& dst, const Tensor& src) override;
    void fill(Tensor& x, double value) override;
    void gemm(Tensor& c, const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, double alpha,
              double beta) override;
    void add(Tensor& out, const Tensor& a, const Tensor& b) override;
    void mul(Tensor& out, const Tensor& a, const Tensor& b) override;
    void axpy(Tensor& y, const Tensor& x, double alpha) override;
    void add_bias(Tensor& y, const Tensor& b) override;
    void sum_rows(Tensor& db, const Tensor& dy) override;
    void scale(Tensor& x, double alpha) override;
    double sum(const Tensor& x) override;
    double dot(const Tensor& a, const Tensor& b) override;
    void sum_to(Tensor& total, const Tensor& x) override;
    void dot_to(Tensor& total, const Tensor& a, const Tensor& b) override;
    void add_scalar(Tensor& y, const Tensor& s) override;
    void rmsnorm_forward(Tensor& y, Tensor& inv_rms, const Tensor& x, const Tensor& w, double eps) override;
    void rmsnorm_backward(Tensor& dx, Tensor& dw, const Tensor& dy, const Tensor& x, const Tensor& w,
                          const Tensor& inv_rms) override;
    void rope_forward(Tensor& y, const Tensor& x, const Tensor& position_ids, const Tensor& inverse_frequency,
                      double scale) override;
    void rope_backward(Tensor& dx, const Tensor& dy, const Tensor& position_ids, const Tensor& inverse_frequency,
                       double scale) override;
    void swiglu_forward(Tensor& out, const Tensor& gate, const Tensor& up) override;
    void swiglu_backward(Tensor& dgate, Tensor& dup, const Tensor& dout, const Tensor& gate,
                         const Tensor& up) override;
    void embedding_forward(Tensor& out, const Tensor& table, const Tensor& ids) override;
    void embedding_backward(Tensor& dtable, const Tensor& dout, const Tensor& ids) override;
    void softmax_forward(Tensor& y, const Tensor& x) override;
    void softmax_backward(Tensor& dx, const Tensor& dy, const Tensor& y) override;
    void cross_entropy_forward(Tensor& losses, Tensor& lse, const Tensor& logits, const Tensor& labels) override;
    void cross_entropy_backward(Tensor& dlogits, const Tensor& logits, const Tensor& lse, const Tensor& labels,
                                const Tensor& dlosses) override;
    void attention_block_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v,
                                 const AttentionMask& mask, double scale) override;
    void attention_merge(Tensor& out, Tensor& lse, const Tensor& out_block, const Tensor& lse_block) override;
    void attention_block_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q,
                                  const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                                  const AttentionMask& mask, double scale) override;
    // columns.cpp
    void gather_columns(Tensor& dst, const Tensor& src, int64_t begin) override;
    void scatter_add_columns(Tensor& dst, const Tensor& src, int64_t begin) override;
    Tensor offload(const Tensor& x) override;
    Tensor restore(const Tensor& offloaded) override;
    Tensor empty_staging(Shape shape, DType dtype) override;
    void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& step) override;
};

CpuBackend& cpu_backend();

// Scratch memory from the caching allocator, held by `holder` until it is reassigned or goes
// out of scope, so steady-state training allocates nothing.
template <typename T>
T* cpu_scratch(Tensor& holder, int64_t count) {
    holder = empty({std::max<int64_t>(count, 1)}, dtype_of<T>());
    return holder.data<T>();
}

// Run `body` with T = float or double according to `dtype` (the two floating types the CPU
// kernels compute in). Any other dtype is an error naming the kernel.
template <typename Body>
void dispatch_floating(const char* kernel, DType dtype, Body&& body) {
    if (dtype == DType::f32) {
        body(float{});
    } else if (dtype == DType::f64) {
        body(double{});
    } else {
        fail("{}: the cpu backend computes in f32 or f64, got {}", kernel, dtype_name(dtype));
    }
}

}  // namespace ringlm
