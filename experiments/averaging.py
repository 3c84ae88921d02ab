"""Checkpoint averaging on a trained run: the mean of the parameters of its last N evaluations against its best
checkpoint, on val and test_2016_flickr with greedy search and beam 5.

    python experiments/averaging.py --run runs/ttq_nmt --last 1,2,4,6      # a few minutes on 2 CPU cores

The run must keep its evaluations (`train.keep_evaluated`; experiments/time_to_quality.py trains runs/ttq_nmt with
an evaluation every 250 steps, all kept). For each N, `python -m nmt.release --average N` writes the averaged run
and `python -m nmt.evaluate` scores it; N = 1 is the last evaluation alone. Choose N on val, never on test.
Writes averaging_<run name>.json into --out (default experiments/results).

Results (runs/ttq_nmt: the default preset, 2,500 steps, evaluations every 250 kept; the development machine, 2 CPU
cores, 2026-11-30; averaging_ttq_nmt.json). BLEU cased / lowercased:

| averaged | steps | val greedy | val beam 5 | test greedy | test beam 5 |
|---|---|---|---|---|---|
| the last evaluation alone | 2,500 | 34.63 / 34.85 | 35.52 / 35.70 | 34.44 / 34.85 | 35.64 / 36.07 |
| the last 2 (chosen on val beam 5) | 2,250, 2,500 | 34.33 / 34.51 | **35.80** / 35.98 | 34.77 / 35.21 | **35.77 / 36.20** |
| the last 4 | 1,750 … 2,500 | 33.94 / 34.10 | 34.58 / 34.75 | 34.02 / 34.38 | 34.90 / 35.30 |
| the last 6 | 1,250 … 2,500 | 32.90 / 33.03 | 33.26 / 33.41 | 32.74 / 33.10 | 33.84 / 34.18 |

This run is short and still improving fast at its end (val greedy BLEU 33.27 at step 2,000, 34.63 at 2,500), so
only the mean of its last two evaluations, 250 steps apart, helps (+0.28 val, +0.13 test with beam 5); older ones
pull it back. Averaging pays near convergence, where fairseq uses it: a longer recipe is the place to try more.

The moving average during training (`python -m nmt.train --workdir runs/ema995 train.ema_decay=0.995
train.eval_every=250 train.keep_evaluated=20`, seed 0, the current code; runs/ema995/results.json copied to
ema_0995_default_run.json) did far better in one run: val 36.64 / 36.83 and test_2016_flickr **37.07 / 37.47**
with beam 5 (35.51 / 35.92 greedy), against 35.64 / 36.07 (seed 0) and 35.88 / 36.24 (seed 1) without it. One run
each, one decay tried; its val BLEU at step 2,500 (greedy) was 35.58 against 34.63 and 34.46.

On the default preset's run at its earlier learning rate of 2e-3 (5,000 steps with the moving average; `python
experiments/averaging.py --run runs/r5k_ema995 --last 1,2,3`; averaging_r5k_ema995.json), averaging adds nothing on
val, where it is chosen:

| averaged | steps | val greedy | val beam 5 | test greedy | test beam 5 |
|---|---|---|---|---|---|
| the last evaluation alone | 5,000 | 38.33 / 38.55 | **39.23** / 39.41 | 37.57 / 37.92 | 38.74 / 39.08 |
| the last 2 | 4,500, 5,000 | 38.41 / 38.61 | 39.13 / 39.32 | 37.65 / 37.98 | 38.75 / 39.09 |
| the last 3 | 4,000 … 5,000 | 38.38 / 38.55 | 39.14 / 39.34 | 37.21 / 37.58 | 38.78 / 39.17 |

On the default preset's run as it is now, learning rate 3e-3 (`python experiments/averaging.py --run
runs/recipe/ema_lr3e-3_5k --last 1,2,3`, the run of `recipe.py --lever ema_lr3e-3_5k`; averaging_ema_lr3e-3_5k.json;
2026-12-01), the last 2 are chosen on val beam 5 by 0.07, which is no measurable gain; greedy loses 0.17:

| averaged | steps | val greedy | val beam 5 | test greedy | test beam 5 |
|---|---|---|---|---|---|
| the last evaluation alone | 5,000 | **39.65** / 39.82 | 40.27 / 40.41 | 38.31 / 38.83 | 39.17 / 39.61 |
| the last 2 | 4,500, 5,000 | 39.48 / 39.63 | **40.34** / 40.49 | 37.85 / 38.36 | 39.30 / 39.74 |
| the last 3 | 4,000 … 5,000 | 39.16 / 39.32 | 40.04 / 40.20 | 37.58 / 38.08 | 39.06 / 39.54 |
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
    out = subprocess.run(
        [sys.executable, "-m", "nmt.evaluate", "--run", run, "--split", split, "--greedy"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
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
            subprocess.run(
                [sys.executable, "-m", "nmt.release", "--run", args.run, "--out", out, "--average", str(n)],
                check=True,
                capture_output=True,
            )
            with open(os.path.join(out, "release.json")) as f:
                steps = json.load(f)["averaged_steps"]
            rows[n] = {"steps": steps, "val": evaluate(out, "val"), "test": evaluate(out, "test_2016_flickr")}
            print(
                f"last {n} {steps}: val beam5 {rows[n]['val']['beam5']['bleu']:.2f}, "
                f"test beam5 {rows[n]['test']['beam5']['bleu']:.2f}",
                flush=True,
            )
    best_n = max(rows, key=lambda n: rows[n]["val"]["beam5"]["bleu"])
    write_result(
        args.out,
        f"averaging_{os.path.basename(os.path.normpath(args.run))}.json",
        {"run": os.path.relpath(args.run, ROOT), "last": rows, "chosen_on_val": best_n},
    )


if __name__ == "__main__":
    main()
