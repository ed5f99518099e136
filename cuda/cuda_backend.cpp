// CudaBackend: device and dtype checks, then the launchers of cuda/*.cu. Shapes are checked
// by the ops (src/ops), as for the CPU backend; here only what the GPU side adds: every
// operand on the device, dtypes the kernels compute in.
#include "cuda_backend.h"

#include "backend/cpu/cpu_backend.h"
#include "cuda_allocator.h"
#include "cuda_check.h"
#include "cudnn_attention.h"
#include "gemm.h"
#include "kernels.h"
#include "pinned_staging.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <vector>

namespace ringlm {

namespace {

CudaBackend* the_backend = nullptr;

void require_device(const char* kernel, const Tensor& x, const char* what) {
    if (!x.defined()) fail("cuda {}: {} is undefined", kernel, what);
    if (x.device() != Device::cuda)
        fail("cuda {}: {} ({}) is on the {}, the cuda backend needs it on the device", kernel, what, x.describe(),
             device_name(x.device()));
}

float* f32(const char* kernel, const Tensor& x, const char* what) {
    require_device(kernel, x, what);
    if (x.dtype() != DType::f32)
        fail("cuda {}: {} is {}; the cuda backend computes this kernel in f32 (convert with copy first)", kernel,
             what, x.describe());
    return static_cast<float*>(x.raw());
}

const int32_t* i32(const char* kernel, const Tensor& x, const char* what) {
    require_device(kernel, x, what);
    if (x.dtype() != DType::i32) fail("cuda {}: {} is {}, expected i32", kernel, what, x.describe());
    return static_cast<const int32_t*>(x.raw());
}

const double* f64(const char* kernel, const Tensor& x, const char* what) {
    require_device(kernel, x, what);
    if (x.dtype() != DType::f64) fail("cuda {}: {} is {}, expected f64", kernel, what, x.describe());
    return static_cast<const double*>(x.raw());
}

// An operand of a kernel that reads or writes f32 or bf16 (bf16 activations; f32 math inside).
// `like`, when given, is an operand it must share its dtype with.
kernels::ActivationOut activation(const char* kernel, const Tensor& x, const char* what,
                                  const Tensor* like = nullptr) {
    require_device(kernel, x, what);
    if (x.dtype() != DType::f32 && x.dtype() != DType::bf16)
        fail("cuda {}: {} is {}; this kernel takes f32 or bf16 values", kernel, what, x.describe());
    if (like && like->dtype() != x.dtype())
        fail("cuda {}: {} is {}, but it must share the dtype of {}", kernel, what, x.describe(), like->describe());
    return {x.raw(), x.dtype()};
}
kernels::ActivationIn activation_in(const char* kernel, const Tensor& x, const char* what,
                                    const Tensor* like = nullptr) {
    const kernels::ActivationOut operand = activation(kernel, x, what, like);
    return {operand.data, operand.dtype};
}

// Device scratch from the caching allocator (no cudaMalloc in steady state), in f32 elements.
Tensor scratch(int64_t bytes) { return empty({(bytes + 3) / 4}, DType::f32, Device::cuda); }

}  // namespace

// --- setup ---------------------------------------------------------------------------------

bool cuda_backend_built() { return true; }

int cuda_device_count() {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // clear "no device" so later runtime calls do not report it
        return 0;
    }
    return count;
}

bool init_cuda_backend(int device) {
    static int initialised_device = -1;
    if (initialised_device >= 0) {
        if (device != initialised_device)
            fail("cuda backend: already running on device {}, cannot switch to device {} (one device per process)",
                 initialised_device, device);
        return true;
    }
    const int count = cuda_device_count();
    if (count == 0) return false;
    if (device < 0 || device >= count)
        fail("cuda backend: device {} asked for, but this machine has {} CUDA device(s)", device, count);
    CUDA_CHECK(cudaSetDevice(device));
    // Never destroyed: tensors freed during static destruction must still find their allocator.
    the_backend = new CudaBackend();
    initialised_device = device;
    return true;
}

