// cuDNN fused attention: the forward and backward SDPA graphs (the ones cudnn_frontend's
// sdpa / sdpa_backward nodes lower to for cuDNN 9 before its unified SDPA operation), a cache
// of their execution plans per shape, and the conversions around them (cudnn_attention.h).
//
// Tensors as cuDNN sees them (batch 1; ringlm's row-major [T, heads, D] has strides
// {T*heads*D, D, heads*D, 1} over dims {1, heads, T, D}):
//   Q [1, H, Tq, D], K^T [1, Hkv, D, Tk] (K with its last two strides swapped), V [1, Hkv, Tk, D],
//   O, dO, dQ [1, H, Tq, D], dK, dV [1, Hkv, Tk, D]: bf16;  stats [1, H, Tq, 1] f32 packed;
//   scale, -inf, 1: f32 scalars passed by value.  A query head h reads KV head h / (H / Hkv):
//   cuDNN broadcasts the Hkv heads of K and V over the H heads of Q (GQA).
#include "cudnn_attention.h"

#include "cuda_check.h"
#include "cudnn_descriptors.h"
#include "kernels.h"
#include "util/error.h"

#include <cmath>
#include <limits>
#include <map>
#include <tuple>
#include <vector>

namespace ringlm {

#if RINGLM_WITH_CUDNN

namespace {

// The real tensors' unique ids (the variant pack); virtual tensors count from 1000.
enum Uid : int64_t {
    q_uid = 1, k_uid, v_uid, o_uid, stats_uid, scale_uid, negative_infinity_uid, one_uid,
    dout_uid, dq_uid, dk_uid, dv_uid, softmax_sum_uid, dq_accum_uid,
};

// Tq, Tk, H, Hkv, D, causal, backward
using PlanKey = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, bool, bool>;
using Dims = std::vector<int64_t>;
using cudnn::Descriptor;
using cudnn::GraphBuilder;
using cudnn::TensorSpec;

constexpr cudnnDataType_t bf16 = CUDNN_DATA_BFLOAT16;
constexpr cudnnDataType_t f32 = CUDNN_DATA_FLOAT;

// x [T, heads, D] as [1, heads, T, D]
TensorSpec tokens(int64_t uid, int64_t T, int64_t heads, int64_t D) {
    return {uid, {1, heads, T, D}, {T * heads * D, D, heads * D, 1}, bf16};
}

// the same tensor with its last two dimensions swapped, [1, heads, D, T] (K^T, V^T)
TensorSpec tokens_transposed(int64_t uid, int64_t T, int64_t heads, int64_t D) {
    return {uid, {1, heads, D, T}, {T * heads * D, D, 1, heads * D}, bf16};
}

// one f32 per (head, query), packed [1, H, Tq, 1]: the layout of cuDNN's softmax stats
TensorSpec per_row(int64_t uid, int64_t H, int64_t Tq) { return {uid, {1, H, Tq, 1}, {H * Tq, Tq, 1, 1}, f32}; }

TensorSpec scalar(int64_t uid) { return {uid, {1, 1, 1, 1}, {1, 1, 1, 1}, f32, false, true}; }

struct Shape4 {
    int64_t Tq, Tk, H, Hkv, D;
    bool causal;
    Dims scores() const { return {1, H, Tq, Tk}; }  // [1, H, Tq, Tk], packed
    Dims score_strides() const { return {H * Tq * Tk, Tq * Tk, Tk, 1}; }
    Dims rows() const { return {1, H, Tq, 1}; }
    Dims row_strides() const { return {H * Tq, Tq, 1, 1}; }
};

// Scores where key j > query i become -inf (cuDNN's top-left causal mask):
//   row = gen_index(axis 2), column = gen_index(axis 3), keep = row >= column,
//   masked = keep ? scores : -inf  (binary_select: x where t, else b)
const Descriptor& causal_mask(GraphBuilder& graph, const Shape4& s, const Descriptor& scores,
                              const Descriptor& negative_infinity) {
    const Descriptor& row = graph.intermediate(s.scores(), s.score_strides(), CUDNN_DATA_INT32);
    graph.pointwise(CUDNN_POINTWISE_GEN_INDEX, scores, nullptr, nullptr, row, CUDNN_DATA_INT32, 2);
    const Descriptor& column = graph.intermediate(s.scores(), s.score_strides(), CUDNN_DATA_INT32);
    graph.pointwise(CUDNN_POINTWISE_GEN_INDEX, scores, nullptr, nullptr, column, CUDNN_DATA_INT32, 3);
    const Descriptor& keep = graph.intermediate(s.scores(), s.score_strides(), CUDNN_DATA_BOOLEAN);
    graph.pointwise(CUDNN_POINTWISE_CMP_GE, row, &column, nullptr, keep, CUDNN_DATA_BOOLEAN);
    const Descriptor& masked = graph.intermediate(s.scores(), s.score_strides(), f32);
    graph.pointwise(CUDNN_POINTWISE_BINARY_SELECT, scores, &negative_infinity, &keep, masked);
    return masked;
}

// scale * q k^T (f32 [1, H, Tq, Tk]): the scores both graphs start from.
const Descriptor& scaled_scores(GraphBuilder& graph, const Shape4& s, const Descriptor& q,
                                const Descriptor& k_transposed, const Descriptor& scale) {
    const Descriptor& products = graph.intermediate(s.scores(), s.score_strides(), f32);
    graph.matmul(q, k_transposed, products);
    const Descriptor& scaled = graph.intermediate(s.scores(), s.score_strides(), f32);
    graph.pointwise(CUDNN_POINTWISE_MUL, products, &scale, nullptr, scaled);
    return scaled;
}

// s = scale * q k^T (causal: masked);  m = max_j s;  e = exp(s - m);  l = sum_j e
// stats = m + log l  (= lse, natural log, of the scaled scores);  p = e / l (bf16);  o = p v
void build_forward(GraphBuilder& graph, const Shape4& s) {
    const Descriptor& q = graph.tensor(tokens(q_uid, s.Tq, s.H, s.D));
    const Descriptor& k_transposed = graph.tensor(tokens_transposed(k_uid, s.Tk, s.Hkv, s.D));
    const Descriptor& v = graph.tensor(tokens(v_uid, s.Tk, s.Hkv, s.D));
    const Descriptor& o = graph.tensor(tokens(o_uid, s.Tq, s.H, s.D));
    const Descriptor& stats = graph.tensor(per_row(stats_uid, s.H, s.Tq));
    const Descriptor& scale = graph.tensor(scalar(scale_uid));

    const Descriptor* scores = &scaled_scores(graph, s, q, k_transposed, scale);
    if (s.causal) scores = &causal_mask(graph, s, *scores, graph.tensor(scalar(negative_infinity_uid)));

    const Descriptor& row_max = graph.intermediate(s.rows(), s.row_strides(), f32);
    graph.reduction(CUDNN_REDUCE_TENSOR_MAX, *scores, row_max);
    const Descriptor& shifted = graph.intermediate(s.scores(), s.score_strides(), f32);
    graph.pointwise(CUDNN_POINTWISE_SUB, *scores, &row_max, nullptr, shifted);
    const Descriptor& exponentials = graph.intermediate(s.scores(), s.score_strides(), f32);
    graph.pointwise(CUDNN_POINTWISE_EXP, shifted, nullptr, nullptr, exponentials);
    const Descriptor& row_sum = graph.intermediate(s.rows(), s.row_strides(), f32);
    graph.reduction(CUDNN_REDUCE_TENSOR_ADD, exponentials, row_sum);
    const Descriptor& log_sum = graph.intermediate(s.rows(), s.row_strides(), f32);
    graph.pointwise(CUDNN_POINTWISE_LOG, row_sum, nullptr, nullptr, log_sum);
    graph.pointwise(CUDNN_POINTWISE_ADD, row_max, &log_sum, nullptr, stats);
    const Descriptor& probabilities = graph.intermediate(s.scores(), s.score_strides(), bf16);
    graph.pointwise(CUDNN_POINTWISE_DIV, exponentials, &row_sum, nullptr, probabilities);
    graph.matmul(probabilities, v, o);
}

// x [1, H, T, D] summed over each group of H / Hkv query heads into y [1, Hkv, T, D] (GQA), or
// written straight to y (MHA): the product a @ b lands in y either way.
void matmul_into_kv_heads(GraphBuilder& graph, const Shape4& s, const Descriptor& a, const Descriptor& b,
                          const Descriptor& y) {
    if (s.H == s.Hkv) return graph.matmul(a, b, y);
    const Descriptor& all_heads = graph.intermediate({1, s.H, s.Tk, s.D}, {s.H * s.Tk * s.D, s.Tk * s.D, s.D, 1}, bf16);
    graph.matmul(a, b, all_heads);
    graph.reduction(CUDNN_REDUCE_TENSOR_ADD, all_heads, y);
}

// With P = exp(s - stats) (s scaled and masked as forward) and delta = sum_d dO * O:
//   dV = P^T dO;  dS = P (dO V^T - delta) scale;  dK = dS^T Q;  dQ = dS K
// delta (softmax_sum) and the f32 dQ accumulator are real tensors in scratch memory, as
// cuDNN's flash backward requires.
void build_backward(GraphBuilder& graph, const Shape4& s) {
    const Descriptor& q = graph.tensor(tokens(q_uid, s.Tq, s.H, s.D));
    const Descriptor& k_transposed = graph.tensor(tokens_transposed(k_uid, s.Tk, s.Hkv, s.D));
    const Descriptor& v_transposed = graph.tensor(tokens_transposed(v_uid, s.Tk, s.Hkv, s.D));
    const Descriptor& o = graph.tensor(tokens(o_uid, s.Tq, s.H, s.D));
    const Descriptor& dout = graph.tensor(tokens(dout_uid, s.Tq, s.H, s.D));
    const Descriptor& stats = graph.tensor(per_row(stats_uid, s.H, s.Tq));
    const Descriptor& scale = graph.tensor(scalar(scale_uid));
    const Descriptor& one = graph.tensor(scalar(one_uid));
    const Descriptor& dq = graph.tensor(tokens(dq_uid, s.Tq, s.H, s.D));
    const Descriptor& dk = graph.tensor(tokens(dk_uid, s.Tk, s.Hkv, s.D));
    const Descriptor& dv = graph.tensor(tokens(dv_uid, s.Tk, s.Hkv, s.D));
    const Descriptor& softmax_sum = graph.tensor(per_row(softmax_sum_uid, s.H, s.Tq));
    const Descriptor& dq_accumulator =
        graph.tensor({dq_accum_uid, {1, s.H, s.Tq, s.D}, {s.H * s.Tq * s.D, s.Tq * s.D, s.D, 1}, f32});
    const TensorSpec token_layout = tokens(0, s.Tq, s.H, s.D);

    // delta = sum_d dO * O
    const Descriptor& dout_o = graph.intermediate(token_layout.dims, token_layout.strides, f32);
    graph.pointwise(CUDNN_POINTWISE_MUL, dout, &o, nullptr, dout_o);
    const Descriptor& delta = graph.intermediate(s.rows(), s.row_strides(), f32);
    graph.reduction(CUDNN_REDUCE_TENSOR_ADD, dout_o, delta);
    graph.pointwise(CUDNN_POINTWISE_MUL, delta, &one, nullptr, softmax_sum);

    // P = exp(scale q k^T - stats), masked
    const Descriptor& scaled = scaled_scores(graph, s, q, k_transposed, scale);
    const Descriptor* centred = &graph.intermediate(s.scores(), s.score_strides(), f32);
    graph.pointwise(CUDNN_POINTWISE_SUB, scaled, &stats, nullptr, *centred);
    if (s.causal) centred = &causal_mask(graph, s, *centred, graph.tensor(scalar(negative_infinity_uid)));
    const Descriptor& probabilities = graph.intermediate(s.scores(), s.score_strides(), f32);
    graph.pointwise(CUDNN_POINTWISE_EXP, *centred, nullptr, nullptr, probabilities);

    // dV = P^T dO  (P^T: a reshape that swaps the strides of the last two dimensions)
    const Dims transposed_scores{1, s.H, s.Tk, s.Tq}, transposed_strides{s.H * s.Tq * s.Tk, s.Tq * s.Tk, 1, s.Tk};
    const Descriptor& probabilities_t = graph.intermediate(transposed_scores, transposed_strides, bf16);
    graph.reshape(probabilities, probabilities_t);
    matmul_into_kv_heads(graph, s, probabilities_t, dout, dv);

    // dS = P (dO V^T - delta) scale
    const Descriptor& dp = graph.intermediate(s.scores(), s.score_strides(), f32);
    graph.matmul(dout, v_transposed, dp);
    const Descriptor& dp_centred = graph.intermediate(s.scores(), s.score_strides(), f32);
    graph.pointwise(CUDNN_POINTWISE_SUB, dp, &softmax_sum, nullptr, dp_centred);
    const Descriptor& ds_unscaled = graph.intermediate(s.scores(), s.score_strides(), f32);
    graph.pointwise(CUDNN_POINTWISE_MUL, dp_centred, &probabilities, nullptr, ds_unscaled);
    const Descriptor& ds = graph.intermediate(s.scores(), s.score_strides(), f32);
    graph.pointwise(CUDNN_POINTWISE_MUL, ds_unscaled, &scale, nullptr, ds);

    // dK = dS^T Q
    const Descriptor& ds_t = graph.intermediate(transposed_scores, transposed_strides, bf16);
    graph.reshape(ds, ds_t);
    matmul_into_kv_heads(graph, s, ds_t, q, dk);

    // dQ = dS K  (K from K^T by a reshape), accumulated in f32, then converted to bf16 dQ
    const TensorSpec k_layout = tokens(0, s.Tk, s.Hkv, s.D);
    const Descriptor& k = graph.intermediate(k_layout.dims, k_layout.strides, bf16);
    graph.reshape(k_transposed, k);
    graph.matmul(ds, k, dq_accumulator);
    graph.pointwise(CUDNN_POINTWISE_IDENTITY, dq_accumulator, nullptr, nullptr, dq);
}

// x [T, heads, D] on the device as cuDNN reads it: itself when already bf16 (bf16 activations), else a bf16 copy.
Tensor to_bf16(const Tensor& x, cudaStream_t stream) {
    if (x.dtype() == DType::bf16) return x;
    Tensor converted = empty(x.shape(), DType::bf16, Device::cuda);
    kernels::convert(converted.raw(), DType::bf16, x.raw(), DType::f32, x.numel(), stream);
    return converted;
}

Tensor device_bytes(int64_t bytes) { return empty({bytes / 4 + 1}, DType::f32, Device::cuda); }

// The value masked scores take: -inf, or the lowest float before cuDNN 9.10, which
// cudnn_frontend uses there ("older cuDNN version prefers lowest for softmax mask").
float masked_score() {
    return cudnnGetVersion() < 91000 ? std::numeric_limits<float>::lowest() : -std::numeric_limits<float>::infinity();
}

}  // namespace

struct CudnnAttention::Impl {
    cudaStream_t stream = nullptr;
    cudnnHandle_t handle = nullptr;
    std::map<PlanKey, std::unique_ptr<cudnn::Plan>> plans;  // they reference the handle
    std::map<PlanKey, std::string> failures;  // graphs cuDNN refused: not rebuilt on every call
    Tensor mask_summary;                      // i32 [7] on the device
    std::string last_engine;

