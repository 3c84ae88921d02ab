"""Memory benchmarks: the recomputing attention against autodiff; `sqrt_t` against `none` over target length;
the deepest model each policy fits under one budget; the ablation sweep of policy × length × depth. Compile-only
except the step timings."""

from __future__ import annotations

import json
import logging

import jax
import jax.numpy as jnp
import numpy as np

from nmt.config import Config, get_config
from nmt.model import attention, make_model
from nmt.model.policies import AUTOFIT
from nmt.tools.memory_report import memory_report
from nmt.tools.timing import median_seconds, timed
from nmt.training import step as step_lib
from nmt.training.memory import compile_for_shapes, compiled_stats, footprint

logger = logging.getLogger(__name__)


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


def bench_attention(
    kind: str = "bahdanau", batch: int = 64, t: int = 128, s: int = 128, hidden: int = 512, repeats: int = 5
) -> dict:
    rng = iter(jax.random.split(jax.random.key(0), 8))
    normal = lambda *shape: jax.random.normal(next(rng), shape, jnp.float32) * 0.1
    p = {k: normal(*shape) for k, shape in attention.attention_param_shapes(kind, hidden, hidden).items()}
    args = (
        p,
        normal(hidden, hidden),
        normal(batch, s, hidden),
        normal(batch, s, hidden),
        jnp.ones((batch, s), bool),
        normal(t, batch, hidden),
    )
    out = {}
    for name, recompute in (("autodiff", False), ("recompute", True)):
        fn = jax.jit(jax.grad(attention_scan_loss(kind, recompute), argnums=(0, 1, 2, 3)))
        compiled, compile_s = timed(lambda: fn.lower(*args).compile())
        out[name] = {
            "temp_bytes": compiled_stats(compiled)["temp_bytes"],
            "step_s": median_seconds(compiled, *args, repeats=repeats),
            "compile_s": compile_s,
        }
        logger.info(
            f"  attention {name:<9} temp {out[name]['temp_bytes'] / 2**20:9.1f} MiB  "
            f"step {1000 * out[name]['step_s']:8.1f} ms"
        )
    a, r = out["autodiff"], out["recompute"]
    return {
        "attention_temp_ratio": a["temp_bytes"] / max(r["temp_bytes"], 1),
        "attention_time_ratio": r["step_s"] / a["step_s"],
        "attention_temp_bytes_autodiff": a["temp_bytes"],
        "attention_temp_bytes_recompute": r["temp_bytes"],
        "attention_step_s_autodiff": a["step_s"],
        "attention_step_s_recompute": r["step_s"],
        "attention_shape": {"kind": kind, "batch": batch, "T": t, "S": s, "hidden": hidden},
    }


def time_train_step(
    config: Config, vocab: int, rows: int, src_len: int, tgt_len: int, repeats: int, train_fn=None
) -> float:
    """Median seconds of a real train step (after one warm-up step) on random tokens. `train_fn`: the step already
    compiled for these shapes (`compile_for_shapes`), else it is jitted here."""
    model, opt = make_model(config, vocab), step_lib.make_optimizer(config.train)
    state = [step_lib.init_train_state(model, opt, jax.random.key(0))]  # donated by each step: kept here
    ids = lambda n, k: jax.random.randint(jax.random.key(k), (rows, n), 4, vocab, jnp.int32)
    batch = {"src": ids(src_len, 1), "tgt_in": ids(tgt_len, 2), "tgt_out": ids(tgt_len, 3)}
    train_fn = train_fn or step_lib.compile_train_step(config, model, opt)

    def one_step():
        state[0], metrics = train_fn(state[0], batch, jax.random.key(1))
        return metrics

    return median_seconds(one_step, repeats=repeats)


def bench_sqrt_t(
    config: Config,
    vocab: int,
    rows: int = 64,
    src_len: int = 50,
    lengths=(64, 128, 256, 512, 1024),
    long: int = 1024,
    time_len: int = 64,
    repeats: int = 3,
) -> dict:
    """Temp memory of the whole train step under `sqrt_t` and `none` against target length (source fixed), the
    log-log slope of `sqrt_t`, the ratio at T = S = `long`, and the step-time ratio at T = `time_len`."""
    temp = lambda policy, t, s: compiled_stats(
        compile_for_shapes(config.replace(model={"remat": policy}), vocab, rows, t, s)[0]
    )["temp_bytes"]
    temps = {}
    for t in lengths:
        for policy in ("none", "sqrt_t"):
            temps[(policy, t)] = temp(policy, t, src_len)
        logger.info(
            f"  T={t:5d} S={src_len}: temp none {temps[('none', t)] / 2**20:9.1f} MiB   "
            f"sqrt_t {temps[('sqrt_t', t)] / 2**20:9.1f} MiB"
        )
    slope = float(np.polyfit(np.log(lengths), np.log([temps[("sqrt_t", t)] for t in lengths]), 1)[0])
    slope_none = float(np.polyfit(np.log(lengths), np.log([temps[("none", t)] for t in lengths]), 1)[0])
    at_long = {p: temp(p, long, long) for p in ("none", "sqrt_t")}
    logger.info(
        f"  T=S={long}: temp none {at_long['none'] / 2**20:.1f} MiB, sqrt_t {at_long['sqrt_t'] / 2**20:.1f} MiB"
    )
    step_s = {
        p: time_train_step(config.replace(model={"remat": p}), vocab, rows, src_len, time_len, repeats)
        for p in ("none", "sqrt_t")
    }
    logger.info(
        f"  step at [{rows}, {time_len}], S={src_len}: none {step_s['none']:.3f} s, sqrt_t {step_s['sqrt_t']:.3f} s"
    )
    return {
        "sqrt_t_slope": slope,
        "none_slope": slope_none,
        "sqrt_t_mem_ratio": at_long["none"] / at_long["sqrt_t"],
        "sqrt_t_time_ratio": step_s["sqrt_t"] / step_s["none"],
        "sqrt_t_temp_bytes": {str(t): temps[("sqrt_t", t)] for t in lengths},
        "none_temp_bytes": {str(t): temps[("none", t)] for t in lengths},
        "sqrt_t_temp_bytes_long": at_long["sqrt_t"],
        "none_temp_bytes_long": at_long["none"],
        "sqrt_t_step_s": step_s["sqrt_t"],
        "none_step_s": step_s["none"],
        "sqrt_t_shape": {
            "rows": rows,
            "src_len": src_len,
            "lengths": list(lengths),
            "long": long,
            "time_len": time_len,
        },
    }


