"""Training throughput of a configuration on real batches: tokens/s, step time, compile time, memory, MFU."""
from __future__ import annotations

import resource
import statistics

import jax
import jax.numpy as jnp
import numpy as np

from nmt.config import Config
from nmt.data import BatchIterator, load_data
from nmt.tools.flops import train_step_flops
from nmt.tools.timing import matmul_flops_per_s, timed
from nmt.training import step as step_lib
from nmt.training.memory import compiled_stats, footprint


def bench_train(config: Config, steps: int = 20, warmup: int = 3) -> dict:
    data = load_data(config.data)
    vocab = data.sp.vocab_size()
    model = step_lib.make_model(config, vocab)
    opt = step_lib.make_optimizer(config.train)
    state = step_lib.init_train_state(model, opt, jax.random.key(0))
    it = BatchIterator(data.train.examples, config.data.buckets, config.data.batch_tokens, config.train.seed)
    rng = jax.random.key(1)
    jitted = step_lib.compile_train_step(config, model, opt)

    compiled, compile_s, peak = {}, 0.0, 0
    for rows, length in sorted(it.shapes()):
        batch = {k: jnp.zeros((rows, length), jnp.int32) for k in ("src", "tgt_in", "tgt_out")}
        compiled[(rows, length)], seconds = timed(lambda: jitted.lower(state, batch, rng).compile())
        compile_s += seconds
        peak = max(peak, footprint(compiled_stats(compiled[(rows, length)])) or 0)

    times, tokens, flops, padded = [], [], [], []
    for i in range(warmup + steps):
        batch = next(it)
        shape = batch["src"].shape
        (state, metrics), dt = timed(compiled[shape], state, step_lib.model_batch(batch), rng)
        if i >= warmup:
            n = float(metrics["tokens"])
            times.append(dt)
            tokens.append(n)
            flops.append(train_step_flops(config.model, vocab, shape[0], shape[1], shape[1]))
            padded.append(1.0 - n / (shape[0] * shape[1]))
    peak_flops = matmul_flops_per_s()
    mfu = [f / t / peak_flops for f, t in zip(flops, times)]
    return {
        "tokens_per_s": statistics.median([n / t for n, t in zip(tokens, times)]),
        "tokens_per_s_mean": sum(tokens) / sum(times),
        "step_s": statistics.median(times),
        "compile_s": compile_s,
        "programs": len(compiled),
        "peak_bytes": peak,
        "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "mfu": statistics.median(mfu),
        "model_flops_per_s": statistics.median([f / t for f, t in zip(flops, times)]),
        "matmul_flops_per_s": peak_flops,
        "padding_fraction": float(np.mean(padded)),
        "flops_counted": "analytic matmul FLOPs of the padded batch shapes, forward x3",
        "steps": steps,
        "device": str(jax.devices()[0].device_kind),
        "parameters": int(sum(x.size for x in jax.tree.leaves(state.params))),
    }