    // Here rather than in ~CudnnAttention, so that a constructor that throws after cudnnCreate
    // (cudnnSetStream, the mask summary's allocation) still destroys the handle.
    ~Impl() {
        plans.clear();
        if (handle) cudnnDestroy(handle);
    }

    cudnn::Plan& plan_for(const Shape4& s, bool backward) {
        const PlanKey key{s.Tq, s.Tk, s.H, s.Hkv, s.D, s.causal, backward};
        if (auto found = plans.find(key); found != plans.end()) return *found->second;
        if (auto failed = failures.find(key); failed != failures.end()) fail("{}", failed->second);
        try {
            GraphBuilder graph;
            backward ? build_backward(graph, s) : build_forward(graph, s);
            auto plan = std::make_unique<cudnn::Plan>();
            plan->graph = graph.finalize(handle);
            plan->descriptors = graph.take_descriptors();
            cudnn::choose_plan(*plan, handle);
            return *plans.emplace(key, std::move(plan)).first->second;
        } catch (const std::exception& error) {
            const std::string message =
                fmt::format("cudnn attention {} (Tq {}, Tk {}, H {}, Hkv {}, D {}, {}): {}",
                            backward ? "backward" : "forward", s.Tq, s.Tk, s.H, s.Hkv, s.D,
                            s.causal ? "causal" : "no mask", error.what());
            failures[key] = message;
            fail("{}", message);
        }
    }

