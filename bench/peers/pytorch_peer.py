"""The PyTorch peer of `ringlm bench`: the same Llama training step (forward, backward, global
gradient clipping at 1.0, AdamW) written the way a PyTorch user writes it: nn.Linear layers,
batched matmuls over [B, H, T, D], a materialised causal mask with softmax (Debian's torch 1.13
has no F.scaled_dot_product_attention), F.cross_entropy, torch.optim.AdamW, float32.

usage: pytorch_peer.py --batch 2 --seq-len 1024 [--threads 1] [--warmup 2] [--steps 5]
  model: --dim 512 --layers 8 --heads 8 --kv-heads 2 --ffn 1376 --vocab 4096 (tied embeddings,
  as ringlm's default)
Prints one JSON line: tokens_per_s (from the median step), step_s (every measured step),
n_parameters, max_rss_bytes (ru_maxrss of this process at the end: the whole process, weights,
optimizer state, activations and the interpreter).
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, seq_len, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.arange(seq_len, dtype=torch.float32)[:, None] * inv_freq[None, :]
    emb = torch.cat((angles, angles), dim=-1)  # [T, D], Hugging Face "rotate halves" layout
    return emb.cos(), emb.sin()


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, dim, n_heads, n_kv_heads):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, dim // n_heads
        self.wq = nn.Linear(dim, n_heads * self.head_dim, bias=False)
        self.wk = nn.Linear(dim, n_kv_heads * self.head_dim, bias=False)
        self.wv = nn.Linear(dim, n_kv_heads * self.head_dim, bias=False)
        self.wo = nn.Linear(n_heads * self.head_dim, dim, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # [B, H, T, D]
        k = self.wk(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        repeat = self.n_heads // self.n_kv_heads
        k = k.repeat_interleave(repeat, dim=1)
        v = v.repeat_interleave(repeat, dim=1)
        scores = (q @ k.transpose(-1, -2)) / self.head_dim**0.5  # [B, H, T, T]
        scores = scores.masked_fill(mask, float("-inf"))
        out = torch.softmax(scores, dim=-1) @ v
        return self.wo(out.transpose(1, 2).reshape(B, T, -1))


class FeedForward(nn.Module):
    def __init__(self, dim, ffn_dim):
        super().__init__()
        self.w1 = nn.Linear(dim, ffn_dim, bias=False)
        self.w2 = nn.Linear(ffn_dim, dim, bias=False)
        self.w3 = nn.Linear(dim, ffn_dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.attention_norm = RMSNorm(a.dim, 1e-5)
        self.attention = Attention(a.dim, a.heads, a.kv_heads)
        self.ffn_norm = RMSNorm(a.dim, 1e-5)
        self.feed_forward = FeedForward(a.dim, a.ffn)

    def forward(self, x, cos, sin, mask):
        h = x + self.attention(self.attention_norm(x), cos, sin, mask)
        return h + self.feed_forward(self.ffn_norm(h))


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.tok_embeddings = nn.Embedding(a.vocab, a.dim)
        self.layers = nn.ModuleList(Block(a) for _ in range(a.layers))
        self.norm = RMSNorm(a.dim, 1e-5)
        self.output = nn.Linear(a.dim, a.vocab, bias=False)
        self.output.weight = self.tok_embeddings.weight  # tied, as ringlm's default
        cos, sin = rope_tables(a.dim // a.heads, a.seq_len, 10000.0)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        causal = torch.ones(a.seq_len, a.seq_len, dtype=torch.bool).triu(1)  # True = hidden
        self.register_buffer("mask", causal, persistent=False)

    def forward(self, ids):
        x = self.tok_embeddings(ids)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin, self.mask)
        return self.output(self.norm(x))


def main():
    p = argparse.ArgumentParser()
    for name, default in [("dim", 512), ("layers", 8), ("heads", 8), ("kv-heads", 2), ("ffn", 1376), ("vocab", 4096),
                          ("batch", 2), ("seq-len", 1024), ("threads", 1), ("warmup", 2), ("steps", 5), ("seed", 1)]:
        p.add_argument("--" + name, type=int, default=default)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = Llama(a)
    for name, w in model.named_parameters():
        if w.dim() == 2:
            nn.init.normal_(w, std=0.02)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    tokens = torch.randint(0, a.vocab, (a.batch, a.seq_len + 1))
    inputs, targets = tokens[:, :-1], tokens[:, 1:]

    times = []
    for step in range(a.warmup + a.steps):
        start = time.perf_counter()
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        elapsed = time.perf_counter() - start
        if step >= a.warmup:
            times.append(elapsed)
    median = statistics.median(times)
    print(json.dumps({
        "impl": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "batch": a.batch, "seq_len": a.seq_len, "tokens_per_s": a.batch * a.seq_len / median,
        "step_s_median": median, "step_s": times, "loss": loss.item(),
        "n_parameters": sum(w.numel() for w in model.parameters()),
        "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
