"""Does an int8 weight pay on this CPU, and how should its product run? The products of one beam-5 decoding step of
the default model (5 rows against the output layer and a decoder LSTM layer), timed three ways:

  float32   x @ W, the weights as trained;
  dequant   (x @ Q.astype(f32)) * scale: int8 weights read, converted inside the compiled product (nmt.model.matrices);
  int8 dot  x quantised per row to int8 too, an int8 x int8 -> int32 dot, both scales applied after.

    python experiments/int8_dot.py                       # ~1 minute; experiments/results/int8_dot.json

Each product runs 50 times inside one compiled loop (so dispatch is not what is timed), 3 warm-up calls, median of
15 calls, the variants alternating. Also reports each variant's largest error against float32.

Results (the development machine, 2 cores of an AMD EPYC CPU, jax 0.10.2, 2026-11-30; int8_dot.json), microseconds a
product (largest error relative to the largest output):

| product | float32 | dequant | int8 dot |
|---|---|---|---|
| output layer, 5x256 @ 256x8000 | 79.9 | 80.8 (0.7%) | **62.9** (1.1%) |
| decoder LSTM layer, 5x512 @ 512x1024 | 18.4 | 18.0 (0.9%) | 18.4 (1.1%) |

Converting the weights inside the product gains nothing; the integer dot takes a fifth off the output layer and
nothing off the LSTM layer, so int8 models use the integer dot (nmt.model.matrices).
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from nmt.tools.results import write_result

SHAPES = {
    "output layer (tied embedding) 5x256 @ 256x8000": (5, 256, 8000),
    "decoder LSTM layer 5x512 @ 512x1024": (5, 512, 1024),
}
LOOP = 50


def quantise(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.abs(w).max(0) / 127.0
    return np.round(w / scale).astype(np.int8), scale.astype(np.float32)


def variants(w, q, s):
    def float32(x):
        return x @ w

    def dequant(x):
        return (x @ q.astype(jnp.float32)) * s

    def int8_dot(x):
        sx = jnp.max(jnp.abs(x), -1, keepdims=True) / 127.0
        xq = jnp.round(x / sx).astype(jnp.int8)
        acc = jax.lax.dot_general(xq, q, (((1,), (0,)), ((), ())), preferred_element_type=jnp.int32)
        return acc.astype(jnp.float32) * sx * s

    return {"float32": float32, "dequant": dequant, "int8_dot": int8_dot}


def looped(fn):
    @jax.jit
    def run(x):
        def body(i, acc):
            return acc + fn(x + i.astype(x.dtype) * 1e-3)

        return jax.lax.fori_loop(0, LOOP, body, jnp.zeros_like(fn(x)))

    return run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--out", default="experiments/results")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    result = {
        "machine": "cpu" if jax.default_backend() == "cpu" else jax.devices()[0].device_kind,
        "jax": jax.__version__,
        "loop": LOOP,
    }
    for label, (b, n, m) in SHAPES.items():
        w = rng.normal(0, 0.1, (n, m)).astype(np.float32)
        q, s = quantise(w)
        x = jnp.asarray(rng.normal(0, 1, (b, n)).astype(np.float32))
        fns = {k: looped(f) for k, f in variants(jnp.asarray(w), jnp.asarray(q), jnp.asarray(s)).items()}
        exact = np.asarray(variants(w, q, s)["float32"](np.asarray(x)))
        times = {k: [] for k in fns}
        for _ in range(3):
            for f in fns.values():
                f(x).block_until_ready()
        for _ in range(args.repeats):
            for k, f in fns.items():
                start = time.perf_counter()
                f(x).block_until_ready()
                times[k].append((time.perf_counter() - start) / LOOP)
        row = {}
        for k, fn in variants(jnp.asarray(w), jnp.asarray(q), jnp.asarray(s)).items():
            err = float(np.abs(np.asarray(jax.jit(fn)(x)) - exact).max() / np.abs(exact).max())
            row[k] = {"us": round(statistics.median(times[k]) * 1e6, 1), "max_rel_error": round(err, 5)}
        print(f"{label}: " + ", ".join(f"{k} {v['us']} us (error {v['max_rel_error']})" for k, v in row.items()))
        result[label] = row
    write_result(args.out, "int8_dot.json", result)


if __name__ == "__main__":
    main()