    void run(const cudnn::Plan& plan, const std::vector<int64_t>& uids, const std::vector<void*>& pointers) {
        Tensor workspace = plan.workspace_bytes > 0 ? device_bytes(plan.workspace_bytes) : Tensor();
        cudnn::execute(handle, plan, uids, pointers, workspace.defined() ? workspace.raw() : nullptr);
        last_engine = plan.engine;
    }
};

CudnnAttention::CudnnAttention(cudaStream_t stream) : impl_(std::make_unique<Impl>()) {
    impl_->stream = stream;
    cudnn::check(cudnnCreate(&impl_->handle), "cudnnCreate");
    cudnn::check(cudnnSetStream(impl_->handle, stream), "cudnnSetStream");
    impl_->mask_summary = empty({7}, DType::i32, Device::cuda);
}

bool CudnnAttention::built_with_cudnn() { return true; }

std::string CudnnAttention::unsupported_reason(const Tensor& q, const Tensor& k, const AttentionMask& mask,
                                               bool* causal) {
    const int64_t Tq = q.size(0), H = q.size(1), D = q.size(2), Tk = k.size(0), Hkv = k.size(1);
    for (const Tensor* x : {&q, &k, &mask.q_index, &mask.q_segment, &mask.k_index, &mask.k_segment})
        if (!x->defined() || x->device() != Device::cuda) return "an operand is not on the device";
    for (const Tensor* x : {&q, &k})
        if (x->dtype() != DType::f32 && x->dtype() != DType::bf16) return "operands are neither f32 nor bf16";
    if (Tq == 0 || Tk == 0) return "empty block";
    // Decoding (one or a few new queries against a growing KV cache) would build a new plan
    // for every cache length, each costing more than the tiled kernel's whole call.
    if (Tq < min_queries) return fmt::format("{} queries (cuDNN serves blocks of at least {})", Tq, min_queries);
    if (D % 8 != 0 || D > 128) return fmt::format("head dimension {} (cuDNN needs a multiple of 8, at most 128)", D);
    if (Hkv == 0 || H % Hkv != 0) return fmt::format("{} query heads over {} KV heads", H, Hkv);
    // cudnn_frontend refuses bf16/fp16 SDPA on these two releases ("known bugs"; 9.10.2 fixes them)
    if (cudnnGetVersion() == 91000 || cudnnGetVersion() == 91001)
        return fmt::format("cuDNN {} (its SDPA has known bugs; 9.10.2 fixes them)", cudnnGetVersion());
    // cudnn_frontend adds a padding-mask workaround to the backward before cuDNN 9.16 when
    // Tk % 128 != 0; this path builds no padding mask, so it leaves those shapes alone.
    if (cudnnGetVersion() < 91600 && Tk % 128 != 0)
        return fmt::format("Tk {} is not a multiple of 128 (cuDNN {} < 9.16)", Tk, cudnnGetVersion());
    for (const Tensor* x : {&mask.q_index, &mask.q_segment, &mask.k_index, &mask.k_segment})
        if (x->dtype() != DType::i32) return "mask indices or segments are not i32";

    // What the mask is: from the batch's host data when the caller passed it (no wait), else
    // reduced on the device and read back (a wait); classified by the one rule either way.
    MaskFacts facts;
    if (mask.known_q && mask.known_k) {
        facts = mask_facts(*mask.known_q, *mask.known_k);
    } else {
        int32_t summary[7] = {0};
        kernels::classify_attention_mask(impl_->mask_summary.data<int32_t>(), mask.q_index.data<int32_t>(),
                                         mask.q_segment.data<int32_t>(), mask.k_index.data<int32_t>(),
                                         mask.k_segment.data<int32_t>(), Tq, Tk, impl_->stream);
        CUDA_CHECK(cudaMemcpyAsync(summary, impl_->mask_summary.raw(), sizeof summary, cudaMemcpyDeviceToHost,
                                   impl_->stream));
        kernels::wait_for_stream(impl_->stream);
        facts = MaskFacts{summary[0] != 0, summary[1] != 0, summary[2] != 0, summary[3], summary[5], summary[6]};
    }
    switch (mask_kind(facts, Tq, Tk, mask.causal)) {
        case MaskKind::segmented: return "segment mask (more than one segment id)";
        case MaskKind::all_visible: *causal = false; return "";  // every key visible to every query
        case MaskKind::diagonal: *causal = true; return "";      // key j visible to query i iff j <= i
        case MaskKind::other: break;
    }
    return "causal block that is neither fully visible nor the diagonal block of equal contiguous ranges";
}

void CudnnAttention::forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                             double scale) {
    const Shape4 s{q.size(0), k.size(0), q.size(1), k.size(1), q.size(2), causal};
    cudnn::Plan& plan = impl_->plan_for(s, false);
    cudaStream_t stream = impl_->stream;
    Tensor q16 = to_bf16(q, stream), k16 = to_bf16(k, stream), v16 = to_bf16(v, stream);
    Tensor o16 = out.dtype() == DType::bf16 ? out : empty(out.shape(), DType::bf16, Device::cuda);
    Tensor stats = empty({s.H, s.Tq}, DType::f32, Device::cuda);
    float scale_value = static_cast<float>(scale), negative_infinity = masked_score();
    std::vector<int64_t> uids{q_uid, k_uid, v_uid, o_uid, stats_uid, scale_uid};
    std::vector<void*> pointers{q16.raw(), k16.raw(), v16.raw(), o16.raw(), stats.raw(), &scale_value};
    if (causal) {
        uids.push_back(negative_infinity_uid);
        pointers.push_back(&negative_infinity);
    }
    impl_->run(plan, uids, pointers);
    if (o16.raw() != out.raw()) kernels::convert(out.raw(), DType::f32, o16.raw(), DType::bf16, out.numel(), stream);
    kernels::transpose(lse.data<float>(), stats.data<float>(), s.H, s.Tq, stream);  // [H, Tq] -> [Tq, H]
}

