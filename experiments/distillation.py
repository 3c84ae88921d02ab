"""Sequence-level knowledge distillation of the default run into a student with under half its parameters.

    python experiments/distillation.py          # trains runs/distill/s192 unless it is there: ~2 + 28 min on 2 cores

The student is `python -m nmt.distill --teacher runs/r5k_ema995 --workdir runs/distill/s192 --no-progress
model.share_embeddings=true model.emb=192 model.hidden=192`: the teacher's recipe (5,000 steps, moving average 0.995)
on the teacher's beam-5 translations of the training set, one embedding matrix for both languages, 192 units instead
of 256; chosen and scored on the real val and test references. Each model's row comes from its run's results.json
(best checkpoint; BLEU cased / lowercased, greedy and beam 5) and its parameters; distillation.json in --out
(default experiments/results).

Results: README.md, "Smaller models" (the development machine, 2 CPU cores, 2026-11-30).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from nmt.tools.results import run_scores, write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEACHER, STUDENT = "runs/r5k_ema995", "runs/distill/s192"
STUDENT_OVERRIDES = ["model.share_embeddings=true", "model.emb=192", "model.hidden=192"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    args = p.parse_args(argv)
    if not os.path.exists(os.path.join(ROOT, STUDENT, "results.json")):
        subprocess.run([sys.executable, "-m", "nmt.distill", "--teacher", TEACHER, "--workdir", STUDENT,
                        "--no-progress", *STUDENT_OVERRIDES], cwd=ROOT, check=True)
    corpus = json.load(open(os.path.join(ROOT, STUDENT, "distilled", "distilled.json")))
    teacher, student = (dict(workdir=w, **run_scores(os.path.join(ROOT, w))) for w in (TEACHER, STUDENT))
    gap = [round(s - t, 2) for s, t in zip(student["test"]["beam5"], teacher["test"]["beam5"])]
    write_result(args.out, "distillation.json", {
        "teacher": teacher, "student": student, "student_overrides": STUDENT_OVERRIDES,
        "translating_train_s": corpus["seconds"], "parameter_ratio": round(student["parameters"] /
                                                                            teacher["parameters"], 3),
        "test_beam5_gap": gap})


if __name__ == "__main__":
    main()
