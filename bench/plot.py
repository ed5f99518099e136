"""Plots of a `ringlm bench` sweep (bench/sweep.sh), with Debian's python3-matplotlib.

usage: plot.py SWEEP_CSV OUT_DIR
Adds the column parallel_efficiency to SWEEP_CSV (in place): tokens/s at S over S times the
tokens/s of the S=1 point with the same sequence length (strong-scaling
efficiency; empty without an S=1 point). Writes to OUT_DIR:
  strong_scaling.png  tokens/s vs S at each fixed sequence length (dashed: ideal, S x the S=1 point)
  weak_scaling.png    step time vs S at fixed tokens per rank (T / S); flat = perfect weak scaling
  memory.png          per-rank peak memory (allocator) vs sequence length, one line per S
  time_split.png      per point: compute, ring wait, all-reduce, AdamW, rest of the step (rank 0)
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def group_by(rows, key):
    """{key(row): [rows]}, in the rows' order."""
    groups = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return groups


def finish(fig, ax, path, xlabel, ylabel, title, xticks=None):
    """Labels, legend and the PNG: the same for every plot."""
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if xticks is not None:
        ax.set_xticks(xticks)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    path, out = sys.argv[1], sys.argv[2]
    rows = list(csv.DictReader(open(path)))
    num = lambda r, k: float(r[k])  # noqa: E731
    base = {r["sequence_len"]: r for r in rows if int(r["S"]) == 1}  # S=1 runs local attention: no variant
    for r in rows:
        one = base.get(r["sequence_len"])
        r["parallel_efficiency"] = (f"{num(r, 'tokens_per_s') / (int(r['S']) * num(one, 'tokens_per_s')):.4f}"
                                    if one else "")
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)

    # strong scaling
    sp_degrees = sorted({int(r["S"]) for r in rows})
    fig, ax = plt.subplots(figsize=(6, 4))
    for length, points in sorted(group_by(rows, lambda r: int(r["sequence_len"])).items()):
        points.sort(key=lambda r: int(r["S"]))
        s = [int(r["S"]) for r in points]
        line, = ax.plot(s, [num(r, "tokens_per_s") for r in points], "o-", label=f"T = {length}")
        if s[0] == 1:
            ax.plot(s, [x * num(points[0], "tokens_per_s") for x in s], "--", color=line.get_color(), alpha=0.4)
    finish(fig, ax, f"{out}/strong_scaling.png", "sequence-parallel degree S (ranks)", "tokens/s (global)",
           "Strong scaling (dashed: ideal)", sp_degrees)

    # weak scaling: fixed tokens per rank
    fig, ax = plt.subplots(figsize=(6, 4))
    for share, points in sorted(group_by(rows, lambda r: int(r["sequence_len"]) // int(r["S"])).items()):
        if len(points) < 2:
            continue
        points.sort(key=lambda r: int(r["S"]))
        ax.plot([int(r["S"]) for r in points], [num(r, "step_s_median") for r in points], "o-",
                label=f"{share} tokens per rank")
    finish(fig, ax, f"{out}/weak_scaling.png", "sequence-parallel degree S (T = S x tokens per rank)",
           "step time, median (s)", "Weak scaling (flat = ideal for linear cost; attention grows as T)", sp_degrees)

    # memory
    fig, ax = plt.subplots(figsize=(6, 4))
    for s, points in sorted(group_by(rows, lambda r: int(r["S"])).items()):
        points.sort(key=lambda r: int(r["sequence_len"]))
        ax.plot([int(r["sequence_len"]) for r in points], [num(r, "peak_mem_bytes_per_rank") / 2**20 for r in points],
                "o-", label=f"S = {s}")
    finish(fig, ax, f"{out}/memory.png", "sequence length T (tokens)", "peak memory per rank (MiB, allocator)",
           "Per-rank memory vs sequence length")

    # time split
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(rows)), 4))
    labels = [f"S{r['S']}\nT{int(r['sequence_len']) // 1024}K" for r in rows]
    parts = [("compute_s", "compute"), ("ring_wait_s", "ring wait"), ("allreduce_s", "all-reduce"),
             ("optimizer_s", "AdamW")]
    bottom = [0.0] * len(rows)
    for key, name in parts:
        values = [num(r, key) for r in rows]
        ax.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values)]
    rest = [max(0.0, num(r, "step_s_median") - b) for r, b in zip(rows, bottom)]
    ax.bar(labels, rest, bottom=bottom, label="rest")
    finish(fig, ax, f"{out}/time_split.png", None, "seconds per step (rank 0, medians)", "Time split per step")
    print(f"plots in {out}: strong_scaling.png weak_scaling.png memory.png time_split.png")


if __name__ == "__main__":
    main()
