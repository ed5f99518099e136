// The CUDA kernels' launchers: raw device pointers and sizes in, work queued on `stream` out.
// cuda_backend.cpp turns Backend calls (Tensors) into these calls; the .cu files that define
// them include no fmt, which nvcc cannot parse. One .cu per kernel family, named like the CPU
// kernels in src/backend/cpu/. Everything is f32 unless its name says otherwise.
#pragma once

#include "tensor/dtype.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace ringlm::kernels {

// --- memory.cu ---------------------------------------------------------------------------
// dst[i] = convert(src[i]) between f32, f64, bf16, i32, i64, on the device.
void convert(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n, cudaStream_t stream);
void fill(void* x, DType dtype, int64_t n, double value, cudaStream_t stream);

// bf16 activations: the operands named Activation* hold f32 or bf16 values (dtype says which);
// the kernels compute in f32 either way and round a bf16 output to nearest even.
struct ActivationIn {
    const void* data;
    DType dtype;
};
struct ActivationOut {
    void* data;
    DType dtype;
};

// --- elementwise.cu ----------------------------------------------------------------------
void add(ActivationOut out, ActivationIn a, ActivationIn b, int64_t n, cudaStream_t stream);
void mul(float* out, const float* a, const float* b, int64_t n, cudaStream_t stream);
void axpy(float* y, const float* x, float alpha, int64_t n, cudaStream_t stream);
void scale(float* x, float alpha, int64_t n, cudaStream_t stream);
void add_scalar(float* y, const float* s, int64_t n, cudaStream_t stream);  // y += s[0], s on the device
// y [rows, C] += b [C] per row; db [C] += column sums of dy [rows, C] (rows in order).
void add_bias(ActivationOut y, const float* b, int64_t rows, int64_t C, cudaStream_t stream);
void sum_rows(float* db, const float* dy, int64_t rows, int64_t C, cudaStream_t stream);
// sum(a) or sum(a * b) (b may be null) in double, deterministic: a fixed grid of
// reduction_blocks blocks each reduces a fixed part into scratch, one block adds those.
// scratch: reduction_blocks + 1 doubles of device memory. Waits for the stream.
constexpr int reduction_blocks = 1024;
double sum_product(const float* a, const float* b, int64_t n, double* scratch, cudaStream_t stream);
// The same sum left on the device, in scratch[reduction_blocks] (no wait).
void sum_product_on_device(const float* a, const float* b, int64_t n, double* scratch, cudaStream_t stream);

// --- rmsnorm.cu --------------------------------------------------------------------------
void rmsnorm_forward(ActivationOut y, float* inv_rms, ActivationIn x, const float* w, int64_t rows, int64_t C,
                     float eps, cudaStream_t stream);
// scratch: rmsnorm_backward_scratch(rows, C) floats (partial column sums for dw).
int64_t rmsnorm_backward_scratch(int64_t rows, int64_t C);
void rmsnorm_backward(float* dx, float* dw, const float* dy, ActivationIn x, const float* w, const float* inv_rms,
                      int64_t rows, int64_t C, float* scratch, cudaStream_t stream);

// --- rope.cu -----------------------------------------------------------------------------
// x, y [T, H, D], angle = position * inverse_frequency[i] (f64 [D/2] on the device); direction
// +1 rotates by +angle (forward, y = s R x), -1 by -angle and ACCUMULATES (backward, dx += s R^T dy).
// x and y share one dtype (bf16 q and k forward; the f32 gradients backward).
void rope(ActivationOut y, ActivationIn x, const int32_t* position_ids, int64_t T, int64_t H, int64_t D,
          const double* inverse_frequency, double scale, int direction, cudaStream_t stream);

// --- swiglu.cu ---------------------------------------------------------------------------
// gate, up and out share one dtype; the gradients are f32.
void swiglu_forward(ActivationOut out, ActivationIn gate, ActivationIn up, int64_t n, cudaStream_t stream);
void swiglu_backward(float* dgate, float* dup, const float* dout, ActivationIn gate, ActivationIn up, int64_t n,
                     cudaStream_t stream);

// --- embedding.cu ------------------------------------------------------------------------
void embedding_forward(float* out, const float* table, const int32_t* ids, int64_t T, int64_t C, cudaStream_t stream);
// Tokens grouped by id on the device: a stable radix sort of (id, token) pairs, then one
// block per run of equal ids adds the run's rows in increasing token order into its table row,
// so the sum is the same every run, needs no atomics and the host never waits. ids must lie
// in [0, V) (the embedding op checked them). scratch: embedding_backward_scratch_bytes(T, V).
int64_t embedding_backward_scratch_bytes(int64_t T, int64_t V);
void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t T, int64_t V, int64_t C,
                        void* scratch, cudaStream_t stream);

