#include "model/llama.h"

#include "autograd/checkpoint.h"
#include "model/rope_scaling.h"
#include "ops/ops.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

namespace ringlm {

const NamedParameter& Llama::find(const std::string& name) const {
    for (const NamedParameter& p : named)
        if (p.name == name) return p;
    fail("model: no parameter named '{}'", name);
}

namespace {

// The structured fields from the named views that `take` returns (of either buffer).
void wire_layers(const ModelConfig& c, const std::function<Tensor(const std::string&)>& take, Tensor& tok_embeddings,
                 Tensor& norm, Tensor& output, std::vector<LlamaLayer>& layers) {
    tok_embeddings = take("tok_embeddings");
    norm = take("norm");
    output = c.tied_embeddings ? tok_embeddings : take("output");
    for (int64_t i = 0; i < c.n_layers; i++) {
        const std::string prefix = "layers." + std::to_string(i) + ".";
        LlamaLayer layer;
        for (const LayerParameterRow& row : layer_parameter_table())
            if (row.present(c)) layer.*row.field = take(prefix + row.name);
        layers.push_back(layer);
    }
}

}  // namespace

std::vector<ParameterSlot> llama_parameter_slots(const ModelConfig& c) {
    std::vector<ParameterSlot> slots;
    slots.push_back({"tok_embeddings", {c.vocab_size, c.dim}, true});
    for (int64_t i = 0; i < c.n_layers; i++) {
        const std::string prefix = "layers." + std::to_string(i) + ".";
        for (const LayerParameterRow& row : layer_parameter_table())
            if (row.present(c)) slots.push_back({prefix + row.name, row.shape(c), row.decay});
    }
    slots.push_back({"norm", {c.dim}, false});
    if (!c.tied_embeddings) slots.push_back({"output", {c.vocab_size, c.dim}, true});
    return slots;
}

Llama make_llama(const ModelConfig& c, Device device, ModelUse use) {
    if (!c.heads_fit())
        fail("model: dim {} / n_heads {} / n_kv_heads {} / head_dim {} do not give an even head size shared by the "
             "KV groups",
             c.dim, c.n_heads, c.n_kv_heads, c.head_size);
    const std::vector<ParameterSlot> slots = llama_parameter_slots(c);

    int64_t total = 0;
    for (const ParameterSlot& slot : slots) total += slot.shape.numel();
    Llama model;
    model.config = c;
    model.rope = rope_frequencies(rope_inverse_frequencies(c), rope_attention_scaling(c), device);
    model.parameters = zeros({total}, DType::f32, device);
    if (use == ModelUse::training) model.gradients = zeros({total}, DType::f32, device);
    int64_t offset = 0;
    for (const ParameterSlot& slot : slots) {
        const int64_t n = slot.shape.numel();
        Tensor grad = use == ModelUse::training ? model.gradients.rows(offset, offset + n).view(slot.shape) : Tensor();
        model.named.push_back({slot.name, model.parameters.rows(offset, offset + n).view(slot.shape), grad,
                               slot.decay});
        offset += n;
    }
    // Wire the named views into the structured fields (same tensors, same ids).
    wire_layers(c, [&](const std::string& name) { return model.find(name).value; }, model.tok_embeddings, model.norm,
                model.output, model.layers);
    return model;
}

void enable_bf16_matmuls(Llama& model) {
    model.parameters_bf16 = empty(model.parameters.shape(), DType::bf16, model.parameters.device());
    // the bf16 view of a parameter sits at the same offset as its f32 view
    std::map<std::string, Tensor> views;
    int64_t offset = 0;
    for (const NamedParameter& p : model.named) {
        const int64_t n = p.value.numel();
        views[p.name] = model.parameters_bf16.rows(offset, offset + n).view(p.value.shape());
        offset += n;
    }
    Tensor tok_embeddings, norm;
    model.layers_bf16.clear();
    wire_layers(model.config, [&](const std::string& name) { return views.at(name); }, tok_embeddings, norm,
                model.output_bf16, model.layers_bf16);
    update_bf16_weights(model);
}

void update_bf16_weights(Llama& model) {
    if (!model.bf16_matmuls()) return;
    backend(model.parameters).copy(model.parameters_bf16, model.parameters);
}

void init_llama_weights(Llama& model, uint64_t seed) {
    std::mt19937_64 rng(seed);
    const double residual_scale = 1.0 / std::sqrt(2.0 * static_cast<double>(model.config.n_layers));
    for (NamedParameter& p : model.named) {
        Tensor host = empty(p.value.shape(), DType::f32);
        float* values = host.data<float>();
        const bool is_bias = p.name.ends_with(".bq") || p.name.ends_with(".bk") || p.name.ends_with(".bv");
        const bool is_norm = !p.decay && !is_bias;
        const bool is_residual_projection = p.name.ends_with(".wo") || p.name.ends_with(".w2");
        std::normal_distribution<double> normal(0.0, 0.02 * (is_residual_projection ? residual_scale : 1.0));
        for (int64_t i = 0; i < host.numel(); i++)
            values[i] = is_bias ? 0.0f : is_norm ? 1.0f : static_cast<float>(normal(rng));
        backend(p.value).copy(p.value, host);
    }
    update_bf16_weights(model);
}

void load_parameters(Llama& model, const std::vector<std::pair<std::string, Tensor>>& named, const std::string& source) {
    std::set<std::string> loaded;
    for (const auto& [name, tensor] : named) {
        const NamedParameter& p = model.find(name);
        if (p.value.shape() != tensor.shape())
            fail("{}: parameter '{}' has shape {}, the model expects {}", source, name, tensor.shape(), p.value.shape());
        Tensor destination = p.value;
        backend(destination).copy(destination, tensor);
        loaded.insert(name);
    }
    for (const NamedParameter& p : model.named)
        if (!loaded.count(p.name)) fail("{}: parameter '{}' is missing", source, p.name);
    update_bf16_weights(model);
}

void require_gradients(const Llama& model, const std::string& who) {
    if (!model.has_gradients())
        fail("{}: the model ({} parameters) was built for inference and has no gradient buffer; build it with "
             "ModelUse::training to compute gradients or step an optimizer",
             who, model.n_parameters());
}

void bind_gradients(const Llama& model, Grads& grads) {
    require_gradients(model, "bind_gradients");
    for (const NamedParameter& p : model.named) grads.bind(p.value, p.grad);
}

Tensor local_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, const TokenBatch& batch,
                       double scale, int64_t /*layer*/) {
    AttentionMask mask{batch.global_index, batch.segment_ids, batch.global_index, batch.segment_ids, true, {}, {}};
    // one rank's whole rows: its chunk range, as the batch knows it, describes queries and keys
    if (batch.sp_chunk_ranges.size() == 1) mask.known_q = mask.known_k = batch.sp_chunk_ranges[0];
    return attention(tape, q, k, v, mask, scale);
}

