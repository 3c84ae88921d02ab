"""Kill soak: K SIGKILLs through a tiny training run, some of them while a checkpoint is being written, each followed
by the same command again; then the final parameters against an uninterrupted run's, bit for bit.

    python experiments/kill_soak.py                   # K = 10, about 10 min on 2 CPU cores
    python experiments/kill_soak.py --kills 3 --steps 120 --out /tmp/soak

The run: `python -m nmt.train --preset tiny` on Multi30k (data.dir or NMT_DATA_DIR), with `train.save_every_s=1`
so that saves are frequent, and `train.log_every=1` so that every step leaves a metrics row. Each kill comes either
at a random moment (even kills) or as soon as Orbax's temporary folder of a save appears under
checkpoints/latest (odd kills). Reported: whether the final parameters equal the uninterrupted run's bit for bit;
the steps redone (metrics rows of a step written more than once); the kills that hit a save in progress; and the
checkpoints on disk at the end, each restored to check that it reads back. Writes kill_soak.json into --out
(default experiments/results).

Results, on the development machine (2 cores, 24 GiB, no GPU; 2026-11-30; `python experiments/kill_soak.py`,
kill_soak.json): K = 10 kills, 5 of them while a save was being written; the final parameters are **bit-identical**
to the uninterrupted run's; 42 steps of 240 were redone; at the end 3 checkpoints are on disk (best 240, latest 236
and 240), all of which read back, and no partial save folder. (A first run, before the trainer removed the folders of
unfinished saves at start, left three of them beside the same bit-identical result.)
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

from nmt import cli
from nmt.tools.results import write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _command(workdir: str, steps: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "nmt.train",
        "--preset",
        "tiny",
        "--workdir",
        workdir,
        "--no-progress",
        f"train.steps={steps}",
        "train.eval_every=40",
        "train.log_every=1",
        "train.save_every_s=1",
        "train.final_beam=1",
        "train.eval_bleu_max=50",
    ]


def _saving(workdir: str) -> bool:
    latest = os.path.join(workdir, "checkpoints", "latest")
    return os.path.isdir(latest) and any("tmp" in name for name in os.listdir(latest))


def _steps_done(workdir: str) -> int:
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for line in f if '"kind": "train"' in line)


def kill_once(workdir: str, steps: int, rng: random.Random, at_save: bool) -> dict:
    """Starts the run, kills it (at a save, or after a random time once it is stepping); what the kill hit."""
    proc = subprocess.Popen(_command(workdir, steps), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start_rows = _steps_done(workdir)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None and _steps_done(workdir) < start_rows + 3:
        time.sleep(0.05)  # stepping: past imports, data and compiling
    wait_until = time.time() + rng.uniform(0.5, 6.0)
    while proc.poll() is None and time.time() < deadline:
        if (at_save and _saving(workdir)) or (not at_save and time.time() >= wait_until):
            break
        time.sleep(0.002)
    hit_save = _saving(workdir)
    if proc.poll() is not None:
        return {"killed": False, "during_save": False}
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return {"killed": True, "during_save": hit_save}


def final_params(workdir: str):
    import jax
    import numpy as np

    from nmt.run import load_run

    return [np.asarray(x) for x in jax.tree.leaves(load_run(workdir, "latest").params)]


def checkpoints_on_disk(workdir: str) -> dict:
    from nmt.run import load_run

    root = os.path.join(workdir, "checkpoints")
    out = {}
    for kind in sorted(os.listdir(root)):
        names = os.listdir(os.path.join(root, kind))
        steps = sorted(int(n) for n in names if n.isdigit())
        for step in steps:
            load_run(workdir, kind, step=step)  # raises if it does not read back
        out[kind] = {"steps": steps, "other_entries": sorted(n for n in names if not n.isdigit())}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--steps", type=int, default=240)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", default=os.path.join(ROOT, "runs", "kill_soak"))
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    args = p.parse_args(argv)
    shutil.rmtree(args.work, ignore_errors=True)
    soaked, straight = os.path.join(args.work, "soaked"), os.path.join(args.work, "straight")
    rng = random.Random(args.seed)
    kills = []
    while len([k for k in kills if k["killed"]]) < args.kills:
        kills.append(kill_once(soaked, args.steps, rng, at_save=len(kills) % 2 == 1))
        if not kills[-1]["killed"]:
            break  # the run finished before the kill: start over with more steps
        print(f"kill {len(kills)}: during a save: {kills[-1]['during_save']}", flush=True)
    subprocess.run(_command(soaked, args.steps), check=True, stdout=subprocess.DEVNULL)
    subprocess.run(_command(straight, args.steps), check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(soaked, "metrics.jsonl")) as f:
        counts = collections.Counter(json.loads(line)["step"] for line in f if '"kind": "train"' in line)
    a, b = final_params(soaked), final_params(straight)
    write_result(
        args.out,
        "kill_soak.json",
        {
            "kills": sum(k["killed"] for k in kills),
            "during_save": sum(k["during_save"] for k in kills),
            "bit_identical": len(a) == len(b) and all((x == y).all() for x, y in zip(a, b)),
            "steps": args.steps,
            "steps_redone": sum(n - 1 for n in counts.values()),
            "checkpoints": checkpoints_on_disk(soaked),
            "command": " ".join(_command("WORKDIR", args.steps)[1:]),
        },
    )


if __name__ == "__main__":
    cli.main_guard(main, "kill_soak")