cudaStream_t cuda_compute_stream() {
    if (!the_backend) fail("cuda backend: not initialised (call init_cuda_backend() first; is a GPU present?)");
    return the_backend->stream();
}

CudaBackend::CudaBackend() {
    CUDA_CHECK(cudaStreamCreate(&stream_));  // a blocking stream: it also orders against the legacy default stream
    allocator_ = std::make_unique<CudaAllocator>(stream_);
    staging_ = std::make_unique<PinnedStaging>(stream_, 16);
    offload_memory_ = std::make_unique<PinnedHostAllocator>(
        "offloaded checkpoints need that much (gradient_checkpointing: true keeps them on the device)");
    staging_memory_ = std::make_unique<PinnedHostAllocator>(
        "the MPI transport stages device tensors through it (transport: nccl, a GPU per rank, needs none)");
    register_allocator(Device::cuda, allocator_.get());
    gemm_ = std::make_unique<kernels::LtGemm>();
    reduction_scratch_ = empty({kernels::reduction_blocks + 1}, DType::f64, Device::cuda);
    if (const char* choice = std::getenv("RINGLM_ATTENTION"))
        attention_kernel_ = parse_attention_kernel(choice, "environment RINGLM_ATTENTION");
    register_backend(Device::cuda, this);
}

CudaBackend::~CudaBackend() = default;

AttentionKernel parse_attention_kernel(const std::string& name, const char* where) {
    if (name == "tiled") return AttentionKernel::tiled;
    if (name == "tensor") return AttentionKernel::tensor;
    if (name == "cudnn") return AttentionKernel::cudnn;
    if (name == "auto") return AttentionKernel::automatic;
    fail("{}: attention kernel '{}' is not one of tiled, tensor, cudnn, auto", where, name);
}

CudnnAttention& CudaBackend::cudnn_attention() {
    if (!cudnn_attention_) cudnn_attention_ = std::make_unique<CudnnAttention>(stream_);
    return *cudnn_attention_;
}

// --- memory --------------------------------------------------------------------------------

void CudaBackend::copy(Tensor& dst, const Tensor& src) {
    if (dst.numel() != src.numel()) fail("cuda copy: {} into {}", src.describe(), dst.describe());
    const bool host_src = src.device() == Device::cpu, host_dst = dst.device() == Device::cpu;
    if (host_src && host_dst) return cpu_backend().copy(dst, src);
    if (dst.dtype() == src.dtype()) {
        if (host_src && src.bytes() <= PinnedStaging::max_bytes)
            return staging_->copy_to_device(dst.raw(), src.raw(), src.bytes());
        CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.bytes(), cudaMemcpyDefault, stream_));
        if (host_src || host_dst) kernels::wait_for_stream(stream_);
        return;
    }
    if (!host_src && !host_dst) return kernels::convert(dst.raw(), dst.dtype(), src.raw(), src.dtype(), src.numel(), stream_);
    // Across host and device with a dtype change: convert on the host side, copy unchanged.
    if (host_src) {
        Tensor converted = empty(src.shape(), dst.dtype(), Device::cpu);
        cpu_backend().copy(converted, src);
        CUDA_CHECK(cudaMemcpyAsync(dst.raw(), converted.raw(), converted.bytes(), cudaMemcpyHostToDevice, stream_));
        kernels::wait_for_stream(stream_);  // `converted` dies at the end of this scope
    } else {
        Tensor fetched = empty(src.shape(), src.dtype(), Device::cpu);
        CUDA_CHECK(cudaMemcpyAsync(fetched.raw(), src.raw(), src.bytes(), cudaMemcpyDeviceToHost, stream_));
        kernels::wait_for_stream(stream_);
        cpu_backend().copy(dst, fetched);
    }
}

