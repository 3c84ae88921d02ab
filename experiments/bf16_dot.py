"""Does a bfloat16 product pay on this CPU, and in which form? The race's products (experiments/opennmt_race.py) timed
three ways, alternating:

  float32      x @ W in float32;
  bf16 -> bf16 both in bfloat16, the result bfloat16 (what a layer with `dtype=bfloat16` computes);
  bf16 -> f32  both in bfloat16, accumulated into a float32 result (`preferred_element_type=float32`).

    python experiments/bf16_dot.py                       # ~1 minute; experiments/results/bf16_dot.json

Each: a warm-up call, then the median of 15 calls, the forms taking turns (nmt.tools.timing.alternate). Also the
largest error of each bfloat16 form against float32, relative to the largest output.

Results: train_levers.py's docstring, beside the bfloat16 training step they explain.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from nmt.tools.machine import describe
from nmt.tools.results import write_result
from nmt.tools.timing import alternate

SHAPES = {
    "recurrent 128x512 @ 512x2048": (128, 512, 2048),
    "output layer 1920x512 @ 512x8000": (1920, 512, 8000),
    "square 2048x512 @ 512x2048": (2048, 512, 2048),
}
FORMS = {
    "float32": lambda x, w: x @ w,
    "bf16_to_bf16": lambda x, w: x.astype(jnp.bfloat16) @ w.astype(jnp.bfloat16),
    "bf16_to_f32": lambda x, w: jnp.dot(
        x.astype(jnp.bfloat16), w.astype(jnp.bfloat16), preferred_element_type=jnp.float32
    ),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=15)
    p.add_argument("--out", default="experiments/results")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    result = {"machine": describe(), "shapes": {}}
    for name, (m, k, n) in SHAPES.items():
        x = jnp.asarray(rng.standard_normal((m, k)), jnp.float32)
        w = jnp.asarray(rng.standard_normal((k, n)) / np.sqrt(k), jnp.float32)
        # the casts happen outside the timed product, as in a layer whose inputs are already bfloat16
        args_of = {f: (x, w) if f == "float32" else (x.astype(jnp.bfloat16), w.astype(jnp.bfloat16)) for f in FORMS}
        fns = {f: jax.jit(fn) for f, fn in FORMS.items()}
        outputs = {f: np.asarray(fns[f](*args_of[f]), np.float32) for f in FORMS}
        # each form called on its own operands: one input, the forms taking turns call by call
        ms = alternate({f: lambda _, f=f: fns[f](*args_of[f]) for f in FORMS}, [None], args.calls)
        row = {}
        for f in FORMS:
            ms_f = ms[f][0] * 1e3
            exact = outputs["float32"]
            err = np.max(np.abs(outputs[f] - exact)) / np.max(np.abs(exact))
            row[f] = {"ms": ms_f, "gflops": 2 * m * k * n / ms_f / 1e6, "max_rel_error": float(err)}
        result["shapes"][name] = row
        print(name, {f: f"{r['ms']:.2f} ms" for f, r in row.items()}, flush=True)
    write_result(args.out, "bf16_dot.json", result)


if __name__ == "__main__":
    main()
