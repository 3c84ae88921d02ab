"""Decoding speed: the compiled beam search against the per-step-graph baseline, at batch 1 and batch 64.

The baseline is the same search (same step function, same beam bookkeeping) with the loop in Python: one jitted
body call per token and the all-finished flag read back to the host each step — the shape of decoders that run one
graph per token.
"""
from __future__ import annotations

import functools
import statistics
import time

import jax
import numpy as np

from nmt.bench_train import compiled_bytes
from nmt.data import Examples
from nmt.data.batching import group_by_bucket, make_batch
from nmt.decode import BeamConfig, beam_decode
from nmt.decode.beam import make_search
from nmt.decode.search import max_output_len, strip
from nmt.model import Seq2Seq


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len"))
def _baseline_init(model, params, src, cfg, max_len):
    v = {"params": params}
    memory = model.apply(v, src, method=Seq2Seq.encode)
    dec = model.apply(v, memory, cfg.beam, method=Seq2Seq.init_state)
    return memory, make_search(None, dec, memory.mask, cfg, max_len)[0]


def _search_fns(model, params, memory, cfg, max_len):
    def step_fn(dec, tokens):
        return model.apply({"params": params}, memory, dec, tokens, method=Seq2Seq.step)
    dummy = model.apply({"params": params}, memory, cfg.beam, method=Seq2Seq.init_state)
    _, cond, body = make_search(step_fn, dummy, memory.mask, cfg, max_len)
    return cond, body


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len"))
def _baseline_cond(model, params, memory, state, cfg, max_len):
    return _search_fns(model, params, memory, cfg, max_len)[0](state)


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len"))
def _baseline_body(model, params, memory, state, cfg, max_len):
    return _search_fns(model, params, memory, cfg, max_len)[1](state)


def per_step_search(model, params, src, cfg: BeamConfig, max_len: int):
    memory, state = _baseline_init(model, params, src, cfg, max_len)
    while bool(_baseline_cond(model, params, memory, state, cfg, max_len)):  # host round-trip every token
        state = _baseline_body(model, params, memory, state, cfg, max_len)
    return state.fin_seqs


def compiled_search(model, params, src, cfg: BeamConfig, max_len: int):
    return beam_decode(model, params, src, cfg, max_len)["tokens"]


def _time(fn, batches, repeats: int) -> list[float]:
    """Per-batch median over `repeats` (after one warm-up call per batch shape)."""
    for b in batches:
        jax.block_until_ready(fn(b))
    out = []
    for b in batches:
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            jax.block_until_ready(fn(b))
            ts.append(time.perf_counter() - t)
        out.append(statistics.median(ts))
    return out


def _batches(ids: list[list[int]], buckets: tuple, rows: int) -> list[dict]:
    """Batches of exactly `rows` sentences of one length bucket (the last of a bucket padded with empty rows)."""
    ex = Examples(ids, [[] for _ in ids], np.arange(len(ids)))
    return [make_batch(ex, idx[k:k + rows], bucket, rows)
            for bucket, idx in group_by_bucket(ex, buckets).items() for k in range(0, len(idx), rows)]


def bench_decode(model, params, sp, sources: list[str], buckets: tuple, cfg: BeamConfig,
                 batch1_sentences: int = 50, repeats: int = 3, log=print) -> dict:
    ids = [x[:max(buckets) - 1] for x in sp.encode(sources)]
    big = _batches(ids, buckets, 64)
    one = _batches(ids[:batch1_sentences], buckets, 1)

    def runner(search):
        return lambda b: search(model, params, b["src"], cfg, max_output_len(b["src"].shape[1], cfg))

    t = time.perf_counter()
    lowered = [beam_decode.lower(model, params, b["src"], cfg, max_output_len(b["src"].shape[1], cfg))
               for b in {b["src"].shape: b for b in one + big}.values()]
    compiled = [x.compile() for x in lowered]
    compile_s = time.perf_counter() - t
    peak = max((compiled_bytes(c) or 0) for c in compiled)

    res = {}
    for name, search in (("compiled", compiled_search), ("per_step", per_step_search)):
        log(f"timing {name} search ...")
        t1 = _time(runner(search), one, repeats)
        t64 = _time(runner(search), big, repeats)
        res[name] = (t1, t64)
    out_tokens = 0
    for b in big:
        toks = np.asarray(compiled_search(model, params, b["src"], cfg, max_output_len(b["src"].shape[1], cfg)))
        out_tokens += sum(len(strip(toks[r, 0])) + 1 for r, i in enumerate(b["index"]) if i >= 0)
    n_big = sum(int((b["index"] >= 0).sum()) for b in big)
    c1, c64 = statistics.median(res["compiled"][0]), sum(res["compiled"][1])
    p1, p64 = statistics.median(res["per_step"][0]), sum(res["per_step"][1])
    return {
        "latency_ms_batch1": 1000 * c1,
        "tokens_per_s_batch64": out_tokens / c64,
        "sentences_per_s_batch64": n_big / c64,
        "speedup_batch1": p1 / c1,
        "speedup_batch64": p64 / c64,
        "compile_s": compile_s,
        "peak_bytes": peak,
        "per_step_latency_ms_batch1": 1000 * p1,
        "per_step_tokens_per_s_batch64": out_tokens / p64,
        "batch1_sentences": len(one),
        "batch64_sentences": n_big,
        "mean_output_tokens": out_tokens / max(n_big, 1),
        "beam": cfg.beam,
        "device": str(jax.devices()[0].device_kind),
    }
