"""Training speed on a GPU (runnable on the CPU with --cpu): tokens/s, step time and bfloat16 MFU of the reference
model and a GNMT-size model, over variants; and a check that the cuDNN encoder computes what the scan encoder does.

    python experiments/device_train.py --data-dir DIR            # on the GPU (not run yet: its time is a guess, <10 min)
    python experiments/device_train.py --cpu --data-dir DIR      # here, at tiny sizes: a check of the script

The models: `reference` (the preset), and GNMT size: embeddings and LSTMs of 1,024, 4 encoder layers (the first
bidirectional) and 4 decoder layers, with the GNMT-v2 decoder (`model.decoder=gnmt`), as NVIDIA's GNMT v2 is. For
each, `python -m nmt.bench train` times these variants in alternating windows over the same batches:
  f32            model.dtype=float32 (TF32 matmuls where the GPU has them)
  bf16           model.dtype=bfloat16 (parameters stay float32)
  bf16_unroll4   bfloat16, every recurrent scan unrolled 4 steps a loop iteration (model.unroll=4)
  bf16_cudnn     bfloat16, the encoder's layers through cuDNN's LSTM (model.encoder_impl=cudnn; float32 inside)
and in a second process, with XLA_FLAGS=--xla_gpu_enable_command_buffer=+WHILE,+CONDITIONAL (the loops in CUDA
graphs): bf16 again. Batches of --batch-tokens target tokens (default 16,384) in buckets of 16, 32 and 64 tokens.

MFU is the analytic matmul FLOPs of a step (nmt/tools/flops.py) over its time, against the GPU's dense bfloat16
peak (989 TFLOP/s for an H100 or H200, 312 for an A100), and against a bfloat16 matmul measured in the same run.
The cuDNN check encodes one batch with both encoders, same parameters, float32, and reports the largest difference.
Writes train_<platform>.json (into --out, default experiments/results) and prints it as the last line.

Results: none on a GPU yet (no GPU was available for this script so far). The target for the GNMT-size model in
bfloat16 is 400,000 source+target tokens/s on one H200 (NVIDIA's GNMT v2 in PyTorch: 140,909 on one A100 with mixed
precision; an H200 has about 3.2x the A100's dense bfloat16 compute).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

COMMAND_BUFFER = "--xla_gpu_enable_command_buffer=+WHILE,+CONDITIONAL"
BF16_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12}
MODELS = {  # overrides of the reference preset
    "reference": [],
    "gnmt_size": [
        "model.emb=1024",
        "model.hidden=1024",
        "model.enc_layers=4",
        "model.dec_layers=4",
        "model.decoder=gnmt",
    ],
}
VARIANTS = {
    "f32": "model.dtype=float32",
    "bf16": "model.dtype=bfloat16",
    "bf16_unroll4": "model.dtype=bfloat16 model.unroll=4",
    "bf16_cudnn": "model.dtype=bfloat16 model.encoder_impl=cudnn",
}
TINY = ["model.emb=32", "model.hidden=32"]


def bench(model_args: list[str], variants: dict, args, env: dict) -> dict:
    sizes = (
        ["--steps", "2", "--warmup", "1", "--rounds", "1"]
        if args.cpu
        else ["--steps", str(args.steps), "--warmup", "3", "--rounds", "2"]
    )
    cmd = [
        sys.executable,
        "-m",
        "nmt.bench",
        "train",
        "--preset",
        "reference",
        *sizes,
        *(f"--variant={k}={v}" for k, v in variants.items()),
        f"data.dir={args.data_dir}",
        f"data.batch_tokens={args.batch_tokens}",
        "data.buckets=[16,32,64]",
        "data.max_len=64",
        *model_args,
        *(TINY if args.cpu else []),
        *args.overrides,
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if run.returncode:
        sys.exit(f"device_train: {' '.join(cmd)} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def bf16_matmul_flops_per_s(n: int) -> float:
    import jax
    import jax.numpy as jnp

    from nmt.tools.timing import median_seconds

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.bfloat16)
    return 2 * n**3 / median_seconds(jax.jit(jnp.dot), a, a, repeats=10)


def cudnn_check(cpu: bool) -> dict:
    """The largest difference between the scan and the cuDNN encoder on one batch of the reference dims."""
    import jax
    import numpy as np

    from nmt.config import get_config
    from nmt.model import Seq2Seq, init_params, make_model

    outs, params = {}, None
    for impl in ("scan", "cudnn"):
        cfg = get_config("reference", [f"model.encoder_impl={impl}", *(TINY if cpu else [])])
        model = make_model(cfg, 8000)
        params = params or init_params(model, jax.random.key(0))  # the scan model's, for both
        lengths = np.random.default_rng(0).integers(3, 41, 64)
        src = np.where(np.arange(40)[None] < lengths[:, None], np.random.default_rng(1).integers(4, 8000, (64, 40)), 0)
        outs[impl] = np.asarray(model.apply({"params": params}, src, method=Seq2Seq.encode).values)
    diff = float(np.abs(outs["scan"] - outs["cudnn"]).max())
    return {"max_abs_diff": diff, "scale": float(np.abs(outs["scan"]).max()), "matches": diff < 2e-2}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cpu", action="store_true", help="run on the CPU at tiny sizes, to check the script")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--batch-tokens", type=int, help="target tokens a batch (default: 16384; --cpu 256)")
    p.add_argument("--steps", type=int, default=20, help="timed steps a window (two windows a variant)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    p.add_argument("overrides", nargs="*", help="more config overrides for every model (section.field=value)")
    args = p.parse_args()
    args.batch_tokens = args.batch_tokens or (256 if args.cpu else 16384)
    env = dict(os.environ, JAX_PLATFORMS="cpu") if args.cpu else dict(os.environ)
    os.environ.update(env)
    import jax

    platform = jax.devices()[0].platform
    if not args.cpu and platform != "gpu":
        sys.exit(f"device_train: no GPU visible (devices: {jax.devices()}); use --cpu to run on the CPU")
    from nmt.tools.results import write_result

    kind = jax.devices()[0].device_kind
    peak = next((v for k, v in BF16_PEAK.items() if k in kind), None)
    measured = bf16_matmul_flops_per_s(512 if args.cpu else 8192)
    t0 = time.time()
    result = {
        "platform": platform,
        "device": kind,
        "bf16_peak_flops_per_s": peak,
        "bf16_matmul_flops_per_s": measured,
        "cudnn_check": cudnn_check(args.cpu),
        "models": {},
    }
    flagged = dict(env, XLA_FLAGS=" ".join(filter(None, (env.get("XLA_FLAGS"), COMMAND_BUFFER))))
    for name, model_args in MODELS.items():
        runs = {"": bench(model_args, VARIANTS, args, env)}
        if not args.cpu:  # the flag is the GPU backend's
            runs["command_buffer_"] = bench(model_args, {"bf16": VARIANTS["bf16"]}, args, flagged)
        rows = {}
        for prefix, res in runs.items():
            for variant, r in res["variants"].items():
                flops = r["model_flops_per_s"]
                rows[prefix + variant] = {
                    **{
                        k: r[k]
                        for k in (
                            "tokens_per_s",
                            "src_tgt_tokens_per_s",
                            "step_s",
                            "compile_s",
                            "padding_fraction",
                            "parameters",
                            "peak_bytes",
                        )
                    },
                    "bf16_mfu": flops / peak if peak else None,
                    "of_measured_bf16_matmul": flops / measured,
                }
        result["models"][name] = rows
    result["seconds"] = time.time() - t0
    write_result(args.out, f"train_{platform}.json", result)


if __name__ == "__main__":
    main()
