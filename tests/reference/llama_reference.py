"""An independent PyTorch implementation of the Llama model ringlm trains, written the way a
PyTorch user would write it (materialised attention scores with an explicit mask,
F.cross_entropy, autograd). It shares no code with ringlm; tests feed it the same weights and
packed batch and compare logits, loss and every parameter gradient.

usage: llama_reference.py IN_FOLDER OUT_FOLDER [--dtype float64|float32]
IN_FOLDER (see tensor_io.py): meta = model config; tensors = parameters by ringlm's names
(model_config.h) plus input_ids, position_ids, global_index, segment_ids, labels (i32 [T]).
OUT_FOLDER: logits [T, V], loss (sum over tokens with a label) [1], and grad.<name> per parameter.
"""
import sys

import torch
import torch.nn.functional as F

from tensor_io import read_folder, write_folder


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x, positions, theta):
    # Hugging Face Llama: inv_freq_i = theta^(-2i/D), cos/sin repeated over the two halves
    D = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=x.dtype) / D))
    angles = positions.to(x.dtype)[:, None] * inv_freq[None, :]  # [T, D/2]
    emb = torch.cat((angles, angles), dim=-1)[:, None, :]  # [T, 1, D]
    return x * emb.cos() + rotate_half(x) * emb.sin()


def forward(p, batch, cfg):
    T = batch["input_ids"].shape[0]
    H, Hkv = cfg["n_heads"], cfg["n_kv_heads"]
    D = cfg["dim"] // H
    x = p["tok_embeddings"][batch["input_ids"].long()]
    seg, gidx = batch["segment_ids"], batch["global_index"]
    visible = (seg[:, None] == seg[None, :]) & (gidx[None, :] <= gidx[:, None])  # [Tq, Tk]
    for i in range(cfg["n_layers"]):
        L = lambda name: p[f"layers.{i}.{name}"]
        xn = rms_norm(x, L("attention_norm"), cfg["norm_eps"])
        q = apply_rope((xn @ L("attention.wq").T).view(T, H, D), batch["position_ids"], cfg["rope_theta"])
        k = apply_rope((xn @ L("attention.wk").T).view(T, Hkv, D), batch["position_ids"], cfg["rope_theta"])
        v = (xn @ L("attention.wv").T).view(T, Hkv, D)
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
        scores = torch.einsum("thd,shd->hts", q, k) / D**0.5
        scores = scores.masked_fill(~visible[None], float("-inf"))
        attended = torch.einsum("hts,shd->thd", torch.softmax(scores, dim=-1), v).reshape(T, H * D)
        h = x + attended @ L("attention.wo").T
        hn = rms_norm(h, L("ffn_norm"), cfg["norm_eps"])
        x = h + (F.silu(hn @ L("feed_forward.w1").T) * (hn @ L("feed_forward.w3").T)) @ L("feed_forward.w2").T
    x = rms_norm(x, p["norm"], cfg["norm_eps"])
    classifier = p["tok_embeddings"] if cfg.get("tied_embeddings", True) else p["output"]
    return x @ classifier.T


def main():
    in_folder, out_folder = sys.argv[1], sys.argv[2]
    dtype = torch.float64 if "--dtype" not in sys.argv or sys.argv[sys.argv.index("--dtype") + 1] == "float64" else torch.float32
    cfg, tensors = read_folder(in_folder)
    batch_names = ["input_ids", "position_ids", "global_index", "segment_ids", "labels"]
    batch = {n: torch.from_numpy(tensors[n]) for n in batch_names}
    params = {n: torch.tensor(a, dtype=dtype, requires_grad=True) for n, a in tensors.items() if n not in batch_names}
    logits = forward(params, batch, cfg)
    loss = F.cross_entropy(logits, batch["labels"].long(), ignore_index=-100, reduction="sum")
    loss.backward()
    out = {"logits": logits.detach().numpy(), "loss": loss.detach().reshape(1).numpy()}
    for name, p in params.items():
        out["grad." + name] = p.grad.numpy()
    write_folder(out_folder, {}, out)


if __name__ == "__main__":
    main()
