"""Training throughput of a configuration on real batches: tokens/s, step time, compile time, memory, MFU; and
variants of it (`--variant NAME=OVERRIDES`) timed in alternating windows over the same batches, as ratios."""

from __future__ import annotations

import collections
import logging
import resource
import statistics

import jax
import jax.numpy as jnp
import numpy as np

from nmt.config import Config, with_overrides
from nmt.data import BatchIterator, load_data
from nmt.model import make_model
from nmt.tools.flops import train_step_flops
from nmt.tools.profile import profile_steps
from nmt.tools.timing import dispatch_seconds, matmul_flops_per_s, median_seconds, timed
from nmt.training import step as step_lib
from nmt.training.memory import compiled_stats, footprint

logger = logging.getLogger(__name__)


class _Variant:
    """One configuration's train step, compiled for every batch shape, and the times of its timed steps."""

    def __init__(self, config: Config, vocab: int, batches: list[dict], programs: int):
        """Compiles the step for the shapes that occur in `batches`; `programs`: how many an epoch needs."""
        self.config, self.vocab, self.programs = config, vocab, programs
        model = make_model(config, vocab)
        opt = step_lib.make_optimizer(config.train)
        self.state = step_lib.init_train_state(model, opt, jax.random.key(0))
        self.rng = jax.random.key(1)
        jitted = step_lib.compile_train_step(config, model, opt)
        self.compiled, self.compile_s, self.peak = {}, 0.0, 0
        for rows, src_len, tgt_len in sorted({_shape(b) for b in batches}):
            batch = {
                "src": jnp.zeros((rows, src_len), jnp.int32),
                "tgt_in": jnp.zeros((rows, tgt_len), jnp.int32),
                "tgt_out": jnp.zeros((rows, tgt_len), jnp.int32),
            }
            key = (rows, src_len, tgt_len)
            self.compiled[key], seconds = timed(lambda: jitted.lower(self.state, batch, self.rng).compile())
            self.compile_s += seconds
            self.peak = max(self.peak, footprint(compiled_stats(self.compiled[key])) or 0)
        self.times, self.tokens, self.src_tokens, self.flops, self.padded, self.src_padded = [], [], [], [], [], []

    def window(self, batches: list[dict], warmup: int) -> None:
        """Runs every batch; times all but the first `warmup`."""
        for i, batch in enumerate(batches):
            rows, src_len, tgt_len = shape = _shape(batch)
            (self.state, metrics), dt = timed(self.compiled[shape], self.state, step_lib.model_batch(batch), self.rng)
            if i >= warmup:
                n, m = float(metrics["tokens"]), float((batch["src"] != 0).sum())
                self.times.append(dt)
                self.tokens.append(n)
                self.src_tokens.append(m)
                self.flops.append(train_step_flops(self.config.model, self.vocab, rows, src_len, tgt_len))
                self.padded.append(1.0 - n / (rows * tgt_len))
                self.src_padded.append(1.0 - m / (rows * src_len))

    def result(self, peak_flops: float) -> dict:
        return {
            "tokens_per_s": statistics.median([n / t for n, t in zip(self.tokens, self.times)]),
            "tokens_per_s_mean": sum(self.tokens) / sum(self.times),
            "src_tgt_tokens_per_s": statistics.median(
                [(n + m) / t for n, m, t in zip(self.tokens, self.src_tokens, self.times)]
            ),
            "step_s": statistics.median(self.times),
            "compile_s": self.compile_s,
            "programs_compiled": len(self.compiled),
            "programs": self.programs,
            "peak_bytes": self.peak,
            "mfu": statistics.median([f / t / peak_flops for f, t in zip(self.flops, self.times)]),
            "model_flops_per_s": statistics.median([f / t for f, t in zip(self.flops, self.times)]),
            "padding_fraction": float(np.mean(self.padded)),
            "src_padding_fraction": float(np.mean(self.src_padded)),
            "timed_steps": len(self.times),
            "parameters": int(sum(x.size for x in jax.tree.leaves(self.state.params))),
        }


