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
from nmt.data.batching import bucket_of, make_batch
from nmt.decode import BeamConfig, beam_decode, embedding_projection
from nmt.decode.beam import make_search
from nmt.decode.search import max_output_len, strip
from nmt.model import Seq2Seq


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len"))
def _baseline_init(model, params, src, cfg, max_len, vocab):
    v = {"params": params}
    memory = model.apply(v, src, method=Seq2Seq.encode)
    dec = model.apply(v, memory, cfg.beam, method=Seq2Seq.init_state)
    weights = None if vocab is None else model.apply(v, vocab[0], method=Seq2Seq.output_weights)
    return memory, weights, make_search(None, dec, memory.mask, cfg, max_len, shortlist=vocab)[0]


def _search_fns(model, params, memory, weights, projected, cfg, max_len, vocab):
    def step_fn(dec, tokens):
        return model.apply({"params": params}, memory, dec, tokens, weights, projected, method=Seq2Seq.step)
    dummy = model.apply({"params": params}, memory, cfg.beam, method=Seq2Seq.init_state)
    _, cond, body = make_search(step_fn, dummy, memory.mask, cfg, max_len, shortlist=vocab)
    return cond, body


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len"))
def _baseline_cond(model, params, memory, weights, projected, state, cfg, max_len, vocab):
    return _search_fns(model, params, memory, weights, projected, cfg, max_len, vocab)[0](state)


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len"))
def _baseline_body(model, params, memory, weights, projected, state, cfg, max_len, vocab):
    return _search_fns(model, params, memory, weights, projected, cfg, max_len, vocab)[1](state)


def per_step_search(model, params, src, cfg: BeamConfig, max_len: int, vocab, projected):
    memory, weights, state = _baseline_init(model, params, src, cfg, max_len, vocab)
    args = (model, params, memory, weights, projected)
    while bool(_baseline_cond(*args, state, cfg, max_len, vocab)):  # a host round trip every token
        state = _baseline_body(*args, state, cfg, max_len, vocab)
    return state.fin_seqs


def compiled_search(model, params, src, cfg: BeamConfig, max_len: int, vocab, projected):
    return beam_decode(model, params, src, cfg, max_len, shortlist=vocab, projected=projected)["tokens"]


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
    """Batches of `rows` sentences, as a server would cut them: sorted by source length, consecutive sentences
    together, each batch padded to the bucket of its longest; only the very last batch may be short (empty rows)."""
    ex = Examples(ids, [[] for _ in ids], np.arange(len(ids)))
    order = np.argsort([len(x) for x in ids], kind="stable")
    out = []
    for k in range(0, len(order), rows):
        idx = order[k:k + rows]
        bucket = bucket_of(max(len(ids[i]) for i in idx) + 1, buckets) or buckets[-1]
        out.append(make_batch(ex, idx, bucket, rows))
    return out


def bench_decode(model, params, sp, sources: list[str], buckets: tuple, cfg: BeamConfig,
                 batch1_sentences: int = 50, repeats: int = 3, log=print, shortlister=None) -> dict:
    """Times both searches. Both look their input projections up in `embedding_projection`, made once before
    timing, as a server makes it at load; with a `Shortlister`, both score only each sentence's shortlist, which the
    timed call makes on the host."""
    ids = [x[:max(buckets) - 1] for x in sp.encode(sources)]
    big = _batches(ids, buckets, 64)
    one = _batches(ids[:batch1_sentences], buckets, 1)
    lists = (lambda src: None) if shortlister is None else shortlister
    projected = embedding_projection(model, params)

    def runner(search):
        return lambda b: search(model, params, b["src"], cfg, max_output_len(b["src"].shape[1], cfg),
                                lists(b["src"]), projected)

    shapes = {(b["src"].shape, None if shortlister is None else len(lists(b["src"])[0])): b for b in one + big}
    t = time.perf_counter()
    lowered = [beam_decode.lower(model, params, b["src"], cfg, max_output_len(b["src"].shape[1], cfg),
                                 shortlist=lists(b["src"]), projected=projected) for b in shapes.values()]
    compiled = [x.compile() for x in lowered]
    compile_s = time.perf_counter() - t
    peak = max((compiled_bytes(c) or 0) for c in compiled)

    res = {}
    for name, search in (("compiled", compiled_search), ("per_step", per_step_search)):
        log(f"timing {name} search ...")
        t1 = _time(runner(search), one, repeats)
        t64 = _time(runner(search), big, repeats)
        res[name] = (t1, t64)
    out_tokens = row_steps = 0
    for b in big:
        out = jax.device_get(beam_decode(model, params, b["src"], cfg, max_output_len(b["src"].shape[1], cfg),
                                         shortlist=lists(b["src"]), projected=projected))
        out_tokens += sum(len(strip(out["tokens"][r, 0])) + 1 for r, i in enumerate(b["index"]) if i >= 0)
        row_steps += len(b["index"]) * int(out["steps"])
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
        # Output tokens per sentence row and decoder step: a batch runs until its last sentence is done, and the rows
        # of the sentences done before it keep computing.
        "row_fill_batch64": out_tokens / max(row_steps, 1),
        "beam": cfg.beam,
        "shortlist": None if shortlister is None else shortlister.size,
        "device": str(jax.devices()[0].device_kind),
    }