// --- softmax.cu --------------------------------------------------------------------------
void softmax_forward(float* y, const float* x, int64_t rows, int64_t C, cudaStream_t stream);
void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t C, cudaStream_t stream);

// --- cross_entropy.cu --------------------------------------------------------------------
void cross_entropy_forward(float* losses, float* lse, const float* logits, const int32_t* labels, int64_t rows,
                           int64_t V, cudaStream_t stream);
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* labels,
                            const float* dlosses, int64_t rows, int64_t V, cudaStream_t stream);

// --- attention_merge.cu ------------------------------------------------------------------
// out [rows, D], lse [rows] in place, merged with out_block, lse_block (formula in backend.h).
void attention_merge(float* out, float* lse, const float* out_block, const float* lse_block, int64_t rows, int64_t D,
                     cudaStream_t stream);

// --- attention_block.cu, attention_block_backward.cu --------------------------------------
struct AttentionArgs {
    int64_t Tq = 0, Tk = 0, H = 0, Hkv = 0, D = 0;
    bool causal = true;
    float scale = 1.0f;
    const int32_t* q_index = nullptr;
    const int32_t* q_segment = nullptr;
    const int32_t* k_index = nullptr;
    const int32_t* k_segment = nullptr;
    // The element type of q, k, v (and of out, which backward reads for delta): f32, or bf16 for
    // the tensor cores (bf16 activations, read as they are); everything else is f32.
    DType operands = DType::f32;
};
constexpr int64_t attention_max_head_dim = 128;
// Which units compute the block: the CUDA cores in f32 (attention_block*.cu, 1e-5 agreement
// with the CPU) or the tensor cores in bf16 with f32 accumulation (attention_tensor_core.cu).
enum class AttentionCores : int { cuda_f32, tensor_bf16 };
// The most shared memory a block of the tensor-core kernels takes at head dim D.
int64_t tensor_core_attention_shared_bytes(int64_t D);
// Device scratch the calls below need (tile summaries; for backward also delta_i = dout_i . out_i).
int64_t attention_scratch_bytes(const AttentionArgs& args, bool backward);
// q, k, v, out: of args.operands' type (bf16 only with AttentionCores::tensor_bf16).
void attention_block_forward(float* out, float* lse, const void* q, const void* k, const void* v,
                             const AttentionArgs& args, AttentionCores cores, void* scratch, cudaStream_t stream);
void attention_block_backward(float* dq, float* dk, float* dv, const float* dout, const void* q, const void* k,
                              const void* v, const void* out, const float* lse, const AttentionArgs& args,
                              AttentionCores cores, void* scratch, cudaStream_t stream);

// --- attention_layout.cu (around the cuDNN attention graphs, cudnn_attention.cpp) ---------
// dst [cols, rows] = src [rows, cols]^T  (the LSE between [T, H] and cuDNN's [H, T] stats)
void transpose(float* dst, const float* src, int64_t rows, int64_t cols, cudaStream_t stream);
// y[i] += x[i], x bf16 (cuDNN's gradients into the f32 ones, which ACCUMULATE)
void accumulate_bf16(float* y, const void* x, int64_t n, cudaStream_t stream);
// Reads a mask's structure into result[7] (device memory): {all q and k segments equal,
// q_index contiguous (q_index[i] = q_index[0] + i), k_index contiguous, min q_index,
// max q_index, min k_index, max k_index}. Tq, Tk >= 1.
void classify_attention_mask(int32_t* result, const int32_t* q_index, const int32_t* q_segment,
                             const int32_t* k_index, const int32_t* k_segment, int64_t Tq, int64_t Tk,
                             cudaStream_t stream);

// --- columns.cu --------------------------------------------------------------------------
// src [rows, src_cols], dst [rows, dst_cols]:
//   gather_columns:       dst[r, c] = src[r, begin + c],   c < dst_cols
//   scatter_add_columns:  dst[r, begin + c] += src[r, c],  c < src_cols
// gather_columns moves either dtype (dst and src share it); scatter_add_columns adds f32.
void gather_columns(ActivationOut dst, ActivationIn src, int64_t rows, int64_t dst_cols, int64_t src_cols,
                    int64_t begin, cudaStream_t stream);
void scatter_add_columns(float* dst, const float* src, int64_t rows, int64_t dst_cols, int64_t src_cols, int64_t begin,
                         cudaStream_t stream);

// --- adamw.cu ----------------------------------------------------------------------------
struct AdamWArgs {
    double learning_rate, beta1, beta2, eps, weight_decay, grad_scale;
    double bias_correction1, bias_correction2;  // 1 - beta^t
    // non-null: grad_scale from this device sum of squares (AdamWStep in backend.h)
    const double* gradient_sum_squares;
    double max_grad_norm, gradient_divisor;
};
void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n, const AdamWArgs& args,
                  cudaStream_t stream);

}  // namespace ringlm::kernels
