"""Ablation sweep: memory policy × target length × encoder depth -> compiled memory (and optionally step time).

Used by `experiments/remat_sweep.py` and `notebooks/02_remat_ablation.ipynb`.
"""
from __future__ import annotations

import csv
import json
import os

from nmt.bench_memory import time_train_step
from nmt.config import get_config
from nmt.memory.report import compile_train_step, memory_report

POLICIES = ("none", "full", "dots", "dots_no_batch", "sqrt_t", "save:dec_h,dec_c,attn_context,attn_hidden",
            "offload:dec_h,dec_c,attn_context,attn_hidden")


def sweep(preset: str, policies, lengths, depths, rows: int, src_len: int, vocab: int, timed: bool, log=print):
    """One row per (encoder depth, policy, target length): compiled temp memory, host residual bytes and, when
    `timed`, the median step time of a real step on random tokens."""
    rows_out = []
    for depth in depths:
        for policy in policies:
            for t in lengths:
                cfg = get_config(preset, [f"model.enc_layers={depth}", f"model.remat={policy}"])
                compiled = compile_train_step(cfg, vocab, rows, t, src_len)
                rep = memory_report(cfg, vocab, rows, t, src_len, compiled=compiled)
                row = {"policy": policy, "enc_layers": depth, "tgt_len": t, "src_len": src_len, "rows": rows,
                       "temp_bytes": rep["temp_bytes"], "host_temp_bytes": rep.get("host_temp_bytes"),
                       "residual_bytes_host": rep["residual_bytes_host"]}
                if timed:
                    row["step_s"] = time_train_step(cfg, vocab, rows, src_len, t, repeats=3, train_fn=compiled[0])
                log(json.dumps(row))
                rows_out.append(row)
    return rows_out


def plot(rows, out: str | None = None):
    """Temp memory against target length (log-log, per policy, shallowest depth) and, for timed rows, the
    memory-time Pareto front. Saves PNGs under `out` when given; returns the figures."""
    import matplotlib.pyplot as plt
    depth = min(r["enc_layers"] for r in rows)
    fig, ax = plt.subplots(figsize=(6, 4))
    for policy in dict.fromkeys(r["policy"] for r in rows):
        pts = sorted((r["tgt_len"], r["temp_bytes"]) for r in rows if r["policy"] == policy and r["enc_layers"] == depth)
        ax.plot([p[0] for p in pts], [p[1] / 2**20 for p in pts], "o-", label=policy)
    ax.set(xscale="log", yscale="log", xlabel="target length", ylabel="temp memory (MiB)",
           title=f"compiled temp memory, {depth} encoder layers")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs = [fig]
    if out:
        fig.savefig(os.path.join(out, "remat_memory_vs_length.png"), dpi=120)
    timed = [r for r in rows if "step_s" in r]
    if timed:
        fig, ax = plt.subplots(figsize=(6, 4))
        for r in timed:
            ax.scatter(r["step_s"], r["temp_bytes"] / 2**20, s=12)
        front, best = [], float("inf")
        for r in sorted(timed, key=lambda r: r["step_s"]):
            if r["temp_bytes"] < best:
                front.append(r)
                best = r["temp_bytes"]
        ax.plot([r["step_s"] for r in front], [r["temp_bytes"] / 2**20 for r in front], "r-", label="Pareto front")
        ax.set(xlabel="step time (s)", ylabel="temp memory (MiB)", yscale="log")
        ax.legend()
        fig.tight_layout()
        figs.append(fig)
        if out:
            fig.savefig(os.path.join(out, "remat_pareto.png"), dpi=120)
    return figs


def write(rows, out: str) -> None:
    """remat_sweep.json / .csv and the plots under `out`."""
    import matplotlib.pyplot as plt
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "remat_sweep.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(out, "remat_sweep.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
        w.writeheader()
        w.writerows(rows)
    plot(rows, out)
    plt.close("all")
