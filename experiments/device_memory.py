"""Memory-policy check for a GPU machine (runnable on CPU with --cpu): a subset of the remat sweep with the live
peak memory and the step time of real train steps, offload included. Reference dims, batch 64, source length 50.

On a GPU each policy runs in its own process, so `peak_bytes_in_use` is that policy's own peak. What to look for:
offload policies have compiled host temp > 0 and less device temp than the same names saved on device; `sqrt_t`
keeps the peak nearly flat in the target length. Needs no corpus (random tokens, vocabulary 8,000).
    PYTHONPATH=. python3 experiments/device_memory.py --out $OUT      # on the GPU machine, about 5 minutes
    python experiments/device_memory.py --cpu                         # here: small shapes, checks the script
Writes memory_<platform>.json (into --out, default experiments/results) and prints it as the last line.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLICIES = ("none", "full", "sqrt_t", "save:dec_h,dec_c,attn_context,attn_hidden",
            "offload:dec_h,dec_c,attn_context,attn_hidden", "offload_dots_no_batch")


def one(policy: str, length: int, rows: int, src_len: int, repeats: int) -> dict:
    """Compiles and runs the train step under one policy in this process; returns compiled and live memory."""
    import jax

    from nmt.bench_memory import time_train_step
    from nmt.config import get_config
    from nmt.memory.report import compile_train_step, compiled_stats
    cfg = get_config("reference", [f"model.remat={policy}"])
    compiled = compile_train_step(cfg, 8000, rows, length, src_len)[0]
    stats = compiled_stats(compiled)
    step_s = time_train_step(cfg, 8000, rows, src_len, length, repeats, train_fn=compiled)
    live = jax.devices()[0].memory_stats() or {}
    return {"policy": policy, "tgt_len": length, "src_len": src_len, "rows": rows, **stats, "step_s": step_s,
            "peak_bytes_in_use": live.get("peak_bytes_in_use")}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cpu", action="store_true", help="run on the CPU with small shapes to check the script")
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--length", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    rows, src_len, repeats = (8, 20, 1) if args.cpu else (64, 50, 5)
    if args.one:
        print(json.dumps(one(args.one, args.length, rows, src_len, repeats)))
        return
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (ROOT, os.environ.get("PYTHONPATH")))))
    if args.cpu:
        env["JAX_PLATFORMS"] = "cpu"
    import jax
    platform = "cpu" if args.cpu else jax.devices()[0].platform
    if not args.cpu and platform != "gpu":
        sys.exit(f"device_memory: no GPU visible (devices: {jax.devices()}); use --cpu to run on the CPU")
    lengths = (16, 64) if args.cpu else (128, 1024)
    results = []
    for length in lengths:
        for policy in POLICIES:
            cmd = [sys.executable, os.path.abspath(__file__), "--one", policy, "--length", str(length)]
            cmd += ["--cpu"] if args.cpu else []
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
            row = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else \
                {"policy": policy, "tgt_len": length, "error": r.stderr.strip().splitlines()[-1:]}
            print(json.dumps(row), flush=True)
            results.append(row)
    from nmt.bench import write_result
    write_result(args.out, f"memory_{platform}.json",
                 {"platform": platform, "device": str(jax.devices()[0].device_kind), "rows": results})


if __name__ == "__main__":
    main()
