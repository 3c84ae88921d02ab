"""Ablation sweep: memory policy × target length × encoder depth -> compiled memory (and optionally step time).

    python experiments/remat_sweep.py                      # reference dims, batch 64, compile only
    python experiments/remat_sweep.py --time               # also time real steps (slow on a CPU)
    python experiments/remat_sweep.py --tiny --out DIR     # seconds: what the tests run

Writes remat_sweep.csv/.json and two plots under experiments/results/ (or --out): temp memory against target length
on log-log axes per policy, and the memory-time Pareto front (with --time). Source length is fixed (--src-len).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from nmt import step as step_lib  # noqa: E402
from nmt.config import get_config  # noqa: E402
from nmt.memory.report import memory_report  # noqa: E402

POLICIES = ("none", "full", "dots", "dots_no_batch", "save:dec_h,dec_c,attn_context,attn_hidden",
            "offload:dec_h,dec_c,attn_context,attn_hidden")


def step_time(config, vocab: int, rows: int, src_len: int, tgt_len: int, repeats: int = 3) -> float:
    model, opt = step_lib.make_model(config, vocab), step_lib.make_optimizer(config.train)
    state = step_lib.init_state(model, opt, jax.random.key(0))
    ids = lambda n: jax.random.randint(jax.random.key(n), (rows, n), 4, vocab, jnp.int32)
    batch = {"src": ids(src_len), "tgt_in": ids(tgt_len), "tgt_out": ids(tgt_len)}
    train_fn, _ = step_lib.compile_steps(config, model, opt)
    state, _ = train_fn(state, batch, jax.random.key(1))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        state, m = train_fn(state, batch, jax.random.key(1))
        jax.block_until_ready(m)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def sweep(preset: str, policies, lengths, depths, rows: int, src_len: int, vocab: int, timed: bool, log=print):
    rows_out = []
    for depth in depths:
        for policy in policies:
            for t in lengths:
                cfg = get_config(preset, [f"model.enc_layers={depth}", f"model.remat={policy}"])
                rep = memory_report(cfg, vocab, rows, t, src_len)
                row = {"policy": policy, "enc_layers": depth, "tgt_len": t, "src_len": src_len, "rows": rows,
                       "temp_bytes": rep["temp_bytes"], "host_temp_bytes": rep.get("host_temp_bytes"),
                       "residual_bytes_host": rep["residual_bytes_host"]}
                if timed:
                    row["step_s"] = step_time(cfg, vocab, rows, src_len, t)
                log(json.dumps(row))
                rows_out.append(row)
    return rows_out


def plot(rows, out: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
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
        fig.savefig(os.path.join(out, "remat_pareto.png"), dpi=120)
    plt.close("all")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny model and lengths (seconds)")
    p.add_argument("--time", action="store_true", help="also time steps")
    p.add_argument("--rows", type=int, default=64)
    p.add_argument("--src-len", type=int, default=50)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = p.parse_args(argv)
    if args.tiny:
        preset, policies, lengths, depths, rows, src, vocab = \
            "tiny", ("none", "full", "offload:dec_h,attn_context"), (8, 32), (2,), 4, 8, 50
    else:
        preset, policies, lengths, depths, rows, src, vocab = \
            "reference", POLICIES, (32, 64, 128, 256, 512, 1024), (2, 4, 8), args.rows, args.src_len, 8000
    rows_out = sweep(preset, policies, lengths, depths, rows, src, vocab, args.time)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "remat_sweep.json"), "w") as f:
        json.dump(rows_out, f, indent=1)
    with open(os.path.join(args.out, "remat_sweep.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=sorted({k for r in rows_out for k in r}))
        w.writeheader()
        w.writerows(rows_out)
    plot(rows_out, args.out)
    print(json.dumps({"rows": len(rows_out), "out": args.out}))


if __name__ == "__main__":
    main()
