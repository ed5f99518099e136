"""Writes a random Hugging Face folder of one model family (llama incl. Llama 3.1/3.2 RoPE
scaling, mistral, qwen2, qwen3) with its own safetensors writer, and runs that family's forward
and backward in float64 with torch autograd, written from the transformers conventions
(modeling_llama / modeling_qwen2 / modeling_qwen3, modeling_rope_utils); shares no code with ringlm.

usage: hf_family_reference.py HF_DIR IN_FOLDER OUT_FOLDER [HF_DIR IN_FOLDER OUT_FOLDER ...]
(several models in one run: torch's import is most of the time)
IN_FOLDER (see tensor_io.py): meta {"seed", "weight_std", "config": the whole config.json};
input_ids, labels i32 [T] (one sequence at positions 0..T-1; label -100 is not counted).
HF_DIR gets config.json and model.safetensors (F32).
OUT_FOLDER: logits f64 [T, vocab], loss f64 [1] (the sum of the counted tokens' cross-entropy)
and "grad <Hugging Face tensor name>" f64 for every tensor.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

from hf_llama_writer import write_safetensors
from tensor_io import read_folder, write_folder


def head_dim_of(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def expected_shapes(cfg):
    """Every tensor the family's *ForCausalLM loads, nn.Linear [out, in]."""
    hidden, ffn, vocab = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    D = head_dim_of(cfg)
    q, kv = cfg["num_attention_heads"] * D, cfg["num_key_value_heads"] * D
    shapes = {"model.embed_tokens.weight": [vocab, hidden], "model.norm.weight": [hidden]}
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = [vocab, hidden]
    for i in range(cfg["num_hidden_layers"]):
        layer = {"input_layernorm.weight": [hidden], "post_attention_layernorm.weight": [hidden],
                 "self_attn.q_proj.weight": [q, hidden], "self_attn.k_proj.weight": [kv, hidden],
                 "self_attn.v_proj.weight": [kv, hidden], "self_attn.o_proj.weight": [hidden, q],
                 "mlp.gate_proj.weight": [ffn, hidden], "mlp.up_proj.weight": [ffn, hidden],
                 "mlp.down_proj.weight": [hidden, ffn]}
        if cfg["model_type"] == "qwen2":  # Qwen2Attention: bias=True on q, k, v (not o)
            layer.update({"self_attn.q_proj.bias": [q], "self_attn.k_proj.bias": [kv], "self_attn.v_proj.bias": [kv]})
        if cfg["model_type"] == "qwen3":  # Qwen3RMSNorm(head_dim) on q and k
            layer.update({"self_attn.q_norm.weight": [D], "self_attn.k_norm.weight": [D]})
        shapes.update({f"model.layers.{i}.{name}": shape for name, shape in layer.items()})
    return shapes


