"""What the compiled train step needs in memory, from shapes alone (no run, no data)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nmt.config import Config
from nmt.model import make_model
from nmt.training import step as step_lib


def compiled_stats(compiled) -> dict:
    """The compiled program's memory statistics (`temp_bytes` None where the backend gives none)."""
    m = compiled.memory_analysis()
    if m is None:
        return {"temp_bytes": None}
    return {
        "temp_bytes": int(m.temp_size_in_bytes),
        "argument_bytes": int(m.argument_size_in_bytes),
        "output_bytes": int(m.output_size_in_bytes),
        "alias_bytes": int(m.alias_size_in_bytes),
        "host_temp_bytes": int(getattr(m, "host_temp_size_in_bytes", 0)),
    }


def footprint(stats: dict) -> int | None:
    """Bytes the compiled step needs at once: temp + arguments + outputs − outputs aliased to donated arguments."""
    if stats["temp_bytes"] is None:
        return None
    return stats["temp_bytes"] + stats["argument_bytes"] + stats["output_bytes"] - stats["alias_bytes"]


def compile_for_shapes(config: Config, vocab: int, rows: int, length: int, src_len: int | None = None):
    """The train step compiled for targets `[rows, length]` and sources `[rows, src_len or length]`, from shapes only.

    Returns (compiled, model, abstract train state, abstract batch)."""
    model = make_model(config, vocab)
    opt = step_lib.make_optimizer(config.train)
    state = jax.eval_shape(lambda: step_lib.init_train_state(model, opt, jax.random.key(0)))
    batch = {k: jax.ShapeDtypeStruct((rows, length), jnp.int32) for k in ("tgt_in", "tgt_out")}
    batch["src"] = jax.ShapeDtypeStruct((rows, src_len or length), jnp.int32)
    train_fn = step_lib.compile_train_step(config, model, opt)
    compiled = train_fn.lower(state, batch, jax.ShapeDtypeStruct((), jax.random.key(0).dtype)).compile()
    return compiled, model, state, batch
