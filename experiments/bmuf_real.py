"""Parallel training of the default model: per-worker steps to the validation BLEU that one worker reaches, for K
simulated workers with `sync`, `average` and `bmuf` (Adam workers, the default preset's model and 2,048 target
tokens per worker and step).

    NMT_DATA_DIR=../shared/data/multi30k python experiments/bmuf_real.py --steps 1000 --workers 1,4

Every run is `python -m nmt.train --preset multi30k` with `train.ema_decay=0` (the moving average is not defined for
several workers, so K = 1 goes without it too), the local learning rate × √K for K workers (`parallel.lr_rule=sqrt`,
the default) and the preset's schedule, its warm-up (and with it the rsqrt decay) over train.warmup_steps / K
per-worker steps, so that every K follows the same rate against sentences seen (--no-warmup-by-samples: the same steps
for every K). K workers share --devices devices (two simulated CPU devices by default, vmapped there; 1 on a one-GPU
machine), so the speed-up is counted in per-worker steps, what K real workers would see in wall time, not in seconds
here. K = 1 runs --steps steps; its greedy val BLEU at the last (the trainer's own measure) is the target, and every K
is credited with its first evaluation at or above it. A K > 1 run is stopped once it gets there, or after
min(steps, ceil(2·steps/K)) steps (a speed-up below K/2 is reported as not reached). `sync` is the ceiling the
averaging methods can approach: a K times larger batch every step. Each bmuf configuration (--bmuf) goes under its own
--bmuf-name, in the results and in the runs' directory names.

Writes bmuf_real.json ({"target_bleu", "k1_first_step", method or bmuf name: {K: {"steps", "speedup", "bytes_per_step",
"sync_bytes_per_step", "curve": [[step, bleu], ...]}}}) and bmuf_real.png under --out.

Results (the 2-core development machine: K = 4 and 8 on 2026-12-05, about 3 hours; K = 2 on 2026-12-06, about 80
minutes): the table and its commands are in docs/parallel.md, "Adam workers"; the files in
experiments/results/bmuf_real/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time

from nmt.config import get_config
from nmt.parallel import comm_bytes_per_step

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = ["train.ema_decay=0", "train.patience=0", "parallel.warmup_steps=0"]


def log(line: str) -> None:
    print(line, flush=True)


def val_curve(workdir: str) -> list[tuple[int, float]]:
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [(r["step"], r["bleu"]) for r in rows if r.get("kind") == "val" and "bleu" in r]


def train(workdir: str, preset: str, overrides: list[str], target: float | None, devices: int):
    """Runs nmt.train in its own process (stopped with SIGTERM once an evaluation reaches `target`); returns its
    val BLEU curve [(step, bleu)]."""
    flags = os.environ.get("XLA_FLAGS", "")  # the caller's flags (a GPU's, say) are kept, the device count added
    env = dict(os.environ, XLA_FLAGS=f"{flags} --xla_force_host_platform_device_count={devices}".strip())
    cmd = [sys.executable, "-m", "nmt.train", "--preset", preset, "--run", workdir, "--no-progress", *overrides]
    log(" ".join(cmd[1:]))
    with open(os.path.join(os.path.dirname(workdir), os.path.basename(workdir) + ".log"), "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            time.sleep(5)
            if target is not None and any(b >= target for _, b in val_curve(workdir)):
                proc.send_signal(signal.SIGTERM)
                proc.wait()
        if proc.returncode not in (0, -signal.SIGTERM, 128 + signal.SIGTERM):
            raise SystemExit(f"{workdir}: nmt.train exited with {proc.returncode} (see its .log)")
    return val_curve(workdir)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1000, help="K = 1 steps that set the target BLEU")
    p.add_argument("--eval-every", type=int, default=100, help="K = 1 steps between evaluations; K workers: / K")
    p.add_argument("--workers", default="1,2,4,8")
    p.add_argument("--methods", default="sync,average,bmuf")
    p.add_argument("--tau", type=int, default=8, help="local steps per block (average, bmuf)")
    p.add_argument(
        "--bmuf",
        default="",
        help="overrides of parallel.* for bmuf, separated by spaces (default: the configuration's defaults)",
    )
    p.add_argument(
        "--bmuf-name",
        default="bmuf",
        help="the name of this bmuf variant in the results and its runs' directories (one name per --bmuf)",
    )
    p.add_argument(
        "--warmup-by-samples",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="K workers warm the learning rate up over the preset's train.warmup_steps / K steps, so that every K "
        "follows the same rate against sentences seen (its rsqrt decay included)",
    )
    p.add_argument(
        "--devices",
        type=int,
        default=2,
        help="devices the K workers share (simulated CPU devices here; 1 on a one-GPU machine)",
    )
    p.add_argument("--preset", default="multi30k", help="the configuration every run starts from")
    p.add_argument("--set", default="", help="overrides for every run, separated by spaces (e.g. data.dir=DIR)")
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "bmuf_real"), help="where the runs go")
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results", "bmuf_real"))
    args = p.parse_args(argv)
    ks = [int(k) for k in args.workers.split(",")]
    base = BASE + args.set.split()
    warmup = get_config(args.preset, base).train.warmup_steps
    os.makedirs(args.runs, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    results_path = os.path.join(args.out, "bmuf_real.json")
    results = json.load(open(results_path)) if os.path.exists(results_path) else {}
    one = os.path.join(args.runs, f"k1_{args.steps}")
    curve = val_curve(one)
    if not curve or curve[-1][0] < args.steps:
        curve = train(
            one, args.preset, base + [f"train.steps={args.steps}", f"train.eval_every={args.eval_every}"], None, 1
        )
    target = curve[-1][1]
    with open(os.path.join(one, "results.json")) as f:
        params = json.load(f)["parameters"]
    first = next(s for s, b in curve if b >= target)
    log(f"target val BLEU {target:.2f} (K=1 after {args.steps} steps; first reached at step {first})")
    results.update(target_bleu=target, k1_steps=args.steps, k1_first_step=first, tau=args.tau)
    results["k1"] = {"curve": curve}
    names = [args.bmuf_name if m == "bmuf" else m for m in args.methods.split(",")]
    for method, name in zip(args.methods.split(","), names):
        for k in [k for k in ks if k > 1]:
            cap = min(args.steps, math.ceil(2 * args.steps / k))
            extra = args.bmuf.split() if method == "bmuf" else []
            warm = math.ceil(warmup / k) if args.warmup_by_samples else warmup
            overrides = base + [
                f"train.steps={cap}",
                f"train.eval_every={max(1, args.eval_every // k)}",
                f"parallel.method={method}",
                f"parallel.workers={k}",
                f"parallel.devices={min(k, args.devices)}",
                f"parallel.sync_every={args.tau}",
                f"train.warmup_steps={warm}",
                *extra,
            ]
            workdir = os.path.join(args.runs, f"{name}_k{k}_{args.steps}_warm{warm}")
            run = val_curve(workdir)  # a finished run is read, not run again
            if not run or (run[-1][0] < cap and all(b < target for _, b in run)):
                run = train(workdir, args.preset, overrides, target, min(k, args.devices))
            reached = next((s for s, b in run if b >= target), None)
            results.setdefault(name, {})[str(k)] = {
                "steps": reached,
                "speedup": first / reached if reached else None,
                "budget": cap,
                "best_bleu": max((b for _, b in run), default=None),
                **equivalent(run, curve),
                "bytes_per_step": bytes_per_step(args.preset, overrides, k, reached or cap, params),
                "sync_bytes_per_step": bytes_per_step(args.preset, [*overrides, "parallel.method=sync"], k, 1, params),
                "overrides": overrides,
                "curve": run,
            }
            log(f"{name} K={k}: {'reached at ' + str(reached) if reached else 'not reached in ' + str(cap)}")
            with open(results_path, "w") as f:
                json.dump(results, f, indent=1)
            plot(results, args.out)
    print(json.dumps({m: {k: r["speedup"] for k, r in v.items()} for m, v in results.items() if m in names}))


def equivalent(run: list, k1: list) -> dict:
    """For a run that falls short of the target: the K = 1 steps to its best BLEU, linearly interpolated between
    K = 1's evaluations, over its own steps to it (a speed-up at a lower BLEU than the target)."""
    if not run:
        return {}
    at, best = max(run, key=lambda r: (r[1], -r[0]))
    points = [(0, 0.0), *k1]
    for (s0, b0), (s1, b1) in zip(points, points[1:]):
        if b1 >= best:
            k1_steps = s0 + (s1 - s0) * (best - b0) / (b1 - b0) if b1 > b0 else s1
            return {"best_at": at, "k1_steps_to_best": k1_steps, "speedup_at_best": k1_steps / at}
    return {"best_at": at, "k1_steps_to_best": None, "speedup_at_best": None}


def bytes_per_step(preset: str, overrides: list[str], k: int, steps: int, params: int) -> float:
    """Bytes each worker sends a step (ring all-reduce) of `params` float32 parameters and Adam's two moments."""
    cfg = get_config(preset, overrides)
    return comm_bytes_per_step(cfg.parallel, k, 4 * params, 8 * params, steps)


def plot(results: dict, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(*zip(*results["k1"]["curve"]), "k-", label="K=1")
    methods = [m for m, by_k in results.items() if isinstance(by_k, dict) and m != "k1"]
    styles = {"2": ":", "4": "-", "8": "--"}  # a colour per method, a line style per K
    for colour, method in enumerate(methods):
        for k, r in sorted(results[method].items(), key=lambda kv: int(kv[0])):
            if r.get("curve"):
                ls = styles.get(k, "-.")
                ax.plot(*zip(*r["curve"]), marker="o", ls=ls, color=f"C{colour}", ms=3, label=f"{method} K={k}")
    ax.axhline(results["target_bleu"], color="k", ls=":")
    ax.set(xlabel="per-worker steps", ylabel="val BLEU (greedy)", title="the default model, Adam workers")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "bmuf_real.png"), dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