def inverse_frequencies(cfg):
    """(inv_freq [D/2], attention scaling of cos/sin), by rope_scaling's rope_type."""
    D, base = head_dim_of(cfg), cfg["rope_theta"]
    exponents = torch.arange(0, D, 2, dtype=torch.float64) / D
    inv_freq = 1.0 / base**exponents
    scaling = cfg.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "default":
        return inv_freq, 1.0
    factor = scaling["factor"]
    if kind == "linear":  # positions / factor
        return inv_freq / factor, 1.0
    if kind == "llama3":
        # wavelengths longer than original/low_freq_factor: divided by factor; shorter than
        # original/high_freq_factor: kept; in between: blended by original/wavelen
        original = scaling["original_max_position_embeddings"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        wavelength = 2 * math.pi / inv_freq
        blend = (original / wavelength - low) / (high - low)
        mid = (1 - blend) * inv_freq / factor + blend * inv_freq
        out = torch.where(wavelength > original / low, inv_freq / factor, inv_freq)
        in_between = (wavelength <= original / low) & (wavelength >= original / high)
        return torch.where(in_between, mid, out), 1.0
    if kind == "yarn":
        original = scaling.get("original_max_position_embeddings") or cfg["max_position_embeddings"]
        fast, slow = scaling.get("beta_fast") or 32, scaling.get("beta_slow") or 1

        def mscale(s, m=1.0):
            return 1.0 if s <= 1 else 0.1 * m * math.log(s) + 1.0

        attention = scaling.get("attention_factor")
        if attention is None:
            m, m_all = scaling.get("mscale"), scaling.get("mscale_all_dim")
            attention = mscale(factor, m) / mscale(factor, m_all) if m and m_all else mscale(factor)

        def dimension_of(rotations):  # the dimension index that turns `rotations` times over `original`
            return D * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(base))

        lo, hi = dimension_of(fast), dimension_of(slow)
        if scaling.get("truncate", True):
            lo, hi = math.floor(lo), math.ceil(hi)
        lo, hi = max(lo, 0), min(hi, D - 1)
        if lo == hi:
            hi += 0.001
        ramp = ((torch.arange(D // 2, dtype=torch.float64) - lo) / (hi - lo)).clamp(0, 1)
        keep = 1 - ramp  # 1: extrapolate (the original frequency), 0: interpolate (/ factor)
        return (inv_freq / factor) * (1 - keep) + inv_freq * keep, attention
    raise SystemExit(f"rope_type {kind} not in the reference")


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, positions, inv_freq, attention_scaling):
    """x [T, heads, D]: x cos + rotate_half(x) sin, cos/sin of [angles, angles] times the scaling."""
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((angles, angles), dim=-1)[:, None, :]
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * (emb.cos() * attention_scaling) + rotated * (emb.sin() * attention_scaling)


def forward(w, cfg, input_ids):
    T = input_ids.shape[0]
    H, Hkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim_of(cfg)
    eps = cfg["rms_norm_eps"]
    inv_freq, attention_scaling = inverse_frequencies(cfg)
    positions = torch.arange(T)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    x = w["model.embed_tokens.weight"][input_ids.long()]
    for i in range(cfg["num_hidden_layers"]):
        W = lambda name: w[f"model.layers.{i}.{name}"]

        def project(h, name, heads):
            y = h @ W(f"self_attn.{name}_proj.weight").T
            if cfg["model_type"] == "qwen2":
                y = y + W(f"self_attn.{name}_proj.bias")
            y = y.view(T, heads, D)
            if cfg["model_type"] == "qwen3" and name in ("q", "k"):
                y = rms_norm(y, W(f"self_attn.{name}_norm.weight"), eps)
            return y

        h = rms_norm(x, W("input_layernorm.weight"), eps)
        q = rope(project(h, "q", H), positions, inv_freq, attention_scaling).transpose(0, 1)
        k = rope(project(h, "k", Hkv), positions, inv_freq, attention_scaling).transpose(0, 1)
        v = project(h, "v", Hkv).transpose(0, 1)
        k, v = k.repeat_interleave(H // Hkv, dim=0), v.repeat_interleave(H // Hkv, dim=0)
        scores = (q @ k.transpose(1, 2)) * D**-0.5
        attended = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1) @ v
        x = x + attended.transpose(0, 1).reshape(T, H * D) @ W("self_attn.o_proj.weight").T
        h = rms_norm(x, W("post_attention_layernorm.weight"), eps)
        x = x + (F.silu(h @ W("mlp.gate_proj.weight").T) * (h @ W("mlp.up_proj.weight").T)) @ W("mlp.down_proj.weight").T
    x = rms_norm(x, w["model.norm.weight"], eps)
    lm_head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ lm_head.T


def write_and_run(hf_dir, in_folder, out_folder):
    meta, inputs = read_folder(in_folder)
    cfg = meta["config"]
    generator = torch.Generator().manual_seed(meta["seed"])
    stored = {}
    for name, shape in sorted(expected_shapes(cfg).items()):
        if name.endswith("norm.weight"):
            values = 1.0 + 0.1 * torch.randn(shape, generator=generator)
        else:
            values = meta["weight_std"] * torch.randn(shape, generator=generator)
        stored[name] = values.to(torch.float32)
    os.makedirs(hf_dir, exist_ok=True)
    write_safetensors(os.path.join(hf_dir, "model.safetensors"), [(n, "F32", t) for n, t in stored.items()], pad=True)
    with open(os.path.join(hf_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    weights = {n: t.to(torch.float64).requires_grad_() for n, t in stored.items()}
    logits = forward(weights, cfg, torch.from_numpy(inputs["input_ids"]))
    loss = F.cross_entropy(logits, torch.from_numpy(inputs["labels"]).long(), ignore_index=-100, reduction="sum")
    loss.backward()
    out = {"logits": logits.detach().numpy(), "loss": loss.detach().reshape(1).numpy()}
    out.update({f"grad {n}": t.grad.numpy() for n, t in weights.items()})
    write_folder(out_folder, {}, out)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    for at in range(0, len(arguments), 3):
        write_and_run(*arguments[at : at + 3])