namespace {

// The dtype the tensors between the matmuls are written in: bf16 with bf16 activations, else
// each op's own (the input's).
std::optional<DType> activation_dtype(const ForwardOptions& options) {
    return options.bf16_activations ? std::optional<DType>(DType::bf16) : std::nullopt;
}

// One decoder layer: x [T, dim] -> x + attention block -> + MLP block.
Tensor decoder_layer(Tape& tape, const Llama& model, int64_t layer_index, const TokenBatch& batch,
                     const ForwardOptions& options, const Tensor& x) {
    const LlamaLayer& layer = model.layers[layer_index];
    const ModelConfig& c = model.config;
    const int64_t T = x.size(0), D = c.head_dim();
    // bf16 matmuls: each matmul input is cast once (a bf16 copy shared by the projections that
    // read it) and multiplies the weight's bf16 copy; everything between matmuls stays f32.
    // bf16 activations on top: the norms before a matmul write bf16 themselves, the matmuls
    // write bf16, and RoPE, attention and SwiGLU read and write bf16 (f32 math inside); the
    // residual stream x, h stays f32, as do all gradients.
    const bool in_bf16 = model.bf16_matmuls();
    const std::optional<DType> activations = activation_dtype(options);
    auto matmul_input = [&](const Tensor& input) {
        return in_bf16 && input.dtype() != DType::bf16 ? to_bf16(tape, input) : input;
    };
    auto normed_matmul_input = [&](const Tensor& input, const Tensor& norm) {
        return matmul_input(rmsnorm(tape, input, norm, c.norm_eps, activations));
    };
    // a weight's bf16 copy in bf16 mode, else undefined (the ops then multiply the f32 weight)
    auto weight_bf16 = [&](Tensor LlamaLayer::*weight) {
        return in_bf16 ? model.layers_bf16[layer_index].*weight : Tensor();
    };
    // the bias (undefined when absent) is the f32 one in either mode
    auto project = [&](const Tensor& input, Tensor LlamaLayer::*weight, Tensor LlamaLayer::*bias = nullptr) {
        return linear(tape, input, layer.*weight, weight_bf16(weight), bias ? layer.*bias : Tensor(), activations);
    };
    // [T, heads * D] -> [T, heads, D]; Qwen3 normalizes each head's D values (RMSNorm over
    // [T * heads, D] rows, one weight [D] shared by the heads) before RoPE.
    auto heads = [&](const Tensor& projected, int64_t n, const Tensor& head_norm) {
        if (!head_norm.defined()) return reshape(tape, projected, {T, n, D});
        return reshape(tape, rmsnorm(tape, reshape(tape, projected, {T * n, D}), head_norm, c.norm_eps), {T, n, D});
    };

    // attention: q, k, v projections, RoPE on q and k, attention, output projection
    Tensor xn = normed_matmul_input(x, layer.attention_norm);
    Tensor q = rope(tape, heads(project(xn, &LlamaLayer::wq, &LlamaLayer::bq), c.n_heads, layer.q_norm),
                    batch.position_ids, model.rope);
    Tensor k = rope(tape, heads(project(xn, &LlamaLayer::wk, &LlamaLayer::bk), c.n_kv_heads, layer.k_norm),
                    batch.position_ids, model.rope);
    Tensor v = heads(project(xn, &LlamaLayer::wv, &LlamaLayer::bv), c.n_kv_heads, Tensor());
    Tensor attended = options.attention(tape, q, k, v, batch, 1.0 / std::sqrt(static_cast<double>(D)), layer_index);
    Tensor h = add(tape, x, project(matmul_input(reshape(tape, attended, {T, c.n_heads * D})), &LlamaLayer::wo));

    // MLP: w2(silu(w1 x) * w3 x), whole or in sequence tiles
    Tensor hn = normed_matmul_input(h, layer.ffn_norm);
    if (options.tiled_mlp) {
        const int64_t shards = std::max<int64_t>(
            1, options.tiled_mlp_num_shards > 0 ? options.tiled_mlp_num_shards : (T + c.dim - 1) / c.dim);
        const int64_t tile_rows = std::max<int64_t>(1, (T + shards - 1) / shards);
        return add(tape, h, tiled_mlp(tape, hn, layer.w1, layer.w3, layer.w2, tile_rows, weight_bf16(&LlamaLayer::w1),
                                      weight_bf16(&LlamaLayer::w3), weight_bf16(&LlamaLayer::w2)));
    }
    Tensor gated = swiglu(tape, project(hn, &LlamaLayer::w1), project(hn, &LlamaLayer::w3));
    Tensor mlp = project(matmul_input(gated), &LlamaLayer::w2);
    return add(tape, h, mlp);
}

}  // namespace

