"""The one timer of every benchmark: wall time of calls that block until their results are ready, medians over
repeats after warm-up, and variants that take turns so that the machine's drift falls on each alike."""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp


def timed(fn, *args):
    """(fn(*args), seconds), the clock stopped once every output is ready."""
    t = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - t


def dispatch_seconds(fn, *args) -> float:
    """Seconds until `fn(*args)` returns, not until its results are ready (JAX dispatches asynchronously); then waits
    for them."""
    t = time.perf_counter()
    out = fn(*args)
    seconds = time.perf_counter() - t
    jax.block_until_ready(out)
    return seconds


def median_seconds(fn, *args, repeats: int = 5, warmup: int = 1) -> float:
    """Median seconds of `fn(*args)` over `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        timed(fn, *args)
    return statistics.median(timed(fn, *args)[1] for _ in range(repeats))


def alternate(fns: dict, inputs: list, repeats: int) -> dict[str, list[float]]:
    """Per-input medians over `repeats` of each of `fns`, after one warm-up call per input. The functions take turns
    call by call, so that drift falls on each alike and their ratio is fair."""
    for fn in fns.values():
        for x in inputs:
            timed(fn, x)
    ts = {name: [[] for _ in inputs] for name in fns}
    for _ in range(repeats):
        for i, x in enumerate(inputs):
            for name, fn in fns.items():
                ts[name][i].append(timed(fn, x)[1])
    return {name: [statistics.median(x) for x in per_input] for name, per_input in ts.items()}


def matmul_flops_per_s(sizes=(512, 1024, 2048), repeats: int = 10) -> float:
    """The best float32 matmul rate this machine reaches through XLA (median of repeats per size)."""
    best = 0.0
    for n in sizes:
        a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
        b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
        best = max(best, 2 * n**3 / median_seconds(jax.jit(jnp.dot), a, b, repeats=repeats))
    return best
