"""Two runs that should have trained alike: their log rows compared value for value up to a step.

    python experiments/same_training.py RUN_A RUN_B --steps 500 [--name NAME]

Compares every train row (loss, grad_norm) and val row (loss, BLEU) of the two runs' metrics.jsonl up to --steps and
writes same_training_NAME.json into --out (default experiments/results): the rows compared, the largest difference
of each quantity, and whether all were equal to the last bit. Used to check that a change of the code changed nothing
of what a run computes (a run of the old code against one of the new).

Results: `python experiments/same_training.py runs/multi30k_timed runs/identity500 --steps 500 --name decoders`
(2026-12-05; the first run trained by the code before the decoders became modules of their own and translation went
through one Translator, the second by the code after: `python -m nmt.train --workdir runs/identity500
train.steps=500 train.final_beam=1`, the default preset): the 10 train rows and the val row at step 500 are equal to
the last bit, val BLEU 15.84 at step 500 in both (same_training_decoders.json).
"""

from __future__ import annotations

import argparse
import json
import os

from nmt.tools.results import write_result

KEYS = {"train": ("loss", "grad_norm"), "val": ("loss", "bleu")}


def rows(workdir: str, steps: int) -> list[dict]:
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [r for r in map(json.loads, f) if r["kind"] in KEYS and r["step"] <= steps]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs=2)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--name", default="runs")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = p.parse_args()
    a, b = (rows(r, args.steps) for r in args.runs)
    if [(r["step"], r["kind"]) for r in a] != [(r["step"], r["kind"]) for r in b]:
        raise SystemExit("same_training: the runs logged different rows")
    largest = {f"{kind}_{k}": 0.0 for kind, keys in KEYS.items() for k in keys}
    for x, y in zip(a, b):
        for k in KEYS[x["kind"]]:
            largest[f"{x['kind']}_{k}"] = max(largest[f"{x['kind']}_{k}"], abs(x[k] - y[k]))
    write_result(
        args.out,
        f"same_training_{args.name}.json",
        {
            "runs": args.runs,
            "steps": args.steps,
            "rows": len(a),
            "largest_difference": largest,
            "identical": all(v == 0.0 for v in largest.values()),
            "val": [{"step": x["step"], "bleu": [x["bleu"], y["bleu"]]} for x, y in zip(a, b) if x["kind"] == "val"],
        },
    )


if __name__ == "__main__":
    main()
