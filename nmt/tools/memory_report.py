"""Memory report of a configuration and policy, from the compiled train step alone (no run needed): the compiled
program's memory and what the backward pass keeps, grouped by the name the model gave it, with its placement."""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp

from nmt.config import Config
from nmt.tools.residuals import saved_residuals
from nmt.training import step as step_lib
from nmt.training.memory import compile_for_shapes, compiled_stats


def memory_report(
    config: Config, vocab: int, rows: int, length: int, src_len: int | None = None, compiled=None
) -> dict:
    """Compiles the train step for targets `[rows, length]` and sources `[rows, src_len or length]`; returns
    compiled stats and grouped residuals. `compiled`: what `compile_for_shapes` gave for these arguments, if the
    caller already has it (then nothing is compiled here)."""
    compiled, model, state, batch = compiled or compile_for_shapes(config, vocab, rows, length, src_len)
    concrete = {k: jnp.ones(v.shape, v.dtype) for k, v in batch.items()}
    params = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), state.params)
    residuals = saved_residuals(lambda p: step_lib.loss_fn(p, model, concrete, None, 0.0)[0], params)
    groups = collections.defaultdict(lambda: {"count": 0, "bytes": 0})
    for r in residuals:
        if r.source.startswith("from the argument"):
            continue  # parameters: kept anyway
        g = groups[(r.source.split(" from ")[0], "host" if r.on_host else "device")]
        g["count"] += 1
        g["bytes"] += r.bytes
    table = [
        {"residual": k[0], "placement": k[1], **v} for k, v in sorted(groups.items(), key=lambda x: -x[1]["bytes"])
    ]
    return {
        "remat": config.model.remat,
        "attention_impl": config.model.attention_impl,
        "rows": rows,
        "length": length,
        **compiled_stats(compiled),
        "residual_bytes_device": sum(t["bytes"] for t in table if t["placement"] == "device"),
        "residual_bytes_host": sum(t["bytes"] for t in table if t["placement"] == "host"),
        "residuals": table,
    }


def report_lines(rep: dict) -> list[str]:
    """The report as lines of text: bytes in MiB, then the saved residuals largest first."""
    lines = [
        f"  {k:<22} {rep[k] / 2**20:10.1f} MiB"
        for k in (
            "temp_bytes",
            "argument_bytes",
            "output_bytes",
            "host_temp_bytes",
            "residual_bytes_device",
            "residual_bytes_host",
        )
        if rep.get(k) is not None
    ]
    lines.append("  saved residuals (parameters excluded):")
    lines += [
        f"    {t['bytes'] / 2**20:9.2f} MiB  {t['count']:3d}x  {t['placement']:<6}  {t['residual']}"
        for t in rep["residuals"]
    ]
    return lines