def _shape(batch: dict) -> tuple[int, int, int]:
    return batch["src"].shape[0], batch["src"].shape[1], batch["tgt_in"].shape[1]


def profile_train(run: _Variant, batches: list[dict]) -> dict:
    """`profile_steps` of the batch shape that occurs most, over its batches, and the host's time per batch."""
    shape = collections.Counter(_shape(b) for b in batches).most_common(1)[0][0]
    args = [(step_lib.model_batch(b),) for b in batches if _shape(b) == shape]

    def step(batch):  # the state is donated: each step reads the one the step before left
        run.state, metrics = run.compiled[shape](run.state, batch, run.rng)
        return metrics

    plain = statistics.median(timed(step, *a)[1] for a in args)
    dispatch = statistics.median(dispatch_seconds(step, *a) for a in args)
    res = profile_steps(step, args, run.compiled[shape].as_text(), plain)
    return {"shape": list(shape), "steps": len(args), "dispatch_s": dispatch, **res}


def _batches(data, c: Config) -> BatchIterator:
    """The training batches of `c` over the training pairs of `data`."""
    d = c.data
    return BatchIterator(data.train.examples, d.buckets, d.batch_tokens, c.train.seed, d.full_batches, d.pair_shapes)


def bench_train(
    config: Config,
    steps: int = 20,
    warmup: int = 3,
    variants: dict | None = None,
    rounds: int = 1,
    profile: bool = False,
) -> dict:
    """Times `steps` train steps (after `warmup`) on the first batches of the training data.

    variants: {name: [section.field=value, ...]}: each applied to `config`; their windows of the same batches take
      turns, `rounds` times, and the result gives each variant's figures and its tokens/s over the first's. A variant
      that changes data.buckets, data.batch_tokens, data.full_batches, data.pair_shapes or train.seed draws its own
      batches (the same sentences, cut its way).
    """
    data = load_data(config.data)
    vocab = data.sp.vocab_size()

    def draw(c: Config):
        it = _batches(data, c)
        return [next(it) for _ in range(warmup + steps)], len(it.shapes())

    configs = {name: with_overrides(config, overrides) for name, overrides in (variants or {"": []}).items()}
    drawn = {}  # (buckets, batch_tokens, seed) -> (batches, shapes): variants that batch alike share them
    key = lambda c: (c.data.buckets, c.data.batch_tokens, c.train.seed, c.data.full_batches, c.data.pair_shapes)
    for c in configs.values():
        if key(c) not in drawn:
            drawn[key(c)] = draw(c)
    batches = {name: drawn[key(c)] for name, c in configs.items()}
    runs = {name: _Variant(c, vocab, *batches[name]) for name, c in configs.items()}
    for r in range(rounds):
        for name, run in runs.items():
            logger.info(f"round {r + 1}/{rounds}: {name or 'train step'}")
            run.window(batches[name][0], warmup)
    peak_flops = matmul_flops_per_s()
    common = {
        "matmul_flops_per_s": peak_flops,
        "steps": steps,
        "rounds": rounds,
        "flops_counted": "analytic matmul FLOPs of the padded batch shapes, forward x3",
        "device": str(jax.devices()[0].device_kind),
        "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    if profile:
        name = next(iter(runs))
        common["profile"] = profile_train(runs[name], batches[name][0])
        it = _batches(data, config)
        common["batching_s"] = median_seconds(lambda: next(it), repeats=len(batches))
    if not variants:
        return {**runs[""].result(peak_flops), **common}
    results = {name: run.result(peak_flops) for name, run in runs.items()}
    first = next(iter(results.values()))["tokens_per_s"]
    return {
        "variants": results,
        "over_first": {name: r["tokens_per_s"] / first for name, r in results.items()},
        **common,
    }
