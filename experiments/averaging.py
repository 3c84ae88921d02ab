"""Checkpoint averaging on a trained run: the mean of the parameters of its last N evaluations against its best
checkpoint, on val and test_2016_flickr with greedy search and beam 5.

    python experiments/averaging.py --run runs/ttq_nmt --last 1,2,4,6      # a few minutes on 2 CPU cores

The run must keep its evaluations (`train.keep_evaluated`; experiments/time_to_quality.py trains runs/ttq_nmt with
an evaluation every 250 steps, all kept). For each N, `python -m nmt.release --average N` writes the averaged run
and `python -m nmt.evaluate` scores it; N = 1 is the last evaluation alone. Choose N on val, never on test.
Writes averaging_<run name>.json into --out (default experiments/results).

Results: in README's results table and below, once run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from nmt.tools.results import write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def evaluate(run: str, split: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "nmt.evaluate", "--checkpoint", run, "--split", split],
                         capture_output=True, text=True, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    return {name: {k: res[name][k] for k in ("bleu", "bleu_lc")} for name in ("greedy", "beam5")}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=os.path.join(ROOT, "runs", "ttq_nmt"))
    p.add_argument("--last", default="1,2,4,6", help="the N to average, comma-separated")
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    args = p.parse_args(argv)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in args.last.split(",")]:
            out = os.path.join(tmp, f"avg{n}")
            subprocess.run([sys.executable, "-m", "nmt.release", "--checkpoint", args.run, "--out", out,
                            "--average", str(n)], check=True, capture_output=True)
            with open(os.path.join(out, "release.json")) as f:
                steps = json.load(f)["averaged_steps"]
            rows[n] = {"steps": steps, "val": evaluate(out, "val"), "test": evaluate(out, "test_2016_flickr")}
            print(f"last {n} {steps}: val beam5 {rows[n]['val']['beam5']['bleu']:.2f}, "
                  f"test beam5 {rows[n]['test']['beam5']['bleu']:.2f}", flush=True)
    best_n = max(rows, key=lambda n: rows[n]["val"]["beam5"]["bleu"])
    write_result(args.out, f"averaging_{os.path.basename(os.path.normpath(args.run))}.json",
                 {"run": os.path.relpath(args.run, ROOT), "last": rows, "chosen_on_val": best_n})


if __name__ == "__main__":
    main()
