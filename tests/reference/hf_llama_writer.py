"""Writes a random Hugging Face LlamaForCausalLM folder the way save_pretrained shards one, with
its own safetensors writer (shares no code with ringlm), and the logits of the Hugging Face
forward (hf_llama_reference.forward, float64) on the stored values, for ringlm's import to match.

usage: hf_llama_writer.py HF_DIR IN_FOLDER OUT_FOLDER
IN_FOLDER (see tensor_io.py): meta {"seed", "config": {hidden_size, intermediate_size,
num_hidden_layers, num_attention_heads, num_key_value_heads, vocab_size, rms_norm_eps, rope_theta,
tie_word_embeddings}, "weight_std"}; input_ids i32 [T], one sequence at positions 0..T-1.
HF_DIR gets config.json, model-00001-of-00002.safetensors, model-00002-of-00002.safetensors and
model.safetensors.index.json. The tensors cycle through F32, BF16 and F16; the second shard's
header is not padded (its data starts unaligned, which the format allows); a rotary_emb.inv_freq
buffer, as older transformers saved, is included.
OUT_FOLDER: logits f64 [T, vocab_size].
"""
import json
import os
import struct
import sys

import torch

from hf_llama_reference import expected_shapes, forward
from tensor_io import read_folder, write_folder

DTYPES = [("F32", torch.float32), ("BF16", torch.bfloat16), ("F16", torch.float16)]


def write_safetensors(path, tensors, pad):
    """tensors: [(name, dtype name, torch tensor)] in file order."""
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, dtype, tensor in tensors:
        data = tensor.contiguous().view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    elif len(text) % 8 == 0:
        text += b" "  # keep it unaligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    return offset


def main():
    hf_dir, in_folder, out_folder = sys.argv[1:4]
    meta, inputs = read_folder(in_folder)
    cfg = dict(meta["config"], model_type="llama", architectures=["LlamaForCausalLM"], hidden_act="silu",
               max_position_embeddings=256, rope_scaling=None, attention_bias=False, mlp_bias=False,
               torch_dtype="bfloat16", transformers_version="4.44.0", initializer_range=0.02, pretraining_tp=1)
    generator = torch.Generator().manual_seed(meta["seed"])
    stored = {}  # name -> (dtype name, tensor as stored)
    for i, (name, shape) in enumerate(sorted(expected_shapes(cfg).items())):
        if name.endswith("layernorm.weight") or name == "model.norm.weight":
            values = 1.0 + 0.1 * torch.randn(shape, generator=generator)
        else:
            values = meta["weight_std"] * torch.randn(shape, generator=generator)
        dtype_name, dtype = DTYPES[i % len(DTYPES)]
        stored[name] = (dtype_name, values.to(dtype))
    head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))

    names = list(stored)
    shards = [names[: len(names) // 2], names[len(names) // 2 :]]
    os.makedirs(hf_dir, exist_ok=True)
    weight_map, total = {}, 0
    for s, shard in enumerate(shards):
        file = f"model-{s + 1:05d}-of-{len(shards):05d}.safetensors"
        tensors = [(name, *stored[name]) for name in reversed(shard)]  # not in name order
        if s == 0:
            tensors.append(("model.layers.0.self_attn.rotary_emb.inv_freq", "F32", inv_freq))
        total += write_safetensors(os.path.join(hf_dir, file), tensors, pad=(s == 0))
        weight_map.update({name: file for name, _, _ in tensors})
    with open(os.path.join(hf_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(hf_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    weights = {name: tensor.to(torch.float64) for name, (_, tensor) in stored.items()}
    logits = forward(weights, cfg, torch.from_numpy(inputs["input_ids"]))
    write_folder(out_folder, {}, {"logits": logits.numpy()})


if __name__ == "__main__":
    main()