void CudaBackend::fill(Tensor& x, double value) {
    if (x.device() == Device::cpu) return cpu_backend().fill(x, value);
    kernels::fill(x.raw(), x.dtype(), x.numel(), value, stream_);
}

// --- matrix multiply -----------------------------------------------------------------------

void CudaBackend::gemm(Tensor& c, const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, double alpha,
                       double beta) {
    require_device("gemm", a, "a");
    require_device("gemm", b, "b");
    require_device("gemm", c, "c");
    const bool ab_ok = a.dtype() == b.dtype() && (a.dtype() == DType::f32 || a.dtype() == DType::bf16);
    const bool c_ok = c.dtype() == DType::f32 || (c.dtype() == DType::bf16 && a.dtype() == DType::bf16);
    if (!ab_ok || !c_ok)
        fail("cuda gemm: a {}, b {}, c {}: the cuda gemm takes f32 a, b, c, or bf16 a, b with f32 or bf16 c",
             a.describe(), b.describe(), c.describe());
    kernels::GemmCall call;
    call.ab_dtype = a.dtype();
    call.c_dtype = c.dtype();
    call.transpose_a = transpose_a;
    call.transpose_b = transpose_b;
    call.M = transpose_a ? a.size(-1) : a.size(-2);
    call.K = transpose_a ? a.size(-2) : a.size(-1);
    call.N = transpose_b ? b.size(-2) : b.size(-1);
    call.alpha = static_cast<float>(alpha);
    call.beta = static_cast<float>(beta);
    call.a = a.raw();
    call.b = b.raw();
    call.c = c.raw();
    const int64_t batch = a.dim() == 3 ? a.size(0) : 1;
    const bool shared_b = a.dim() == 3 && b.dim() == 2;
    if (!shared_b) {
        call.batch = batch;
        call.stride_a = call.M * call.K;
        call.stride_b = call.K * call.N;
        call.stride_c = call.M * call.N;
        return gemm_->run(call, stream_);
    }
    if (!transpose_a) {
        // A shared B with row-major A [batch, M, K]: one GEMM of [batch*M, K] @ B.
        call.M *= batch;
        return gemm_->run(call, stream_);
    }
    // A^T per batch with a shared B: one GEMM per batch entry.
    const size_t a_bytes = dtype_size(a.dtype()) * call.M * call.K, c_bytes = dtype_size(c.dtype()) * call.M * call.N;
    for (int64_t i = 0; i < batch; i++) {
        kernels::GemmCall one = call;
        one.a = static_cast<const char*>(a.raw()) + i * a_bytes;
        one.c = static_cast<char*>(c.raw()) + i * c_bytes;
        gemm_->run(one, stream_);
    }
}

// --- elementwise and reductions ------------------------------------------------------------

void CudaBackend::add(Tensor& out, const Tensor& a, const Tensor& b) {
    kernels::add(activation("add", out, "out"), activation_in("add", a, "a"), activation_in("add", b, "b"), a.numel(),
                 stream_);
}

void CudaBackend::add_bias(Tensor& y, const Tensor& b) {
    kernels::add_bias(activation("add_bias", y, "y"), f32("add_bias", b, "b"), y.size(0), y.size(1), stream_);
}

void CudaBackend::sum_rows(Tensor& db, const Tensor& dy) {
    kernels::sum_rows(f32("sum_rows", db, "db"), f32("sum_rows", dy, "dy"), dy.size(0), dy.size(1), stream_);
}

void CudaBackend::mul(Tensor& out, const Tensor& a, const Tensor& b) {
    kernels::mul(f32("mul", out, "out"), f32("mul", a, "a"), f32("mul", b, "b"), a.numel(), stream_);
}

void CudaBackend::axpy(Tensor& y, const Tensor& x, double alpha) {
    kernels::axpy(f32("axpy", y, "y"), f32("axpy", x, "x"), static_cast<float>(alpha), y.numel(), stream_);
}

void CudaBackend::scale(Tensor& x, double alpha) {
    kernels::scale(f32("scale", x, "x"), static_cast<float>(alpha), x.numel(), stream_);
}

