"""Ablation: the encoder's recurrence unrolled when translating (`Translator`'s unroll, `--unroll N`).

    python experiments/encoder_unroll.py --run runs/multi30k          # about 3 min on 2 CPU cores

The encoder of a translation runs its LSTM layers as `lax.scan`s over the source; with `unroll` N each loop iteration
holds N steps, which XLA compiles as one straight-line block (fewer loop iterations, and fusion across steps). The
live search of `nmt.serve` encodes a few arriving sentences at a time, where the loop's cost per step weighs most, so
the widths measured here run from 1 to 64 sentences, at each of the run's search buckets.

For each (bucket, width) and each unroll: the median seconds of the encoder call over --repeats (the unrolls taking
turns call by call, `nmt.tools.timing.alternate`), its ratio to unroll 1, its compile seconds, and the largest
difference of its memory from unroll 1's (float rounding: XLA fuses the unrolled steps differently). Writes
encoder_unroll.json into --out (default experiments/results) and prints it as the last line.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import jax
import numpy as np

from nmt import cli
from nmt.decode.search import _encode, source_projection
from nmt.run import load_run
from nmt.tools.results import write_result
from nmt.tools.timing import alternate


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="a run directory (its model; the parameters do not change the time)")
    p.add_argument("--unrolls", default="1,4,8,16", help="unrolls to compare, the first the baseline")
    p.add_argument("--widths", default="1,4,16,64", help="sentences an encoder call")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = p.parse_args(argv)

    run = load_run(args.run)
    unrolls = [int(x) for x in args.unrolls.split(",")]
    widths = [int(x) for x in args.widths.split(",")]
    buckets = run.config.data.search_buckets()
    source = source_projection(run.model, run.params)
    rng = np.random.default_rng(0)
    cases = [(b, w) for b in buckets for w in widths]
    inputs = [rng.integers(4, run.sp.get_piece_size(), (w, b)).astype(np.int32) for b, w in cases]
    models = {u: run.model.clone(cfg=dataclasses.replace(run.model.cfg, unroll=u)) for u in unrolls}
    encode = jax.jit(_encode, static_argnums=0)
    fns = {str(u): (lambda src, m=m: encode(m, run.params, src, source)) for u, m in models.items()}

    compile_s, memory = {}, {}
    for name, fn in fns.items():
        start = time.perf_counter()
        memory[name] = [jax.device_get(fn(x)) for x in inputs]
        compile_s[name] = time.perf_counter() - start
    times = alternate(fns, inputs, args.repeats)
    base = str(unrolls[0])
    result = {
        "device": str(jax.devices()[0].device_kind),
        "model": f"{args.run}@{run.step}",
        "repeats": args.repeats,
        "compile_and_first_call_s": compile_s,
        "cases": [],
    }
    for i, (bucket, width) in enumerate(cases):
        diff = {
            name: max(
                float(np.max(np.abs(a.astype(np.float64) - b)))
                for a, b in zip(jax.tree.leaves(memory[name][i]), jax.tree.leaves(memory[base][i]))
            )
            for name in fns
        }
        result["cases"].append(
            {
                "bucket": bucket,
                "width": width,
                "ms": {name: 1e3 * times[name][i] for name in fns},
                "over_first": {name: times[name][i] / times[base][i] for name in fns},
                "max_abs_diff": diff,
            }
        )
    ratios = {name: [c["over_first"][name] for c in result["cases"]] for name in fns}
    result["median_over_first"] = {name: float(np.median(r)) for name, r in ratios.items()}
    write_result(args.out, "encoder_unroll.json", result)


if __name__ == "__main__":
    cli.main_guard(main, "encoder_unroll")
