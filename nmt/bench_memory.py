"""Memory benchmarks: the recomputing attention against autodiff; `sqrt_t` against `none` over target length;
the deepest model each policy fits under one budget. Compile-only except the step timings."""
from __future__ import annotations

import dataclasses
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from nmt import step as step_lib
from nmt.config import Config
from nmt.memory.report import compile_train_step, compiled_stats, footprint
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


def _with(config: Config, **model) -> Config:
    return dataclasses.replace(config, model=dataclasses.replace(config.model, **model))


def time_train_step(config: Config, vocab: int, rows: int, src_len: int, tgt_len: int, repeats: int,
                    train_fn=None) -> float:
    """Median seconds of a real train step (after one warm-up step) on random tokens. `train_fn`: the step already
    compiled for these shapes (`compile_train_step`), else it is jitted here."""
    model, opt = step_lib.make_model(config, vocab), step_lib.make_optimizer(config.train)
    state = step_lib.init_state(model, opt, jax.random.key(0))
    ids = lambda n, k: jax.random.randint(jax.random.key(k), (rows, n), 4, vocab, jnp.int32)
    batch = {"src": ids(src_len, 1), "tgt_in": ids(tgt_len, 2), "tgt_out": ids(tgt_len, 3)}
    train_fn = train_fn or step_lib.compile_train_step(config, model, opt)
    state, m = train_fn(state, batch, jax.random.key(1))
    jax.block_until_ready(m)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        state, m = train_fn(state, batch, jax.random.key(1))
        jax.block_until_ready(m)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_sqrt_t(config: Config, vocab: int, rows: int = 64, src_len: int = 50,
                 lengths=(64, 128, 256, 512, 1024), long: int = 1024, time_len: int = 64, repeats: int = 3,
                 log=print) -> dict:
    """Temp memory of the whole train step under `sqrt_t` and `none` against target length (source fixed), the
    log-log slope of `sqrt_t`, the ratio at T = S = `long`, and the step-time ratio at T = `time_len`."""
    temps = {}
    for t in lengths:
        for policy in ("none", "sqrt_t"):
            temps[(policy, t)] = compiled_stats(compile_train_step(_with(config, remat=policy), vocab, rows, t,
                                                                   src_len)[0])["temp_bytes"]
        log(f"  T={t:5d} S={src_len}: temp none {temps[('none', t)] / 2**20:9.1f} MiB   "
            f"sqrt_t {temps[('sqrt_t', t)] / 2**20:9.1f} MiB")
    slope = float(np.polyfit(np.log(lengths), np.log([temps[("sqrt_t", t)] for t in lengths]), 1)[0])
    slope_none = float(np.polyfit(np.log(lengths), np.log([temps[("none", t)] for t in lengths]), 1)[0])
    at_long = {p: compiled_stats(compile_train_step(_with(config, remat=p), vocab, rows, long, long)[0])["temp_bytes"]
               for p in ("none", "sqrt_t")}
    log(f"  T=S={long}: temp none {at_long['none'] / 2**20:.1f} MiB, sqrt_t {at_long['sqrt_t'] / 2**20:.1f} MiB")
    step_s = {p: time_train_step(_with(config, remat=p), vocab, rows, src_len, time_len, repeats)
              for p in ("none", "sqrt_t")}
    log(f"  step at [{rows}, {time_len}], S={src_len}: none {step_s['none']:.3f} s, sqrt_t {step_s['sqrt_t']:.3f} s")
    return {"sqrt_t_slope": slope, "none_slope": slope_none,
            "sqrt_t_mem_ratio": at_long["none"] / at_long["sqrt_t"],
            "sqrt_t_time_ratio": step_s["sqrt_t"] / step_s["none"],
            "sqrt_t_temp_bytes": {str(t): temps[("sqrt_t", t)] for t in lengths},
            "none_temp_bytes": {str(t): temps[("none", t)] for t in lengths},
            "sqrt_t_temp_bytes_long": at_long["sqrt_t"], "none_temp_bytes_long": at_long["none"],
            "sqrt_t_step_s": step_s["sqrt_t"], "none_step_s": step_s["none"],
            "sqrt_t_shape": {"rows": rows, "src_len": src_len, "lengths": list(lengths), "long": long,
                             "time_len": time_len}}


DEPTH_POLICIES = ("sqrt_t", "full", "dots_no_batch")


def bench_depth(config: Config, vocab: int, rows: int = 64, length: int = 100, depths=(2, 3, 4, 6, 8),
                log=print) -> dict:
    """The budget is the compiled footprint of `none` with 2+2 layers at [rows, length]; returns the most
    encoder+decoder layers `none` fits under it and the most any policy in DEPTH_POLICIES fits (compile only)."""
    need = lambda policy, depth: footprint(compiled_stats(compile_train_step(
        _with(config, remat=policy, enc_layers=depth, dec_layers=depth), vocab, rows, length)[0]))
    budget = need("none", 2)
    log(f"  depth budget: none with 2+2 layers at [{rows}, {length}] needs {budget / 2**30:.3f} GiB")
    max_none = 2
    for depth in depths[1:]:
        b = need("none", depth)
        log(f"  none   {depth}+{depth}: {b / 2**30:.3f} GiB {'fits' if b <= budget else 'too big'}")
        if b > budget:
            break
        max_none = depth
    best, best_policy, table = max_none, "none", {}
    for depth in sorted(depths, reverse=True):
        if depth <= max_none:
            break
        for policy in DEPTH_POLICIES:
            b = table[f"{policy}@{depth}"] = need(policy, depth)
            log(f"  {policy:<6} {depth}+{depth}: {b / 2**30:.3f} GiB {'fits' if b <= budget else 'too big'}")
            if b <= budget:
                best, best_policy = depth, policy
                break
        if best_policy != "none":
            break
    return {"max_layers_none": max_none, "max_layers_best": best, "max_layers_best_policy": best_policy,
            "depth_budget_bytes": budget, "depth_shape": {"rows": rows, "length": length},
            "depth_bytes": table}
