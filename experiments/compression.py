"""Compressed models of the default run against it: parameters, size on disk, CPU decoding speed and test BLEU, each
method alone and combined, with the decoding flags plain and with `--shortlist 256 --slots 64`.

    python experiments/compression.py                           # every variant below; ~5 min each on 2 CPU cores
    python experiments/compression.py --variant embed64_ft500   # some of them (repeatable); the others' rows stay
    python experiments/compression.py --plot                    # BLEU against batch-1 speed-up, from the rows
    python experiments/compression.py --retime 3 --variant original --variant embed64_ft500 ...   # in turns

The default run is runs/r5k_ema995, the default preset at its earlier learning rate of 2e-3 (`python
experiments/recipe.py --lever ema_5k`; the preset has trained at 3e-3 since 2026-12-01).

Each variant is a run directory in runs/compress/: written by `python -m nmt.compress` from the default run (or from
the distilled students of experiments/distillation.py, trained by `python -m nmt.distill` for 5,000 steps and on to
7,500; see VARIANTS), or by `nmt.release` for the uncompressed models, so that no size counts optimizer state. Each
is scored one command at a time, nothing else on the machine: `python -m nmt.evaluate --split test_2016_flickr`
(greedy and beam 5, BLEU cased / lowercased) and twice `python -m nmt.bench decode --sentences 200
--batch1-sentences 30 --repeats 3` (beam 5, medians): plain, and with `--shortlist 256 --slots 64`. Rows go to
compression.json in --out (default experiments/results) as each variant finishes; the plot to compression.png.
`--retime` times the given variants again without flags, taking turns for that many rounds, and keeps the medians
(batch-1 timings taken at different hours of a shared machine compare less well).

Results: README.md, "Smaller models" (the development machine, 2 CPU cores, 2026-11-30).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from nmt.tools.results import write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN, STUDENT_5000, STUDENT = "runs/r5k_ema995", "runs/distill/s192_5000", "runs/distill/s192"
FT = ["--finetune-steps", "500", "--no-progress"]
VARIANTS = {  # name: (source run, nmt.compress options; None = released as it is)
    "original": (RUN, None),
    "prune128_ft500": (RUN, ["--prune-hidden", "128", *FT]),
    "embed64": (RUN, ["--factor", "tgt_embed", "--rank", "64"]),
    "embed64_ft500": (RUN, ["--factor", "tgt_embed", "--rank", "64", *FT]),
    "energy0.9_ft500": (RUN, ["--factor", "all", "--energy", "0.9", *FT]),
    "int8": (RUN, ["--int8"]),
    "embed64_ft500_int8": (RUN, ["--factor", "tgt_embed", "--rank", "64", "--int8", *FT]),
    "embed32_ft500": (RUN, ["--factor", "tgt_embed", "--rank", "32", *FT]),
    "prune192_embed64_ft500": (RUN, ["--prune-hidden", "192", "--factor", "tgt_embed", "--rank", "64", *FT]),
    "student": (STUDENT_5000, None),
    "student_embed64_ft500_int8": (STUDENT_5000, ["--factor", "tgt_embed", "--rank", "64", "--int8", *FT]),
    "student7500": (STUDENT, None),
    "student7500_embed64_ft500": (STUDENT, ["--factor", "tgt_embed", "--rank", "64", *FT]),
}
FLAGS = {"plain": ["--slots", "0"], "shortlist256_slots64": ["--shortlist", "256", "--slots", "64"]}


def _last_json(cmd: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-m", *cmd], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _size(path: str) -> int:
    return sum(
        os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(os.path.join(path, "checkpoints")) for f in files
    )


def make(name: str) -> str:
    source, opts = VARIANTS[name]
    path = os.path.join(ROOT, "runs", "compress", name)
    if not os.path.exists(path):
        cmd = [
            "nmt.release" if opts is None else "nmt.compress",
            "--run",
            os.path.join(ROOT, source),
            "--out",
            path,
            *(opts or []),
        ]
        subprocess.run([sys.executable, "-m", *cmd], cwd=ROOT, check=True)
    return path


def score(path: str) -> dict:
    import jax

    from nmt.run import load_run

    ev = _last_json(["nmt.evaluate", "--run", path, "--split", "test_2016_flickr", "--greedy"])
    row = {
        "parameters": int(sum(x.size for x in jax.tree.leaves(load_run(path).params))),
        "checkpoint_bytes": _size(path),
        "test_greedy": [round(ev["greedy"]["bleu"], 2), round(ev["greedy"]["bleu_lc"], 2)],
        "test_beam5": [round(ev["beam5"]["bleu"], 2), round(ev["beam5"]["bleu_lc"], 2)],
    }
    for label, flags in FLAGS.items():
        row[label] = bench(path, flags)
    return row


def bench(path: str, flags: list[str]) -> dict:
    b = _last_json(
        [
            "nmt.bench",
            "decode",
            "--run",
            path,
            "--sentences",
            "200",
            "--batch1-sentences",
            "30",
            "--repeats",
            "3",
            *flags,
        ]
    )
    return {
        "latency_ms_batch1": round(b["latency_ms_batch1"], 2),
        "tokens_per_s_batch64": round(b["tokens_per_s_batch64"], 1),
        "mean_output_tokens": round(b["mean_output_tokens"], 2),
    }


def retime(rows: dict, names: list[str], rounds: int) -> None:
    """Times the variants again without flags, in `rounds` rounds that take them in turn, and keeps each one's
    median batch-1 latency and batch-64 rate (the rounds' values beside them): variants timed at different hours
    of a shared machine compare less well than variants timed in turns."""
    runs = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            runs[name].append(bench(make(name), []))
    for name, results in runs.items():
        latency = [r["latency_ms_batch1"] for r in results]
        rate = [r["tokens_per_s_batch64"] for r in results]
        rows[name]["plain"].update(
            latency_ms_batch1=statistics.median(latency),
            tokens_per_s_batch64=statistics.median(rate),
            rounds_latency_ms=latency,
            rounds_tokens_per_s=rate,
        )


def speedup(rows: dict, name: str, label: str) -> float:
    """Batch-1 speed-up over the original under the same flags: where both were timed in turns, the smallest of the
    rounds' ratios (each round times them minutes apart); else the ratio of their timings."""
    base, r = rows["original"][label], rows[name][label]
    if "rounds_latency_ms" in base and "rounds_latency_ms" in r:
        return min(b / x for b, x in zip(base["rounds_latency_ms"], r["rounds_latency_ms"]))
    return base["latency_ms_batch1"] / r["latency_ms_batch1"]


def plot(rows: dict, out: str) -> None:
    """BLEU against batch-1 speed-up, one panel per set of decoding flags; models more than 5 BLEU below the
    original are left out (they say nothing about the trade)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = rows["original"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, label in zip(axes, FLAGS):
        for name, r in rows.items():
            if r["test_beam5"][0] < base["test_beam5"][0] - 5:
                continue
            x = speedup(rows, name, label)
            ax.scatter(x, r["test_beam5"][0])
            ax.annotate(
                name, (x, r["test_beam5"][0]), fontsize=7, xytext=(3, 3), textcoords="offset points", rotation=20
            )
        ax.axhline(base["test_beam5"][0] - 0.5, color="gray", ls="--", lw=0.8)
        ax.axvline(2.0, color="gray", ls="--", lw=0.8)
        ax.set(
            title="decoding flags: " + (" ".join(FLAGS[label]) or "none"),
            xlabel="batch-1 speed-up over the original with the same flags",
        )
    axes[0].set_ylabel("test_2016_flickr BLEU, beam 5 (cased)")
    fig.suptitle("Compressed models of the default run (2 CPU cores); dashed: the target, 2x within 0.5 BLEU")
    plt.tight_layout()
    plt.savefig(os.path.join(out, "compression.png"), dpi=100)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="score these (default: all)")
    p.add_argument("--plot", action="store_true", help="only draw compression.png from the stored rows")
    p.add_argument(
        "--retime",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="only time the --variant models again without flags, taking turns for ROUNDS rounds",
    )
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    args = p.parse_args(argv)
    stored = os.path.join(args.out, "compression.json")
    rows = json.load(open(stored))["variants"] if os.path.exists(stored) else {}
    header = {"run": RUN, "students": [STUDENT_5000, STUDENT]}
    if args.retime:
        retime(rows, args.variant or list(rows), args.retime)
        write_result(args.out, "compression.json", {**header, "variants": rows})
    elif not args.plot:
        for name in args.variant or list(VARIANTS):
            rows[name] = score(make(name))
            print(name, rows[name], flush=True)
            write_result(args.out, "compression.json", {**header, "variants": rows})
    plot(rows, args.out)


if __name__ == "__main__":
    main()
