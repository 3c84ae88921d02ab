"""Memory-policy check for a GPU machine (runnable on CPU with --cpu): a subset of the remat sweep with the live
peak memory and the step time of real train steps, offload included. Reference dims, batch 64, source length 50.

On a GPU each policy runs in its own process, so `peak_bytes_in_use` is that policy's own peak. What to look for:
offload policies have compiled host temp > 0 and less device temp than the same names saved on device; `sqrt_t`
keeps the peak nearly flat in the target length. Needs no corpus (random tokens, vocabulary 8,000).
    PYTHONPATH=. python3 experiments/device_memory.py --out $OUT      # on the GPU machine, about 5 minutes
    python experiments/device_memory.py --cpu                         # here: small shapes, checks the script
Writes memory_<platform>.json (into --out, default experiments/results) and prints it as the last line.

Results on one NVIDIA H100 80GB HBM3 (driver 580.159.04), Python 3.12, jax 0.11.2 with CUDA 13, flax 0.12.10, optax 0.2.8,
omegaconf 2.3.0.

**Memory policies** (`python experiments/device_memory.py`: reference dims, batch 64, source length 50, each policy
in its own process; `memory_gpu.json`). "Compiled" is XLA's temp bytes; "live peak" is the allocator's
`peak_bytes_in_use` over compile and 5 timed steps; "step" is the median step time.

| policy | T = 128: compiled / host / live peak MiB, step | T = 1,024: compiled / host / live peak MiB, step |
|---|---|---|
| `none` | 1,426 / 0 / 1,610, 34.9 ms | 8,889 / 0 / 9,073, 207.4 ms |
| `full` | 953 / 0 / 1,137, 31.4 ms | 5,930 / 0 / 6,114, 189.9 ms |
| `sqrt_t` | 273 / 0 / 456, 56.8 ms | 502 / 0 / 686, 300.2 ms |
| `save:dec_h,dec_c,attn_context,attn_hidden` | 1,001 / 0 / 1,185, 31.4 ms | 6,314 / 0 / 6,498, 194.8 ms |
| `offload:dec_h,dec_c,attn_context,attn_hidden` | 953 / 48 / 1,137, 37.0 ms | 5,930 / 384 / 6,114, 236.8 ms |
| `offload_dots_no_batch` | 953 / 235 / 1,137, 47.8 ms | 5,930 / 1,355 / 6,114, 287.9 ms |

What the table shows:
- **Offload moves the saved residuals off the device.** The `offload:` policy keeps on the device exactly what
  `full` keeps, 384 MiB less than `save:` with the same names at T = 1,024. Those 384 MiB go to host memory instead.
  The swap costs 22% of step time against `save:` (236.8 ms against 194.8 ms).
- **`sqrt_t` barely grows with length.** Its live peak grows 1.5× from T = 128 to 1,024, where `none` grows 5.6×. At
  T = 1,024 it needs 13.2× less memory than `none`, for 1.45× the step time.
- **Recomputing everything is faster than saving everything here.** At this batch, `full` is 8% faster than `none`
  at T = 1,024. Our reading, not profiled: the step is bound by memory traffic, and writing and re-reading every
  per-step activation costs more than recomputing it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from nmt.model.policies import REGISTRY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The registry's policies but the plain dots variants (the CPU sweep shows those): none, full, sqrt_t, the decoder
# state saved on the device and offloaded, and offload_dots_no_batch.
POLICIES = tuple(p for p in REGISTRY if not p.startswith("dots"))


def one(policy: str, length: int, rows: int, src_len: int, repeats: int) -> dict:
    """Compiles and runs the train step under one policy in this process; returns compiled and live memory."""
    import jax

    from nmt.config import get_config
    from nmt.tools.bench_memory import time_train_step
    from nmt.training.memory import compile_for_shapes, compiled_stats

    cfg = get_config("reference", [f"model.remat={policy}"])
    compiled = compile_for_shapes(cfg, 8000, rows, length, src_len)[0]
    stats = compiled_stats(compiled)
    step_s = time_train_step(cfg, 8000, rows, src_len, length, repeats, train_fn=compiled)
    live = jax.devices()[0].memory_stats() or {}
    return {
        "policy": policy,
        "tgt_len": length,
        "src_len": src_len,
        "rows": rows,
        **stats,
        "step_s": step_s,
        "peak_bytes_in_use": live.get("peak_bytes_in_use"),
    }


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
            row = (
                json.loads(r.stdout.strip().splitlines()[-1])
                if r.returncode == 0
                else {"policy": policy, "tgt_len": length, "error": r.stderr.strip().splitlines()[-1:]}
            )
            print(json.dumps(row), flush=True)
            results.append(row)
    from nmt.tools.results import write_result

    write_result(
        args.out,
        f"memory_{platform}.json",
        {"platform": platform, "device": str(jax.devices()[0].device_kind), "rows": results},
    )


if __name__ == "__main__":
    main()