Tensor llama_hidden(Tape& tape, const Llama& model, const TokenBatch& batch, const ForwardOptions& options) {
    if (options.bf16_activations && !model.bf16_matmuls())
        fail("llama: bf16 activations need the bf16 matmuls (config bf16: true), which this model has not enabled");
    Tensor x = embedding(tape, model.tok_embeddings, batch.input_ids, batch.input_id_range);
    for (int64_t layer = 0; layer < model.config.n_layers; layer++) {
        // The region is run again during backward when checkpointing: model, batch and
        // options must outlive tape.backward (they do: the caller owns all three).
        auto region = [&model, layer, &batch, &options](Tape& t, const Tensor& input) {
            return decoder_layer(t, model, layer, batch, options, input);
        };
        x = (options.gradient_checkpointing || options.offload_checkpoints) && tape.recording()
                ? checkpoint(tape, "decoder_layer", region, x, options.offload_checkpoints)
                : region(tape, x);
    }
    return rmsnorm(tape, x, model.norm, model.config.norm_eps, activation_dtype(options));
}

Tensor llama_token_losses(Tape& tape, const Llama& model, const TokenBatch& batch, const ForwardOptions& options) {
    Tensor hidden = llama_hidden(tape, model, batch, options);
    if (model.bf16_matmuls())  // the LM head in bf16 too; logit chunks, lse and losses stay f32
        return cross_entropy(tape, hidden.dtype() == DType::bf16 ? hidden : to_bf16(tape, hidden), model.output,
                             batch.labels, options.loss_chunk_rows, model.output_bf16, batch.label_range);
    return cross_entropy(tape, hidden, model.output, batch.labels, options.loss_chunk_rows, Tensor(),
                         batch.label_range);
}

}  // namespace ringlm