def bench_depth(config: Config, vocab: int, rows: int = 64, length: int = 100, depths=(2, 3, 4, 6, 8)) -> dict:
    """The budget is the compiled footprint of `none` with 2+2 layers at [rows, length]; returns the most
    encoder+decoder layers `none` fits under it and the most any auto-fit policy fits, trying those that recompute
    most first (compile only)."""
    need = lambda policy, depth: footprint(
        compiled_stats(
            compile_for_shapes(
                config.replace(model=dict(remat=policy, enc_layers=depth, dec_layers=depth)), vocab, rows, length
            )[0]
        )
    )
    budget = need("none", 2)
    logger.info(f"  depth budget: none with 2+2 layers at [{rows}, {length}] needs {budget / 2**30:.3f} GiB")
    max_none = 2
    for depth in depths[1:]:
        b = need("none", depth)
        logger.info(f"  none   {depth}+{depth}: {b / 2**30:.3f} GiB {'fits' if b <= budget else 'too big'}")
        if b > budget:
            break
        max_none = depth
    best, best_policy, table = max_none, "none", {}
    for depth in sorted(depths, reverse=True):
        if depth <= max_none:
            break
        for policy in [p for p in reversed(AUTOFIT) if p != "none"]:
            b = table[f"{policy}@{depth}"] = need(policy, depth)
            logger.info(f"  {policy:<6} {depth}+{depth}: {b / 2**30:.3f} GiB {'fits' if b <= budget else 'too big'}")
            if b <= budget:
                best, best_policy = depth, policy
                break
        if best_policy != "none":
            break
    return {
        "max_layers_none": max_none,
        "max_layers_best": best,
        "max_layers_best_policy": best_policy,
        "depth_budget_bytes": budget,
        "depth_shape": {"rows": rows, "length": length},
        "depth_bytes": table,
    }


def memory_bench(
    config: Config,
    vocab: int,
    only: str | None = None,
    batch: int = 64,
    length: int = 128,
    lengths=(64, 128, 256, 512, 1024),
    time_len: int = 64,
    depth_len: int = 100,
    hidden: int = 512,
    attention_kind: str = "bahdanau",
    repeats: int = 5,
) -> dict:
    """`python -m nmt.bench memory`: the attention, sqrt_t and depth parts (`only` one of them), in one dict."""
    res = {}
    if only in (None, "attention"):
        logger.info("recomputing attention vs autodiff")
        res.update(bench_attention(attention_kind, batch, length, length, hidden, repeats))
    if only in (None, "sqrt_t"):
        logger.info("sqrt_t vs none, whole train step")
        res.update(bench_sqrt_t(config, vocab, batch, 50, tuple(lengths), max(lengths), time_len, min(repeats, 3)))
    if only in (None, "depth"):
        logger.info("depth under the budget of none with 2+2 layers")
        res.update(bench_depth(config, vocab, batch, depth_len))
    return res


def sweep(preset: str, policies, lengths, depths, rows: int, src_len: int, vocab: int, timed_steps: bool) -> list:
    """One row per (encoder depth, policy, target length): compiled temp memory, host residual bytes and, when
    `timed_steps`, the median step time of a real step on random tokens."""
    rows_out = []
    for depth in depths:
        for policy in policies:
            for t in lengths:
                cfg = get_config(preset, [f"model.enc_layers={depth}", f"model.remat={policy}"])
                compiled = compile_for_shapes(cfg, vocab, rows, t, src_len)
                rep = memory_report(cfg, vocab, rows, t, src_len, compiled=compiled)
                row = {
                    "policy": policy,
                    "enc_layers": depth,
                    "tgt_len": t,
                    "src_len": src_len,
                    "rows": rows,
                    "temp_bytes": rep["temp_bytes"],
                    "host_temp_bytes": rep.get("host_temp_bytes"),
                    "residual_bytes_host": rep["residual_bytes_host"],
                }
                if timed_steps:
                    row["step_s"] = time_train_step(cfg, vocab, rows, src_len, t, repeats=3, train_fn=compiled[0])
                logger.info(json.dumps(row))
                rows_out.append(row)
    return rows_out