double CudaBackend::sum(const Tensor& x) {
    return kernels::sum_product(f32("sum", x, "x"), nullptr, x.numel(), reduction_scratch_.data<double>(), stream_);
}

void CudaBackend::sum_to(Tensor& total, const Tensor& x) {
    double* scratch = reduction_scratch_.data<double>();
    kernels::sum_product_on_device(f32("sum_to", x, "x"), nullptr, x.numel(), scratch, stream_);
    // the f64 sum into total's dtype, on the stream (the next reduction reuses the scratch after it)
    kernels::convert(total.raw(), total.dtype(), scratch + kernels::reduction_blocks, DType::f64, 1, stream_);
}

void CudaBackend::dot_to(Tensor& total, const Tensor& a, const Tensor& b) {
    require_device("dot_to", total, "total");
    double* scratch = reduction_scratch_.data<double>();
    kernels::sum_product_on_device(f32("dot_to", a, "a"), f32("dot_to", b, "b"), a.numel(), scratch, stream_);
    kernels::convert(total.raw(), total.dtype(), scratch + kernels::reduction_blocks, DType::f64, 1, stream_);
}

void CudaBackend::add_scalar(Tensor& y, const Tensor& s) {
    kernels::add_scalar(f32("add_scalar", y, "y"), f32("add_scalar", s, "s"), y.numel(), stream_);
}

double CudaBackend::dot(const Tensor& a, const Tensor& b) {
    return kernels::sum_product(f32("dot", a, "a"), f32("dot", b, "b"), a.numel(), reduction_scratch_.data<double>(),
                                stream_);
}

// --- normalisation, rotary, activation, embedding, softmax, loss ---------------------------

void CudaBackend::rmsnorm_forward(Tensor& y, Tensor& inv_rms, const Tensor& x, const Tensor& w, double eps) {
    const char* kernel = "rmsnorm_forward";
    kernels::rmsnorm_forward(activation(kernel, y, "y"), f32(kernel, inv_rms, "inv_rms"), activation_in(kernel, x, "x"),
                             f32(kernel, w, "w"), x.rows(), x.cols(), static_cast<float>(eps), stream_);
}

void CudaBackend::rmsnorm_backward(Tensor& dx, Tensor& dw, const Tensor& dy, const Tensor& x, const Tensor& w,
                                   const Tensor& inv_rms) {
    const char* kernel = "rmsnorm_backward";
    Tensor partial = scratch(4 * kernels::rmsnorm_backward_scratch(x.rows(), x.cols()));
    kernels::rmsnorm_backward(f32(kernel, dx, "dx"), f32(kernel, dw, "dw"), f32(kernel, dy, "dy"),
                              activation_in(kernel, x, "x"),
                              f32(kernel, w, "w"), f32(kernel, inv_rms, "inv_rms"), x.rows(), x.cols(),
                              partial.data<float>(), stream_);
}

void CudaBackend::rope_forward(Tensor& y, const Tensor& x, const Tensor& position_ids,
                               const Tensor& inverse_frequency, double scale) {
    const char* kernel = "rope_forward";
    kernels::rope(activation(kernel, y, "y", &x), activation_in(kernel, x, "x"), i32(kernel, position_ids, "position_ids"),
                  x.size(0),
                  x.size(1), x.size(2), f64(kernel, inverse_frequency, "inverse_frequency"), scale, +1, stream_);
}

void CudaBackend::rope_backward(Tensor& dx, const Tensor& dy, const Tensor& position_ids,
                                const Tensor& inverse_frequency, double scale) {
    const char* kernel = "rope_backward";
    kernels::rope({f32(kernel, dx, "dx"), DType::f32}, {f32(kernel, dy, "dy"), DType::f32},
                  i32(kernel, position_ids, "position_ids"), dy.size(0),
                  dy.size(1), dy.size(2), f64(kernel, inverse_frequency, "inverse_frequency"), scale, -1, stream_);
}

