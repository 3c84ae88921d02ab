"""Memory benchmarks: the recomputing attention against autodiff of the same attention in a decoder-like scan."""
from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp

from nmt.memory.report import compiled_stats
from nmt.model import attention


def attention_scan_loss(kind: str, recompute: bool):
    """T decoder-like steps, each attending over the same S keys/values with a query from the previous step."""
    def loss(p, w, keys, values, mask, xs):
        def body(h, x):
            ctx, _ = attention.attend(p, kind, h + x, keys, values, mask, recompute=recompute)
            h = jnp.tanh(ctx @ w)
            return h, jnp.sum(h)
        _, out = jax.lax.scan(body, jnp.zeros_like(xs[0]), xs)
        return jnp.sum(out)
    return loss


def bench_attention(kind: str = "bahdanau", batch: int = 64, t: int = 128, s: int = 128, hidden: int = 512,
                    repeats: int = 5, log=print) -> dict:
    rng = iter(jax.random.split(jax.random.key(0), 8))
    normal = lambda *shape: jax.random.normal(next(rng), shape, jnp.float32) * 0.1
    p = {k: normal(*shape) for k, shape in attention.attention_param_shapes(kind, hidden, hidden).items()}
    args = (p, normal(hidden, hidden), normal(batch, s, hidden), normal(batch, s, hidden),
            jnp.ones((batch, s), bool), normal(t, batch, hidden))
    out = {}
    for name, recompute in (("autodiff", False), ("recompute", True)):
        fn = jax.jit(jax.grad(attention_scan_loss(kind, recompute), argnums=(0, 1, 2, 3)))
        t0 = time.perf_counter()
        compiled = fn.lower(*args).compile()
        compile_s = time.perf_counter() - t0
        jax.block_until_ready(compiled(*args))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            times.append(time.perf_counter() - t0)
        out[name] = {"temp_bytes": compiled_stats(compiled)["temp_bytes"], "step_s": statistics.median(times),
                     "compile_s": compile_s}
        log(f"  attention {name:<9} temp {out[name]['temp_bytes'] / 2**20:9.1f} MiB  "
            f"step {1000 * out[name]['step_s']:8.1f} ms")
    a, r = out["autodiff"], out["recompute"]
    return {"attention_temp_ratio": a["temp_bytes"] / max(r["temp_bytes"], 1),
            "attention_time_ratio": r["step_s"] / a["step_s"],
            "attention_temp_bytes_autodiff": a["temp_bytes"], "attention_temp_bytes_recompute": r["temp_bytes"],
            "attention_step_s_autodiff": a["step_s"], "attention_step_s_recompute": r["step_s"],
            "attention_shape": {"kind": kind, "batch": batch, "T": t, "S": s, "hidden": hidden}}
