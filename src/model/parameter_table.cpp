// The decoder layer's parameter table (llama.h LayerParameterRow): everything that names, shapes
// or lays out a layer's parameters is derived from these rows. Its own file so the parsers'
// fuzz build (llama2.c reader) has it without the model's ops.
#include "model/llama.h"

namespace ringlm {

const std::vector<LayerParameterRow>& layer_parameter_table() {
    using C = const ModelConfig&;
    auto always = [](C) { return true; };
    auto biases = [](C c) { return c.qkv_bias; };
    auto head_norms = [](C c) { return c.qk_norm; };
    auto query_heads = [](C c) { return c.n_heads; };
    auto kv_heads = [](C c) { return c.n_kv_heads; };
    // {name, Hugging Face name, field, shape, decay, present, in llama2.c, RoPE heads}
    static const std::vector<LayerParameterRow> table{
        {"attention_norm", "input_layernorm.weight", &LlamaLayer::attention_norm, [](C c) { return Shape{c.dim}; },
         false, always, true, nullptr},
        {"attention.wq", "self_attn.q_proj.weight", &LlamaLayer::wq, [](C c) { return Shape{c.q_dim(), c.dim}; }, true,
         always, true, query_heads},
        {"attention.wk", "self_attn.k_proj.weight", &LlamaLayer::wk, [](C c) { return Shape{c.kv_dim(), c.dim}; },
         true, always, true, kv_heads},
        {"attention.wv", "self_attn.v_proj.weight", &LlamaLayer::wv, [](C c) { return Shape{c.kv_dim(), c.dim}; },
         true, always, true, nullptr},
        {"attention.wo", "self_attn.o_proj.weight", &LlamaLayer::wo, [](C c) { return Shape{c.dim, c.q_dim()}; }, true,
         always, true, nullptr},
        {"attention.bq", "self_attn.q_proj.bias", &LlamaLayer::bq, [](C c) { return Shape{c.q_dim()}; }, false, biases,
         false, nullptr},
        {"attention.bk", "self_attn.k_proj.bias", &LlamaLayer::bk, [](C c) { return Shape{c.kv_dim()}; }, false, biases,
         false, nullptr},
        {"attention.bv", "self_attn.v_proj.bias", &LlamaLayer::bv, [](C c) { return Shape{c.kv_dim()}; }, false, biases,
         false, nullptr},
        {"attention.q_norm", "self_attn.q_norm.weight", &LlamaLayer::q_norm, [](C c) { return Shape{c.head_dim()}; },
         false, head_norms, false, nullptr},
        {"attention.k_norm", "self_attn.k_norm.weight", &LlamaLayer::k_norm, [](C c) { return Shape{c.head_dim()}; },
         false, head_norms, false, nullptr},
        {"ffn_norm", "post_attention_layernorm.weight", &LlamaLayer::ffn_norm, [](C c) { return Shape{c.dim}; }, false,
         always, true, nullptr},
        {"feed_forward.w1", "mlp.gate_proj.weight", &LlamaLayer::w1, [](C c) { return Shape{c.ffn_dim, c.dim}; }, true,
         always, true, nullptr},
        {"feed_forward.w2", "mlp.down_proj.weight", &LlamaLayer::w2, [](C c) { return Shape{c.dim, c.ffn_dim}; }, true,
         always, true, nullptr},
        {"feed_forward.w3", "mlp.up_proj.weight", &LlamaLayer::w3, [](C c) { return Shape{c.ffn_dim, c.dim}; }, true,
         always, true, nullptr},
    };
    return table;
}

}  // namespace ringlm