void CudaBackend::swiglu_forward(Tensor& out, const Tensor& gate, const Tensor& up) {
    const char* kernel = "swiglu_forward";
    kernels::swiglu_forward(activation(kernel, out, "out", &gate), activation_in(kernel, gate, "gate"),
                            activation_in(kernel, up, "up", &gate), gate.numel(), stream_);
}

void CudaBackend::swiglu_backward(Tensor& dgate, Tensor& dup, const Tensor& dout, const Tensor& gate,
                                  const Tensor& up) {
    const char* kernel = "swiglu_backward";
    kernels::swiglu_backward(f32(kernel, dgate, "dgate"), f32(kernel, dup, "dup"), f32(kernel, dout, "dout"),
                             activation_in(kernel, gate, "gate"), activation_in(kernel, up, "up", &gate), gate.numel(),
                             stream_);
}

void CudaBackend::embedding_forward(Tensor& out, const Tensor& table, const Tensor& ids) {
    const char* kernel = "embedding_forward";
    kernels::embedding_forward(f32(kernel, out, "out"), f32(kernel, table, "table"), i32(kernel, ids, "ids"),
                               ids.numel(), table.cols(), stream_);
}

// The tokens are grouped by id on the device (kernels.h), so the host does not wait. The ids
// were checked against the table's rows by the embedding op (from the batch's known range).
void CudaBackend::embedding_backward(Tensor& dtable, const Tensor& dout, const Tensor& ids) {
    const char* kernel = "embedding_backward";
    const int64_t T = ids.numel(), V = dtable.size(0);
    if (T > INT32_MAX) fail("cuda embedding_backward: {} tokens exceed the sort's int count", T);
    Tensor work = scratch(kernels::embedding_backward_scratch_bytes(T, V));
    kernels::embedding_backward(f32(kernel, dtable, "dtable"), f32(kernel, dout, "dout"), i32(kernel, ids, "ids"), T,
                                V, dtable.cols(), work.raw(), stream_);
}

void CudaBackend::softmax_forward(Tensor& y, const Tensor& x) {
    kernels::softmax_forward(f32("softmax_forward", y, "y"), f32("softmax_forward", x, "x"), x.rows(), x.cols(),
                             stream_);
}

void CudaBackend::softmax_backward(Tensor& dx, const Tensor& dy, const Tensor& y) {
    const char* kernel = "softmax_backward";
    kernels::softmax_backward(f32(kernel, dx, "dx"), f32(kernel, dy, "dy"), f32(kernel, y, "y"), y.rows(), y.cols(),
                              stream_);
}

void CudaBackend::cross_entropy_forward(Tensor& losses, Tensor& lse, const Tensor& logits, const Tensor& labels) {
    const char* kernel = "cross_entropy_forward";
    kernels::cross_entropy_forward(f32(kernel, losses, "losses"), f32(kernel, lse, "lse"), f32(kernel, logits, "logits"),
                                   i32(kernel, labels, "labels"), logits.rows(), logits.cols(), stream_);
}

void CudaBackend::cross_entropy_backward(Tensor& dlogits, const Tensor& logits, const Tensor& lse, const Tensor& labels,
                                         const Tensor& dlosses) {
    const char* kernel = "cross_entropy_backward";
    kernels::cross_entropy_backward(f32(kernel, dlogits, "dlogits"), f32(kernel, logits, "logits"),
                                    f32(kernel, lse, "lse"), i32(kernel, labels, "labels"),
                                    f32(kernel, dlosses, "dlosses"), logits.rows(), logits.cols(), stream_);
}

// --- attention -----------------------------------------------------------------------------