void CudnnAttention::backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q, const Tensor& k,
                              const Tensor& v, const Tensor& out, const Tensor& lse, bool causal, double scale) {
    const Shape4 s{q.size(0), k.size(0), q.size(1), k.size(1), q.size(2), causal};
    cudnn::Plan& plan = impl_->plan_for(s, true);
    cudaStream_t stream = impl_->stream;
    Tensor q16 = to_bf16(q, stream), k16 = to_bf16(k, stream), v16 = to_bf16(v, stream);
    Tensor o16 = to_bf16(out, stream), dout16 = to_bf16(dout, stream);
    Tensor stats = empty({s.H, s.Tq}, DType::f32, Device::cuda);
    kernels::transpose(stats.data<float>(), lse.data<float>(), s.Tq, s.H, stream);  // [Tq, H] -> [H, Tq]
    Tensor softmax_sum = empty({s.H, s.Tq}, DType::f32, Device::cuda);
    // cuDNN >= 9.6 initialises the dQ accumulator itself (cudnn_frontend stopped clearing it
    // then); clearing it anyway costs one memset of H Tq D floats and holds for older versions.
    Tensor dq_accumulator = empty({s.H, s.Tq, s.D}, DType::f32, Device::cuda);
    CUDA_CHECK(cudaMemsetAsync(dq_accumulator.raw(), 0, dq_accumulator.bytes(), stream));
    Tensor dq16 = empty(dq.shape(), DType::bf16, Device::cuda);
    Tensor dk16 = empty(dk.shape(), DType::bf16, Device::cuda), dv16 = empty(dv.shape(), DType::bf16, Device::cuda);
    float scale_value = static_cast<float>(scale), one = 1.0f;
    float negative_infinity = masked_score();
    std::vector<int64_t> uids{q_uid,     k_uid,  v_uid,  o_uid,  dout_uid,        stats_uid,   scale_uid,
                              one_uid,   dq_uid, dk_uid, dv_uid, softmax_sum_uid, dq_accum_uid};
    std::vector<void*> pointers{q16.raw(),  k16.raw(),  v16.raw(),  o16.raw(),         dout16.raw(),
                                stats.raw(), &scale_value, &one, dq16.raw(), dk16.raw(),
                                dv16.raw(),  softmax_sum.raw(), dq_accumulator.raw()};
    if (causal) {
        uids.push_back(negative_infinity_uid);
        pointers.push_back(&negative_infinity);
    }
    impl_->run(plan, uids, pointers);
    kernels::accumulate_bf16(dq.data<float>(), dq16.raw(), dq.numel(), stream);
    kernels::accumulate_bf16(dk.data<float>(), dk16.raw(), dk.numel(), stream);
    kernels::accumulate_bf16(dv.data<float>(), dv16.raw(), dv.numel(), stream);
}

std::string CudnnAttention::last_engine() const { return impl_->last_engine; }

#else  // built without cuDNN: every case is unsupported, and says why

struct CudnnAttention::Impl {};

CudnnAttention::CudnnAttention(cudaStream_t) : impl_(std::make_unique<Impl>()) {}
bool CudnnAttention::built_with_cudnn() { return false; }

std::string CudnnAttention::unsupported_reason(const Tensor&, const Tensor&, const AttentionMask&, bool*) {
    return "ringlm was built without cuDNN (CMake found no libcudnn)";
}

void CudnnAttention::forward(Tensor&, Tensor&, const Tensor&, const Tensor&, const Tensor&, bool, double) {
    fail("cudnn attention forward: ringlm was built without cuDNN (CMake found no libcudnn)");
}

void CudnnAttention::backward(Tensor&, Tensor&, Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                              const Tensor&, const Tensor&, bool, double) {
    fail("cudnn attention backward: ringlm was built without cuDNN (CMake found no libcudnn)");
}

std::string CudnnAttention::last_engine() const { return ""; }

#endif  // RINGLM_WITH_CUDNN

CudnnAttention::~CudnnAttention() = default;

}  // namespace ringlm
