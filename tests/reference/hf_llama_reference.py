"""An independent reader of `ringlm export --format hf` folders: parses model.safetensors with
its own few lines (Debian has no safetensors package) and config.json, checks them the way
transformers' LlamaForCausalLM would load them (every expected tensor name, no other, shapes
from the config), and runs the Hugging Face Llama forward by those names and config keys.
Shares no code with ringlm; the C++ test compares its logits with ringlm's.

usage: hf_llama_reference.py EXPORT_DIR IN_FOLDER OUT_FOLDER [--bf16-of F32_EXPORT_DIR]
IN_FOLDER (see tensor_io.py): input_ids i32 [T], one sequence at positions 0..T-1.
OUT_FOLDER: logits f64 [T, vocab_size], computed in float64 from the stored weights.
--bf16-of: first check that every tensor is, bit for bit, torch's bfloat16 rounding (nearest
even) of the same tensor in F32_EXPORT_DIR.
"""
import json
import os
import struct
import sys

import torch
import torch.nn.functional as F

from llama_reference import apply_rope, rms_norm
from tensor_io import read_folder, write_folder

SAFETENSORS_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16}
TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def read_safetensors(path):
    """u64 little-endian header length N, N bytes of JSON, then the data the offsets index."""
    with open(path, "rb") as f:
        data = f.read()
    (header_length,) = struct.unpack("<Q", data[:8])
    assert (8 + header_length) % 8 == 0, f"header of {header_length} bytes leaves the data unaligned"
    header = json.loads(data[8 : 8 + header_length])
    metadata = header.pop("__metadata__", {})
    assert metadata.get("format") == "pt", f"transformers needs __metadata__.format 'pt', got {metadata}"
    body = bytearray(data[8 + header_length :])
    tensors, covered = {}, 0
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        begin, end = entry["data_offsets"]
        assert begin == covered, f"{name}: data starts at {begin}, the previous tensor ended at {covered}"
        tensor = torch.frombuffer(body[begin:end], dtype=SAFETENSORS_DTYPES[entry["dtype"]])
        tensors[name] = tensor.reshape(entry["shape"])
        covered = end
    assert covered == len(body), f"{len(body) - covered} bytes after the last tensor"
    return tensors


def expected_shapes(cfg):
    """Every tensor LlamaForCausalLM loads, with the shape it requires (nn.Linear: [out, in])."""
    hidden, ffn, vocab = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    D = cfg.get("head_dim", hidden // cfg["num_attention_heads"])
    q, kv = cfg["num_attention_heads"] * D, cfg["num_key_value_heads"] * D
    shapes = {"model.embed_tokens.weight": [vocab, hidden], "model.norm.weight": [hidden]}
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = [vocab, hidden]
    for i in range(cfg["num_hidden_layers"]):
        layer = {"input_layernorm": [hidden], "post_attention_layernorm": [hidden],
                 "self_attn.q_proj": [q, hidden], "self_attn.k_proj": [kv, hidden], "self_attn.v_proj": [kv, hidden],
                 "self_attn.o_proj": [hidden, q], "mlp.gate_proj": [ffn, hidden], "mlp.up_proj": [ffn, hidden],
                 "mlp.down_proj": [hidden, ffn]}
        shapes.update({f"model.layers.{i}.{name}.weight": shape for name, shape in layer.items()})
    return shapes


def forward(w, cfg, input_ids):
    """LlamaForCausalLM: pre-norm decoder layers, rotate-half RoPE, GQA (query head h uses KV
    head h // (H / Hkv), transformers' repeat_kv), causal softmax attention, SwiGLU MLP."""
    T = input_ids.shape[0]
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg["hidden_size"] // H
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    positions = torch.arange(T)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    x = w["model.embed_tokens.weight"][input_ids.long()]
    for i in range(cfg["num_hidden_layers"]):
        W = lambda name: w[f"model.layers.{i}.{name}.weight"]
        h = rms_norm(x, W("input_layernorm"), eps)
        q = apply_rope((h @ W("self_attn.q_proj").T).view(T, H, D), positions, theta).transpose(0, 1)
        k = apply_rope((h @ W("self_attn.k_proj").T).view(T, Hkv, D), positions, theta).transpose(0, 1)
        v = (h @ W("self_attn.v_proj").T).view(T, Hkv, D).transpose(0, 1)
        k, v = k.repeat_interleave(H // Hkv, dim=0), v.repeat_interleave(H // Hkv, dim=0)  # [H, T, D]
        scores = (q @ k.transpose(1, 2)) / D**0.5
        attended = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1) @ v
        x = x + attended.transpose(0, 1).reshape(T, H * D) @ W("self_attn.o_proj").T
        h = rms_norm(x, W("post_attention_layernorm"), eps)
        x = x + (F.silu(h @ W("mlp.gate_proj").T) * (h @ W("mlp.up_proj").T)) @ W("mlp.down_proj").T
    x = rms_norm(x, w["model.norm.weight"], eps)
    lm_head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ lm_head.T


def load_export(folder):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["model_type"] == "llama", cfg
    assert cfg["hidden_act"] == "silu" and cfg.get("rope_scaling") is None, cfg
    assert cfg.get("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"]) * cfg["num_attention_heads"] == cfg["hidden_size"]
    weights = read_safetensors(os.path.join(folder, "model.safetensors"))
    shapes = expected_shapes(cfg)
    assert set(weights) == set(shapes), f"missing {set(shapes) - set(weights)}, unexpected {set(weights) - set(shapes)}"
    for name, tensor in weights.items():
        assert list(tensor.shape) == shapes[name], f"{name}: {list(tensor.shape)}, config needs {shapes[name]}"
        assert tensor.dtype == TORCH_DTYPES[cfg["torch_dtype"]], f"{name}: {tensor.dtype}, config says {cfg['torch_dtype']}"
    return cfg, weights


def main():
    export_folder, in_folder, out_folder = sys.argv[1:4]
    cfg, weights = load_export(export_folder)
    if "--bf16-of" in sys.argv:
        _, f32_weights = load_export(sys.argv[sys.argv.index("--bf16-of") + 1])
        for name, tensor in weights.items():
            rounded = f32_weights[name].to(torch.bfloat16)
            if not torch.equal(tensor.view(torch.int16), rounded.view(torch.int16)):
                sys.exit(f"{name}: bf16 values differ from torch's rounding of the f32 export")
    _, tensors = read_folder(in_folder)
    logits = forward({n: t.to(torch.float64) for n, t in weights.items()}, cfg, torch.from_numpy(tensors["input_ids"]))
    write_folder(out_folder, {}, {"logits": logits.numpy()})


if __name__ == "__main__":
    main()