namespace {

kernels::AttentionArgs attention_args(const char* kernel, const Tensor& q, const Tensor& k, const AttentionMask& mask,
                                      double scale) {
    kernels::AttentionArgs args;
    args.Tq = q.size(0);
    args.H = q.size(1);
    args.D = q.size(2);
    args.Tk = k.size(0);
    args.Hkv = k.size(1);
    args.causal = mask.causal;
    args.scale = static_cast<float>(scale);
    if (args.D > kernels::attention_max_head_dim)
        fail("cuda {}: head dimension {} exceeds the cuda kernel's maximum of {}", kernel, args.D,
             kernels::attention_max_head_dim);
    if (args.Hkv == 0 || args.H % args.Hkv != 0)
        fail("cuda {}: {} query heads do not divide into {} KV heads", kernel, args.H, args.Hkv);
    args.q_index = i32(kernel, mask.q_index, "mask.q_index");
    args.q_segment = i32(kernel, mask.q_segment, "mask.q_segment");
    args.k_index = i32(kernel, mask.k_index, "mask.k_index");
    args.k_segment = i32(kernel, mask.k_segment, "mask.k_segment");
    return args;
}

}  // namespace

// `tensor` needs bf16 mma.sync (compute capability 8.0 or later, checked once) and, per head
// dim, the shared memory its kernels take a block: both refused before any launch.
kernels::AttentionCores CudaBackend::attention_cores(int64_t D) {
    if (attention_kernel_ != AttentionKernel::tensor) return kernels::AttentionCores::cuda_f32;
    int device = 0;
    if (tensor_core_shared_limit_ == 0) {
        int major = 0, minor = 0, shared_limit = 0;
        CUDA_CHECK(cudaGetDevice(&device));
        CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
        CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
        if (major < 8)
            fail("cuda attention: the tensor-core kernel (RINGLM_ATTENTION=tensor) needs bf16 tensor cores "
                 "(compute capability 8.0 or later); GPU {} has {}.{}: use tiled",
                 device, major, minor);
        CUDA_CHECK(cudaDeviceGetAttribute(&shared_limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
        tensor_core_shared_limit_ = shared_limit;
    }
    const int64_t needed = kernels::tensor_core_attention_shared_bytes(D);
    if (needed > tensor_core_shared_limit_) {
        CUDA_CHECK(cudaGetDevice(&device));
        fail("cuda attention: the tensor-core kernel (RINGLM_ATTENTION=tensor) at head dim {} needs {} bytes of "
             "shared memory a block; GPU {} allows {}: use tiled",
             D, needed, device, tensor_core_shared_limit_);
    }
    return kernels::AttentionCores::tensor_bf16;
}

// cuDNN where attention_kernel_ allows it and the case is one cuDNN serves (cudnn_attention.h):
// `run` computes the call with it (causal: the diagonal block's mask). With `auto`, a graph
// cuDNN refuses, or a cuDNN that cannot start (cudnnCreate fails: a missing engine library,
// a driver too old), is reported once and left to the tiled kernel. True when cuDNN computed it.
bool CudaBackend::try_cudnn_attention(const Tensor& q, const Tensor& k, const AttentionMask& mask,
                                      const std::function<void(CudnnAttention&, bool causal)>& run) {
    if (attention_kernel_ == AttentionKernel::tiled || attention_kernel_ == AttentionKernel::tensor) return false;
    try {
        CudnnAttention& cudnn = cudnn_attention();
        bool causal = false;
        if (!cudnn.unsupported_reason(q, k, mask, &causal).empty()) return false;
        run(cudnn, causal);
        return true;
    } catch (const Error& error) {
        if (attention_kernel_ == AttentionKernel::cudnn) throw;
        if (!cudnn_fallback_reported_)
            std::fprintf(stderr, "ringlm: warning: %s; using the tiled attention kernel instead\n", error.what());
        cudnn_fallback_reported_ = true;
        // no handle: every later call would retry cudnnCreate and fail the same way
        if (!cudnn_attention_) attention_kernel_ = AttentionKernel::tiled;
        return false;
    }
}

// q, k, v (and, backward, out) as the own attention kernels read them: as they are when every
// one is bf16 (bf16 activations) and the tensor cores compute, which load bf16 directly; else
// f32, bf16 ones widened into f32 scratch (the f32 kernel reads f32 only). Sets args.operands.
std::vector<Tensor> CudaBackend::attention_operands(const char* kernel, kernels::AttentionArgs& args,
                                                    kernels::AttentionCores cores,
                                                    std::initializer_list<const Tensor*> operands) {
    const auto bf16 = [](const Tensor* x) { return x->dtype() == DType::bf16; };
    const bool native =
        cores == kernels::AttentionCores::tensor_bf16 && std::all_of(operands.begin(), operands.end(), bf16);
    args.operands = native ? DType::bf16 : DType::f32;
    std::vector<Tensor> read;
    for (const Tensor* x : operands) {
        require_device(kernel, *x, "an attention operand");
        if (!native && bf16(x)) attention_operands_widened_++;
        read.push_back(native ? *x : widened(*x));
        if (!native) f32(kernel, read.back(), "an attention operand");
    }
    return read;
}

void CudaBackend::attention_block_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v,
                                          const AttentionMask& mask, double scale) {
    const char* kernel = "attention_block_forward";
    if (try_cudnn_attention(q, k, mask, [&](CudnnAttention& cudnn, bool causal) {
            cudnn.forward(out, lse, q, k, v, causal, scale);  // reads bf16 as it is
        }))
        return;
    // The own kernels write out in f32: a bf16 out (bf16 activations) is rounded from f32 scratch,
    // an O(T) conversion beside the O(T^2) attention.
    kernels::AttentionArgs args = attention_args(kernel, q, k, mask, scale);
    const kernels::AttentionCores cores = attention_cores(args.D);
    const std::vector<Tensor> read = attention_operands(kernel, args, cores, {&q, &k, &v});
    Tensor work = scratch(kernels::attention_scratch_bytes(args, false));
    Tensor out_f32 = f32_output(out);
    kernels::attention_block_forward(f32(kernel, out_f32, "out"), f32(kernel, lse, "lse"), read[0].raw(), read[1].raw(),
                                     read[2].raw(), args, cores, work.raw(), stream_);
    narrow_into(out, out_f32);
}

void CudaBackend::attention_merge(Tensor& out, Tensor& lse, const Tensor& out_block, const Tensor& lse_block) {
    const char* kernel = "attention_merge";
    kernels::attention_merge(f32(kernel, out, "out"), f32(kernel, lse, "lse"), f32(kernel, out_block, "out_block"),
                             f32(kernel, lse_block, "lse_block"), lse.numel(), out.cols(), stream_);
}

void CudaBackend::attention_block_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q,
                                           const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                                           const AttentionMask& mask, double scale) {
    const char* kernel = "attention_block_backward";
    if (try_cudnn_attention(q, k, mask, [&](CudnnAttention& cudnn, bool causal) {
            cudnn.backward(dq, dk, dv, dout, q, k, v, out, lse, causal, scale);  // reads bf16 as it is
        }))
        return;
    // as the forward (dq, dk, dv, dout and lse are f32 anyway)
    kernels::AttentionArgs args = attention_args(kernel, q, k, mask, scale);
    const kernels::AttentionCores cores = attention_cores(args.D);
    const std::vector<Tensor> read = attention_operands(kernel, args, cores, {&q, &k, &v, &out});
    Tensor work = scratch(kernels::attention_scratch_bytes(args, true));
    kernels::attention_block_backward(f32(kernel, dq, "dq"), f32(kernel, dk, "dk"), f32(kernel, dv, "dv"),
                                      f32(kernel, dout, "dout"), read[0].raw(), read[1].raw(), read[2].raw(),
                                      read[3].raw(), f32(kernel, lse, "lse"), args, cores, work.raw(), stream_);
}

