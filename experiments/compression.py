"""Compressed models of the default run against it: parameters, size on disk, CPU decoding speed and test BLEU.

    python experiments/compression.py --run runs/r5k_ema995 --prune 128 --finetune 500     # ~15 min on 2 CPU cores

Each variant is written by `python -m nmt.compress` into runs/compress/ (the original by `nmt.release`, so that no
variant's size counts optimizer state); then `python -m nmt.evaluate --split test_2016_flickr` (greedy and beam 5)
and `python -m nmt.bench decode --sentences 200 --batch1-sentences 30 --repeats 3` (beam 5, whole vocabulary, fixed
batches: batch-1 latency and batch-64 tokens/s, medians) score each one, one command at a time. Writes
compression.json into --out (default experiments/results).

Results (the development machine, 2 CPU cores, 2026-11-30; compression.json; the table is in README, "Smaller
models"): pruned to 128 units a layer and fine-tuned 500 steps, the default run has 5.17 M parameters instead of
7.45 M, decodes at batch 1 in 4.83 ms a sentence instead of 6.31 (1.31x) and at batch 64 at 2,824 tokens/s instead
of 2,538 (1.11x), and loses 4.0 BLEU with beam 5 (34.46 / 34.86 against 38.44 / 38.87).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from nmt.tools.results import write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _last_json(cmd: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-m", *cmd], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(os.path.join(path, "checkpoints"))
               for f in files)


def score(path: str) -> dict:
    ev = _last_json(["nmt.evaluate", "--checkpoint", path, "--split", "test_2016_flickr"])
    bench = _last_json(["nmt.bench", "decode", "--checkpoint", path, "--sentences", "200", "--batch1-sentences",
                        "30", "--repeats", "3"])
    import jax
    from nmt.run import load_run
    return {"parameters": int(sum(x.size for x in jax.tree.leaves(load_run(path).params))),
            "checkpoint_bytes": _size(path),
            "test_greedy": [round(ev["greedy"]["bleu"], 2), round(ev["greedy"]["bleu_lc"], 2)],
            "test_beam5": [round(ev["beam5"]["bleu"], 2), round(ev["beam5"]["bleu_lc"], 2)],
            "latency_ms_batch1": round(bench["latency_ms_batch1"], 2),
            "tokens_per_s_batch64": round(bench["tokens_per_s_batch64"], 1)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=os.path.join(ROOT, "runs", "r5k_ema995"))
    p.add_argument("--prune", type=int, action="append", default=[], help="units a layer to keep (repeatable)")
    p.add_argument("--finetune", type=int, default=500, help="fine-tuning steps of each pruned model")
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    args = p.parse_args(argv)
    base = os.path.join(ROOT, "runs", "compress")
    variants = {"original": ["nmt.release", "--checkpoint", args.run, "--out", os.path.join(base, "original")]}
    for n in args.prune:
        for steps in (0, args.finetune):
            name = f"prune{n}" + (f"_ft{steps}" if steps else "")
            variants[name] = ["nmt.compress", "--checkpoint", args.run, "--out", os.path.join(base, name),
                              "--prune-hidden", str(n), "--finetune-steps", str(steps), "--no-progress"]
    rows = {}
    for name, cmd in variants.items():
        path = cmd[cmd.index("--out") + 1]
        if not os.path.exists(path):
            subprocess.run([sys.executable, "-m", *cmd], cwd=ROOT, check=True)
        rows[name] = score(path)
        print(name, rows[name], flush=True)
    write_result(args.out, "compression.json", {"run": os.path.relpath(args.run, ROOT), "variants": rows})


if __name__ == "__main__":
    main()
