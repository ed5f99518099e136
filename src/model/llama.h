// The Llama decoder (Touvron et al. 2023), as autograd ops:
//   h = embed(ids)
//   for each layer:  h = h + wo · attention(rope(wq · norm(h)), rope(wk · norm(h)), wv · norm(h))
//                    h = h + w2 · (silu(w1 · norm(h)) * (w3 · norm(h)))
//   losses = cross_entropy(norm(h), output or tok_embeddings, labels)
// Parameters live in ONE contiguous f32 buffer (llm.c style) carved into named views; their
// gradients in a second buffer with the same layout (a model built for training only); the
// optimizer's moments in two more.
// bf16 matmuls (config `bf16: true`): a bf16 copy of the parameter buffer, same layout, feeds
// every matmul (projections and the LM head); the f32 buffer stays the master copy that the
// optimizer updates, checkpoints store and norms, embeddings read.
#pragma once

#include "autograd/tape.h"
#include "backend/backend.h"
#include "data/token_batch.h"
#include "model/model_config.h"
#include "ops/ops.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ringlm {

struct NamedParameter {
    std::string name;
    Tensor value;  // a view into Llama::parameters
    Tensor grad;   // the same view into Llama::gradients; undefined for ModelUse::inference
    bool decay;    // weight decay applies (matrices), not to norms
};

struct LlamaLayer {
    Tensor attention_norm, wq, wk, wv, wo;
    Tensor bq, bk, bv;       // undefined unless config.qkv_bias
    Tensor q_norm, k_norm;   // undefined unless config.qk_norm
    Tensor ffn_norm, w1, w2, w3;
};

// What a model is built for. Training allocates the gradient buffer (as large as the
// parameters) and every parameter's grad view. Inference (generate, export, eval, GRPO's frozen
// reference) leaves both undefined and so holds the weights alone: half the memory in f32.
enum class ModelUse { training, inference };

struct Llama {
    ModelConfig config;
    Tensor parameters;  // f32 [n_parameters]
    Tensor gradients;   // f32 [n_parameters]; undefined for ModelUse::inference
    std::vector<NamedParameter> named;
    Tensor tok_embeddings, norm, output;  // output == tok_embeddings when tied
    std::vector<LlamaLayer> layers;
    RopeFrequencies rope;  // the RoPE table of config (rope_theta, rope_scaling) on the model's device
    // bf16 matmuls: parameters_bf16 = bf16(parameters), the same views carved from it (their
    // norm fields are unused); undefined / empty when the model computes in f32.
    Tensor parameters_bf16;
    Tensor output_bf16;
    std::vector<LlamaLayer> layers_bf16;

    int64_t n_parameters() const { return parameters.numel(); }
    bool bf16_matmuls() const { return parameters_bf16.defined(); }
    bool has_gradients() const { return gradients.defined(); }
    const NamedParameter& find(const std::string& name) const;
};

// Every parameter of a model of this shape, in the buffer's order, with model_config.h's
// names: what make_llama allocates and what a checkpoint reader must find, before allocating.
struct ParameterSlot {
    std::string name;
    Shape shape;
    bool decay;  // weight decay applies (matrices), not to norms and biases
};
std::vector<ParameterSlot> llama_parameter_slots(const ModelConfig& config);

// The decoder layer's parameters, one row each, in the buffer's order: the table the slots
// above (and so checkpoint validation), the LlamaLayer fields, the Hugging Face names
// (hf_model.cpp) and the llama2.c file layout (llama2c_checkpoint.cpp) are derived from, so a
// family's new parameter is one row (and a ModelConfig flag for `present`).
struct LayerParameterRow {
    const char* name;     // ringlm's, after "layers.{i}."
    const char* hf_name;  // Hugging Face's, after "model.layers.{i}."
    Tensor LlamaLayer::*field;
    Shape (*shape)(const ModelConfig&);
    bool decay;                           // weight decay applies (matrices), not to norms and biases
    bool (*present)(const ModelConfig&);  // which families have it
    // In llama2.c's legacy file, which stores these rows in this table's order, each for all
    // layers at once; false: that format cannot hold it.
    bool llama2c;
    // RoPE's heads in this matrix's rows (query or KV heads): llama2.c rotates interleaved pairs,
    // ringlm and Hugging Face rotate halves, so its rows are permuted on the way in and out
    // (permute_rope_rows). nullptr: no RoPE rows.
    int64_t (*rope_heads)(const ModelConfig&);
};
const std::vector<LayerParameterRow>& layer_parameter_table();

// Allocates the buffers and carves them into the named views; values are left unset. The
// gradient buffer only for ModelUse::training.
Llama make_llama(const ModelConfig& config, Device device = Device::cpu, ModelUse use = ModelUse::training);
// Throws, naming `who` (what needs the gradients), when the model was built for inference:
// everything that writes or reads model.gradients calls this first.
void require_gradients(const Llama& model, const std::string& who);
// GPT-2 style: matrices ~ N(0, 0.02), output projections (wo, w2) scaled by 1/sqrt(2 L),
// norms = 1. Deterministic in the seed.
void init_llama_weights(Llama& model, uint64_t seed);
// Copies named host tensors into the model's parameters (on any device); every parameter
// must be given once, with its shape. `source` names where they came from in errors.
void load_parameters(Llama& model, const std::vector<std::pair<std::string, Tensor>>& named, const std::string& source);
// From now on the model's matmuls run in bf16 (with f32 accumulation) on a bf16 copy of the
// parameters, made here.
void enable_bf16_matmuls(Llama& model);
// parameters_bf16 = bf16(parameters), one conversion: after anything writes the parameters
// (init, load, optimizer step). Does nothing when the model computes in f32.
void update_bf16_weights(Llama& model);
// Makes gradients flow into model.gradients (a model built for training; else throws).
void bind_gradients(const Llama& model, Grads& grads);

// Attention of the batch's queries against its keys/values in decoder layer `layer`: the
// local kernel by default; sequence parallelism substitutes ring attention here and nowhere
// else (src/train/training_setup.cpp).
using AttentionFunction = std::function<Tensor(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v,
                                               const TokenBatch& batch, double scale, int64_t layer)>;
Tensor local_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, const TokenBatch& batch,
                       double scale, int64_t layer);

struct ForwardOptions {
    bool gradient_checkpointing = false;
    bool offload_checkpoints = false;  // checkpointing with the layer inputs in host memory (implies it)
    // Tiled MLP (ops.h tiled_mlp): the MLP of a rank's T rows in `tiled_mlp_num_shards`
    // tiles, 0 = ceil(T / dim) tiles (ALST's default: a tile's [rows, ffn] intermediates are
    // then about the size of the [T, dim] hidden states).
    bool tiled_mlp = false;
    int64_t tiled_mlp_num_shards = 0;
    // bf16 activations (config bf16_activations, needs the bf16 matmuls): the tensors between
    // the matmuls are stored in bf16 and computed in f32; the residual stream and every
    // gradient stay f32 (see decoder_layer in llama.cpp).
    bool bf16_activations = false;
    AttentionFunction attention = local_attention;
    int64_t loss_chunk_rows = 256;
};

// Final hidden states after the last norm: [T, dim].
Tensor llama_hidden(Tape& tape, const Llama& model, const TokenBatch& batch, const ForwardOptions& options = {});
// Per-token losses [T] (0 where label == -100).
Tensor llama_token_losses(Tape& tape, const Llama& model, const TokenBatch& batch,
                          const ForwardOptions& options = {});

}  // namespace ringlm