// --- column slices -------------------------------------------------------------------------

void CudaBackend::gather_columns(Tensor& dst, const Tensor& src, int64_t begin) {
    const char* kernel = "gather_columns";
    kernels::gather_columns(activation(kernel, dst, "dst", &src), activation_in(kernel, src, "src"), dst.size(0),
                            dst.size(1), src.size(1), begin, stream_);
}

void CudaBackend::scatter_add_columns(Tensor& dst, const Tensor& src, int64_t begin) {
    const char* kernel = "scatter_add_columns";
    kernels::scatter_add_columns(f32(kernel, dst, "dst"), f32(kernel, src, "src"), dst.size(0), dst.size(1),
                                 src.size(1), begin, stream_);
}

// --- activation offloading ------------------------------------------------------------------

// Both copies are queued on the compute stream and neither waits: the host never reads the
// page-locked copy, the device memory x leaves behind is reused only by work queued after the
// copy out, and a pinned block is rewritten only by an offload queued after the restore that
// read it.
Tensor CudaBackend::offload(const Tensor& x) {
    require_device("offload", x, "x");
    Tensor host = empty_in(*offload_memory_, x.shape(), x.dtype(), Device::cpu);
    CUDA_CHECK(cudaMemcpyAsync(host.raw(), x.raw(), x.bytes(), cudaMemcpyDeviceToHost, stream_));
    return host;
}

