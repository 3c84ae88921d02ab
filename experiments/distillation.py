"""Sequence-level knowledge distillation of the default run into a student with under half its parameters.

    python experiments/distillation.py      # trains the student unless it is there: ~2 + 28 + 14 min on 2 CPU cores

The student is `python -m nmt.distill --teacher runs/r5k_ema995 --workdir runs/distill/s192 --no-progress
model.share_embeddings=true model.emb=192 model.hidden=192`: the teacher's recipe (5,000 steps, moving average 0.995)
on the teacher's beam-5 translations of the training set (its best checkpoint), one embedding matrix for both
languages, 192 units instead of 256; chosen and scored on the real val and test references. Its run is kept as
runs/distill/s192_5000, and then trained on to 7,500 steps (`... train.steps=7500`, a resume). Each model's row comes
from its run's results.json (best checkpoint by greedy val BLEU; BLEU cased / lowercased, greedy and beam 5);
distillation.json in --out (default experiments/results).

The teacher is the default preset at its earlier learning rate of 2e-3 (`python experiments/recipe.py --lever
ema_5k`, kept as runs/r5k_ema995; the preset has trained at 3e-3 since 2026-12-01).

Results: README.md, "Smaller models" (the development machine, 2 CPU cores, 2026-11-30).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

from nmt.tools.results import run_scores, write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEACHER, STUDENT, STUDENT_5000 = "runs/r5k_ema995", "runs/distill/s192", "runs/distill/s192_5000"
STUDENT_OVERRIDES = ["model.share_embeddings=true", "model.emb=192", "model.hidden=192"]


def training_minutes(workdir: str) -> float:
    """Minutes between the run's log rows, leaving out pauses of more than 5 minutes (between a run and its resume;
    a copied run's files carry the copy's times)."""
    times = [json.loads(line)["time"] for line in open(os.path.join(ROOT, workdir, "metrics.jsonl"))]
    return round(sum(b - a for a, b in zip(times, times[1:]) if b - a < 300) / 60, 1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    args = p.parse_args(argv)
    distill = [
        sys.executable,
        "-m",
        "nmt.distill",
        "--teacher",
        TEACHER,
        "--workdir",
        STUDENT,
        "--no-progress",
        *STUDENT_OVERRIDES,
    ]
    if not os.path.exists(os.path.join(ROOT, STUDENT_5000, "results.json")):
        subprocess.run(distill, cwd=ROOT, check=True)
        shutil.copytree(os.path.join(ROOT, STUDENT), os.path.join(ROOT, STUDENT_5000))
    if json.load(open(os.path.join(ROOT, STUDENT, "results.json")))["step"] < 7500:
        subprocess.run(distill + ["train.steps=7500"], cwd=ROOT, check=True)
    corpus = json.load(open(os.path.join(ROOT, STUDENT, "distilled", "distilled.json")))
    rows = {w: dict(workdir=w, **run_scores(os.path.join(ROOT, w))) for w in (TEACHER, STUDENT_5000, STUDENT)}
    for w in (STUDENT_5000, STUDENT):
        rows[w]["minutes"] = training_minutes(w)
    gap = lambda w, search: [round(s - t, 2) for s, t in zip(rows[w]["test"][search], rows[TEACHER]["test"][search])]
    write_result(
        args.out,
        "distillation.json",
        {
            "runs": rows,
            "student_overrides": STUDENT_OVERRIDES,
            "translating_train_s": corpus["seconds"],
            "parameter_ratio": round(rows[STUDENT]["parameters"] / rows[TEACHER]["parameters"], 3),
            "test_gap_to_teacher": {w: {s: gap(w, s) for s in ("greedy", "beam5")} for w in (STUDENT_5000, STUDENT)},
        },
    )


if __name__ == "__main__":
    main()
