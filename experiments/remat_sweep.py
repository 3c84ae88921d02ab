"""Ablation sweep: memory policy × target length × encoder depth -> compiled memory (and optionally step time).

    python experiments/remat_sweep.py                      # reference dims, batch 64, compile only
    python experiments/remat_sweep.py --time               # also time real steps (slow on a CPU)
    python experiments/remat_sweep.py --tiny --out DIR     # a minute: tiny model and lengths

Writes remat_sweep.csv/.json and two plots under experiments/results/ (or --out): temp memory against target length
on log-log axes per policy, and the memory-time Pareto front (with --time). Source length is fixed (--src-len).

Results, on the development machine (2 cores of an AMD EPYC CPU, 24 GiB, no GPU, jax 0.10.2,
NMT_DATA_DIR=../shared/data/multi30k); the files are in experiments/results/:

  "none;full;dots_no_batch;sqrt_t;offload:dec_h,dec_c,attn_context,attn_hidden"`, compile only, source length 50;
  `remat_sweep.json/.csv/.png`): temp MiB at T = 32 / 128 / 512 / 1,024 with 2 encoder layers: none 779 / 1,848 /
  6,124 / 11,826; full 559 / 1,349 / 4,512 / 8,729; dots_no_batch 674 / 1,584 / 5,227 / 10,084; sqrt_t 247 / 305 /
  414 / 503; the offload policy 571 / 1,397 / 4,704 / 9,113 (CPU: its 4 named tensors are placed on host in the
  program, 192 MiB at T = 1,024, but not moved). With 8 encoder layers sqrt_t needs 466–722 MiB, none 1,548–12,592.
"""

from __future__ import annotations

import argparse
import csv
import json
import os

from nmt import cli
from nmt.model.policies import REGISTRY
from nmt.tools.bench_memory import sweep


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny model and lengths (seconds)")
    p.add_argument("--time", action="store_true", help="also time steps")
    p.add_argument("--rows", type=int, default=64)
    p.add_argument("--src-len", type=int, default=50)
    p.add_argument("--lengths", default="32,64,128,256,512,1024", help="target lengths")
    p.add_argument("--depths", default="2,4,8", help="encoder depths")
    p.add_argument(
        "--policies", help="policies, separated by ';' (default: all; with --tiny: none, full, sqrt_t and one offload)"
    )
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = p.parse_args(argv)
    if args.tiny:
        preset, policies, lengths, depths, rows, src, vocab = (
            "tiny",
            ("none", "full", "sqrt_t", "offload:dec_h,attn_context"),
            (8, 32),
            (2,),
            4,
            8,
            50,
        )
    else:
        preset, policies, lengths, depths, rows, src, vocab = (
            "reference",
            tuple(REGISTRY),
            [int(x) for x in args.lengths.split(",")],
            [int(x) for x in args.depths.split(",")],
            args.rows,
            args.src_len,
            8000,
        )
    policies = args.policies.split(";") if args.policies else policies
    rows_out = sweep(preset, policies, lengths, depths, rows, src, vocab, args.time)
    write(rows_out, args.out)
    print(json.dumps({"rows": len(rows_out), "out": args.out}))


def plot(rows, out: str | None = None):
    """Temp memory against target length (log-log, per policy, shallowest depth) and, for timed rows, the
    memory-time Pareto front. Saves PNGs under `out` when given; returns the figures."""
    import matplotlib.pyplot as plt

    depth = min(r["enc_layers"] for r in rows)
    fig, ax = plt.subplots(figsize=(6, 4))
    for policy in dict.fromkeys(r["policy"] for r in rows):
        pts = sorted(
            (r["tgt_len"], r["temp_bytes"]) for r in rows if r["policy"] == policy and r["enc_layers"] == depth
        )
        ax.plot([p[0] for p in pts], [p[1] / 2**20 for p in pts], "o-", label=policy)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="target length",
        ylabel="temp memory (MiB)",
        title=f"compiled temp memory, {depth} encoder layers",
    )
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


if __name__ == "__main__":
    cli.main_guard(main, "remat_sweep")