Tensor CudaBackend::restore(const Tensor& offloaded) {
    Tensor x = empty(offloaded.shape(), offloaded.dtype(), Device::cuda);
    cudaPointerAttributes attributes{};
    CUDA_CHECK(cudaPointerGetAttributes(&attributes, offloaded.raw()));
    if (offloaded.device() != Device::cpu || attributes.type != cudaMemoryTypeHost) {
        copy(x, offloaded);  // not from offload(): the plain copy, which waits for pageable memory
        return x;
    }
    CUDA_CHECK(cudaMemcpyAsync(x.raw(), offloaded.raw(), offloaded.bytes(), cudaMemcpyHostToDevice, stream_));
    return x;
}

// --- communication staging -----------------------------------------------------------------

Tensor CudaBackend::empty_staging(Shape shape, DType dtype) {
    return empty_in(*staging_memory_, shape, dtype, Device::cpu);
}

// --- optimizer -----------------------------------------------------------------------------

void CudaBackend::adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& step) {
    // The optimizer calls this directly (no op in front of it), so it checks here, as the CPU does.
    const char* kernel = "adamw_update";
    auto matches_param = [&](const Tensor& t) { return t.shape() == param.shape() && t.dtype() == param.dtype(); };
    if (!matches_param(grad) || !matches_param(m) || !matches_param(v))
        fail("cuda adamw_update: param {}, grad {}, m {}, v {} must share one shape and dtype", param.describe(),
             grad.describe(), m.describe(), v.describe());
    if (step.step < 1)
        fail("cuda adamw_update: step {} must count from 1 (the bias correction divides by 1-b^t)", step.step);
    kernels::AdamWArgs args{};
    args.learning_rate = step.learning_rate;
    args.beta1 = step.beta1;
    args.beta2 = step.beta2;
    args.eps = step.eps;
    args.weight_decay = step.weight_decay;
    args.grad_scale = step.grad_scale;
    args.bias_correction1 = 1.0 - std::pow(args.beta1, static_cast<double>(step.step));
    args.bias_correction2 = 1.0 - std::pow(args.beta2, static_cast<double>(step.step));
    args.gradient_sum_squares = step.gradient_sum_squares.defined()
                                    ? f64(kernel, step.gradient_sum_squares, "gradient_sum_squares")
                                    : nullptr;
    args.max_grad_norm = step.max_grad_norm;
    args.gradient_divisor = step.gradient_divisor;
    kernels::adamw_update(f32(kernel, param, "param"), f32(kernel, grad, "grad"), f32(kernel, m, "m"),
                          f32(kernel, v, "v"), param.numel(), args, stream_);
}

}  // namespace ringlm
