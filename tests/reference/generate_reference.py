"""Greedy generation from a llama2.c checkpoint, independent of ringlm: reads the .bin with
numpy, keeps llama2.c's own conventions (interleaved RoPE pairs on the unpermuted wq/wk,
query head h -> KV head h // (H / Hkv)), recomputes the whole prefix every step (no KV cache).

usage: generate_reference.py MODEL.bin MAX_NEW_TOKENS ID ID ...   (prompt ids, BOS first)
prints the generated ids on one line; stops after BOS (1) or EOS (2) like ringlm generate.
"""
import sys

import numpy as np
import torch


def load(path):
    with open(path, "rb") as f:
        header = np.frombuffer(f.read(28), dtype=np.int32)
        data = np.frombuffer(f.read(), dtype=np.float32)
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = (int(x) for x in header)
    shared = vocab > 0
    vocab = abs(vocab)
    head = dim // heads
    kv_dim = kv_heads * head
    shapes = [("tok", (vocab, dim)), ("att_norm", (layers, dim)), ("wq", (layers, dim, dim)),
              ("wk", (layers, kv_dim, dim)), ("wv", (layers, kv_dim, dim)), ("wo", (layers, dim, dim)),
              ("ffn_norm", (layers, dim)), ("w1", (layers, hidden, dim)), ("w2", (layers, dim, hidden)),
              ("w3", (layers, hidden, dim)), ("norm", (dim,)), ("freq_real", (seq_len, head // 2)),
              ("freq_imag", (seq_len, head // 2))]
    weights, offset = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape))
        weights[name] = torch.from_numpy(data[offset:offset + n].reshape(shape).astype(np.float64))
        offset += n
    weights["out"] = weights["tok"] if shared else torch.from_numpy(
        data[offset:offset + vocab * dim].reshape(vocab, dim).astype(np.float64))
    return dict(dim=dim, layers=layers, heads=heads, kv_heads=kv_heads, head=head), weights


def rms(x, w):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-5) * w


def rope_interleaved(x, positions):
    # llama2.c: pairs (2i, 2i+1) rotated by pos * 10000^(-2i/head)
    T, H, D = x.shape
    i = torch.arange(0, D, 2, dtype=torch.float64)
    angle = positions[:, None].double() * (10000.0 ** (-i / D))[None, :]
    cos, sin = angle.cos()[:, None, :], angle.sin()[:, None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


def logits_of_last(cfg, w, ids):
    T = len(ids)
    H, Hkv, D = cfg["heads"], cfg["kv_heads"], cfg["head"]
    x = w["tok"][torch.tensor(ids)]
    pos = torch.arange(T)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(cfg["layers"]):
        xn = rms(x, w["att_norm"][l])
        q = rope_interleaved((xn @ w["wq"][l].T).view(T, H, D), pos)
        k = rope_interleaved((xn @ w["wk"][l].T).view(T, Hkv, D), pos).repeat_interleave(H // Hkv, dim=1)
        v = (xn @ w["wv"][l].T).view(T, Hkv, D).repeat_interleave(H // Hkv, dim=1)
        s = torch.einsum("thd,shd->hts", q, k) / D**0.5
        s = s.masked_fill(~causal[None], float("-inf"))
        x = x + torch.einsum("hts,shd->thd", s.softmax(-1), v).reshape(T, H * D) @ w["wo"][l].T
        hn = rms(x, w["ffn_norm"][l])
        x = x + (torch.nn.functional.silu(hn @ w["w1"][l].T) * (hn @ w["w3"][l].T)) @ w["w2"][l].T
    return rms(x, w["norm"])[-1] @ w["out"].T


def main():
    cfg, w = load(sys.argv[1])
    max_new = int(sys.argv[2])
    ids = [int(t) for t in sys.argv[3:]]
    generated = []
    for _ in range(max_new):
        nxt = int(torch.argmax(logits_of_last(cfg, w, ids + generated)))
        if nxt in (1, 2):
            break
        generated.append(nxt)
    print(" ".join(str(t) for t in generated))


if __name__ == "__main__":
    main()
