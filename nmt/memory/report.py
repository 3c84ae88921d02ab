"""Memory report of a configuration and policy, from the compiled train step alone (no run needed).

`python -m nmt.memory [--preset NAME] [--rows R --length T] [section.field=value ...]`
"""
from __future__ import annotations

import collections
import json

import jax
import jax.numpy as jnp

from nmt import cli
from nmt import step as step_lib
from nmt.config import Config
from nmt.memory.residuals import saved_residuals


def compiled_stats(compiled) -> dict:
    """The compiled program's memory statistics (None where the backend gives none)."""
    m = compiled.memory_analysis()
    if m is None:
        return {"temp_bytes": None}
    return {"temp_bytes": int(m.temp_size_in_bytes), "argument_bytes": int(m.argument_size_in_bytes),
            "output_bytes": int(m.output_size_in_bytes), "alias_bytes": int(m.alias_size_in_bytes),
            "host_temp_bytes": int(getattr(m, "host_temp_size_in_bytes", 0))}


def footprint(stats: dict) -> int:
    """Bytes the compiled step needs at once: temp + arguments + outputs − outputs aliased to donated arguments."""
    return stats["temp_bytes"] + stats["argument_bytes"] + stats["output_bytes"] - stats["alias_bytes"]


def compile_train_step(config: Config, vocab: int, rows: int, length: int, src_len: int | None = None):
    """The train step compiled for targets `[rows, length]` and sources `[rows, src_len or length]`, from shapes only.

    Returns (compiled, model, abstract train state, abstract batch)."""
    model = step_lib.make_model(config, vocab)
    opt = step_lib.make_optimizer(config.train)
    state = jax.eval_shape(lambda: step_lib.init_state(model, opt, jax.random.key(0)))
    batch = {k: jax.ShapeDtypeStruct((rows, length), jnp.int32) for k in ("tgt_in", "tgt_out")}
    batch["src"] = jax.ShapeDtypeStruct((rows, src_len or length), jnp.int32)
    train_fn = step_lib.compile_train_step(config, model, opt)
    compiled = train_fn.lower(state, batch, jax.ShapeDtypeStruct((), jax.random.key(0).dtype)).compile()
    return compiled, model, state, batch


def memory_report(config: Config, vocab: int, rows: int, length: int, src_len: int | None = None,
                  compiled=None) -> dict:
    """Compiles the train step for targets `[rows, length]` and sources `[rows, src_len or length]`; returns
    compiled stats and grouped residuals. `compiled`: what `compile_train_step` gave for these arguments, if the
    caller already has it (then nothing is compiled here)."""
    compiled, model, state, batch = compiled or compile_train_step(config, vocab, rows, length, src_len)
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
    table = [{"residual": k[0], "placement": k[1], **v} for k, v in sorted(groups.items(), key=lambda x: -x[1]["bytes"])]
    return {"remat": config.model.remat, "attention_impl": config.model.attention_impl, "rows": rows,
            "length": length, **compiled_stats(compiled), "residual_bytes_device":
            sum(t["bytes"] for t in table if t["placement"] == "device"),
            "residual_bytes_host": sum(t["bytes"] for t in table if t["placement"] == "host"), "residuals": table}


def main(argv=None):
    parser = cli.Parser(prog="nmt.memory", description=__doc__.split("\n\n")[0])
    cli.add_config_args(parser)
    parser.set_defaults(preset="reference")
    parser.add_argument("--rows", type=int, default=64, help="sentences per batch (default: 64)")
    parser.add_argument("--length", type=int, default=50, help="padded source and target length (default: 50)")
    parser.add_argument("--vocab", type=int, default=0, help="vocabulary size (default: data.vocab_size)")
    args = parser.parse_args(argv)

    def go():
        config = cli.config_from_args(args)
        rep = memory_report(config, args.vocab or config.data.vocab_size, args.rows, args.length)
        print(f"preset {args.preset}, remat {rep['remat']}, attention {rep['attention_impl']}, "
              f"batch [{args.rows}, {args.length}]")
        for k in ("temp_bytes", "argument_bytes", "output_bytes", "host_temp_bytes", "residual_bytes_device",
                  "residual_bytes_host"):
            if rep.get(k) is not None:
                print(f"  {k:<22} {rep[k] / 2**20:10.1f} MiB")
        print("  saved residuals (parameters excluded):")
        for t in rep["residuals"]:
            print(f"    {t['bytes'] / 2**20:9.2f} MiB  {t['count']:3d}x  {t['placement']:<6}  {t['residual']}")
        print(json.dumps(rep))

    cli.main_guard(go, "nmt.memory")


if __name__ == "__main__":
    main()
