// The CUDA backend: the Backend interface (src/backend/backend.h) on Device::cuda tensors.
// Kernels compute in f32 (GEMM also takes bf16 operands, copy converts f32 <-> f64 <-> bf16);
// everything runs in order on one compute stream, so only calls that return a host value
// (sum, dot) or read device memory into the host (copy) wait for the device; small host ->
// device copies go through pinned staging (pinned_staging.h) and do not.
//
// Each Backend call here checks its operands' device and dtype, then calls the kernel's
// launcher in cuda/<kernel>.cu (declared in kernels.h).
#pragma once

#include "backend/backend.h"
#include "backend/cuda_runtime.h"

#include <cuda_runtime.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace ringlm {

class CudaAllocator;
class PinnedHostAllocator;
class CudnnAttention;
class PinnedStaging;
namespace kernels {
class LtGemm;
enum class AttentionCores;
struct AttentionArgs;
}

// Which kernel computes attention_block_forward/_backward (environment RINGLM_ATTENTION):
// - tiled: always the own f32 kernel (attention_block*.cu), 1e-5 agreement with the CPU;
// - tensor: always the own bf16 tensor-core kernel (attention_tensor_core.cu), every mask and
//   layout the tiled kernel serves, bf16 accuracy (about 1e-2 relative);
// - cudnn: cuDNN's fused flash attention (bf16 inputs, cudnn_attention.h) for the blocks it
//   serves, the tiled kernel for the rest; a cuDNN failure is an error;
// - auto: as cudnn, but a graph cuDNN cannot build falls back to the tiled kernel (one warning),
//   and a cuDNN that cannot start (cudnnCreate fails) turns the kernel to tiled for good.
// The default is tiled until tests/gpu/check.sh has verified the tensor and cuDNN rows on a
// GPU; then auto (cuDNN where it serves and is faster, tensor for the rest) is the intended
// default.
enum class AttentionKernel { tiled, tensor, cudnn, automatic };
// Parses "tiled", "tensor", "cudnn", "auto"; throws for anything else, naming `where`.
AttentionKernel parse_attention_kernel(const std::string& name, const char* where);

// cuda_device_count, init_cuda_backend: backend/cuda_runtime.h.
// The stream every CUDA kernel runs on (for timing with events). init_cuda_backend() first.
cudaStream_t cuda_compute_stream();

class CudaBackend final : public Backend {
public:
    CudaBackend();
    ~CudaBackend() override;
    const char* name() const override { return "cuda"; }
    cudaStream_t stream() const { return stream_; }
    AttentionKernel attention_kernel() const { return attention_kernel_; }
    // bf16 attention operands the own kernels have read as widened f32 copies, since start (the
    // tensor cores read bf16 as it is: the GPU check counts that none were copied for them).
    int64_t attention_operands_widened() const { return attention_operands_widened_; }
    void set_attention_kernel(AttentionKernel kernel) { attention_kernel_ = kernel; }
    // Made on first use (cudnnCreate loads cuDNN; a tiled-only run never does).
    CudnnAttention& cudnn_attention();

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
    // columns.cu
    void gather_columns(Tensor& dst, const Tensor& src, int64_t begin) override;
    void scatter_add_columns(Tensor& dst, const Tensor& src, int64_t begin) override;
    Tensor offload(const Tensor& x) override;
    Tensor restore(const Tensor& offloaded) override;
    Tensor empty_staging(Shape shape, DType dtype) override;
    void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& step) override;

private:
    cudaStream_t stream_ = nullptr;
    std::unique_ptr<CudaAllocator> allocator_;
    std::unique_ptr<PinnedStaging> staging_;  // small host -> device copies without a wait
    std::unique_ptr<PinnedHostAllocator> offload_memory_;  // offloaded activations
    // the MPI transport's staging: apart from offload_memory_, whose blocks asynchronous copies
    // may still read when they return to its cache; every staging copy has finished by then
    std::unique_ptr<PinnedHostAllocator> staging_memory_;
    std::unique_ptr<kernels::LtGemm> gemm_;
    Tensor reduction_scratch_;  // f64 [kernels::reduction_blocks + 1] for sum and dot
    std::unique_ptr<CudnnAttention> cudnn_attention_;
    AttentionKernel attention_kernel_ = AttentionKernel::tiled;
    int64_t tensor_core_shared_limit_ = 0;  // shared bytes a block may opt into; 0: not yet read
    bool cudnn_fallback_reported_ = false;  // auto: the first cuDNN failure is reported once
    // The own kernel's units for the blocks cuDNN does not compute: tensor cores under `tensor`.
    kernels::AttentionCores attention_cores(int64_t D);
    std::vector<Tensor> attention_operands(const char* kernel, kernels::AttentionArgs& args,
                                           kernels::AttentionCores cores,
                                           std::initializer_list<const Tensor*> operands);
    int64_t attention_operands_widened_ = 0;
    bool try_cudnn_attention(const Tensor& q, const Tensor& k, const AttentionMask& mask,
                             const std::function<void(CudnnAttention&, bool causal)>& run);
};

}  // namespace ringlm
