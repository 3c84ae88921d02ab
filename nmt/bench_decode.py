"""Decoding speed: the compiled beam search against the per-step-graph baseline, at batch 1 and batch 64.

The baseline is the same search (same step function, same beam bookkeeping) with the loop in Python: one jitted
body call per token and the all-finished flag read back to the host each step — the shape of decoders that run one
graph per token.
"""
from __future__ import annotations

import statistics
import time

import jax
import numpy as np

from nmt.bench_train import compiled_bytes
from nmt.data import Examples
from nmt.data.batching import bucket_of, make_batch
from nmt.decode import BeamConfig, beam_decode, embedding_projection
from nmt.decode.search import (beam_program, max_output_len, prepare, queue_beam_decode, queue_program,
                               queue_translate, source_projection, strip)


def _part(program, part: int, model, static: tuple, args: tuple, state):
    init, cond, body = program(model, *args, **dict(static))
    return init if part == 0 else cond(state) if part == 1 else body(state)


_statics = ("program", "part", "model", "static")
_read = jax.jit(_part, static_argnames=_statics)
_advance = jax.jit(_part, static_argnames=_statics, donate_argnames=("state",))  # updated in place, as in the loop


def per_step_loop(program, model, args: tuple, **static):
    """Runs a search `program(model, *args, **static) -> (init, cond, body)` with the loop in Python: each body call
    one compiled program, and cond read back to the host before each (a round trip every token)."""
    static = tuple(sorted(static.items()))
    state = _read(program, 0, model, static, args, None)
    while bool(_read(program, 1, model, static, args, state)):
        state = _advance(program, 2, model, static, args, state)
    return state


_prepare = jax.jit(prepare, static_argnames=("model",))


def per_step_search(model, params, src, cfg: BeamConfig, max_len: int, vocab, projected):
    memory, weights = _prepare(model, params, src, vocab)
    return per_step_loop(beam_program, model, (params, memory, weights, vocab, projected), cfg=cfg,
                         max_len=max_len).fin_seqs


def compiled_search(model, params, src, cfg: BeamConfig, max_len: int, vocab, projected):
    return beam_decode(model, params, src, cfg, max_len, shortlist=vocab, projected=projected)["tokens"]


def per_step_queue(model, params, memory, count, cfg: BeamConfig, max_len: int, slots: int, ids, projected):
    """`queue_beam_decode` with the loop in Python."""
    st = per_step_loop(queue_program, model, (params, memory, count, ids, projected), cfg=cfg, max_len=max_len,
                       slots=slots)
    return {"tokens": st.tokens, "scores": st.scores, "steps": st.steps, "busy": st.busy}


def _time(fns: dict, batches, repeats: int) -> dict[str, list[float]]:
    """Per-batch medians over `repeats` of each of `fns`, after one warm-up call per batch shape. The functions take
    turns call by call, so that the machine's drift falls on each alike and their ratio is fair."""
    for fn in fns.values():
        for b in batches:
            jax.block_until_ready(fn(b))
    ts = {name: [[] for _ in batches] for name in fns}
    for _ in range(repeats):
        for i, b in enumerate(batches):
            for name, fn in fns.items():
                t = time.perf_counter()
                jax.block_until_ready(fn(b))
                ts[name][i].append(time.perf_counter() - t)
    return {name: [statistics.median(x) for x in per_batch] for name, per_batch in ts.items()}


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
                 batch1_sentences: int = 50, repeats: int = 3, log=print, shortlister=None,
                 slots: int | None = None) -> dict:
    """Times both searches. Both look their input projections up in `embedding_projection` (and with slots, the
    encoder's first layer in `source_projection`), made once before timing, as a server makes them at load; with a
    `Shortlister`, both score only each sentence's shortlist, which the timed call makes on the host.

    slots: batch 64 is then continuous batching over 64 slots (`queue_translate`): one timed call searches all the
      sentences, encoder and shortlists included; the baseline runs the same queue search with the loop in Python."""
    ids = [x[:max(buckets) - 1] for x in sp.encode(sources)]
    big = _batches(ids, buckets, 64)
    one = _batches(ids[:batch1_sentences], buckets, 1)
    lists = (lambda src: None) if shortlister is None else shortlister
    projected = embedding_projection(model, params)
    source = source_projection(model, params) if slots else None

    def runner(search):
        return lambda b: search(model, params, b["src"], cfg, max_output_len(b["src"].shape[1], cfg),
                                lists(b["src"]), projected)

    def queue_runner(search):
        return lambda _: queue_translate(model, params, ids, buckets, cfg, slots, shortlister, projected, source,
                                         search=search)

    blocks = one + ([] if slots else big)
    shapes = {(b["src"].shape, None if shortlister is None else len(lists(b["src"])[0])): b for b in blocks}
    t = time.perf_counter()
    lowered = [beam_decode.lower(model, params, b["src"], cfg, max_output_len(b["src"].shape[1], cfg),
                                 shortlist=lists(b["src"]), projected=projected) for b in shapes.values()]
    compiled = [x.compile() for x in lowered]
    compile_s = time.perf_counter() - t
    if slots:  # the queue's shapes are known once it is encoded: compile the search there (only that is counted)
        def compile_queue(*args):
            nonlocal compile_s
            t = time.perf_counter()
            compiled.append(queue_beam_decode.lower(*args).compile())
            compile_s += time.perf_counter() - t
            return queue_beam_decode(*args)
        queue_runner(compile_queue)(None)
    peak = max((compiled_bytes(c) or 0) for c in compiled)

    log("timing the compiled and the per-step search, in turns ...")
    t1 = _time({"compiled": runner(compiled_search), "per_step": runner(per_step_search)}, one, repeats)
    if slots:
        t64 = _time({"compiled": queue_runner(queue_beam_decode), "per_step": queue_runner(per_step_queue)}, [None],
                    repeats)
    else:
        t64 = _time({"compiled": runner(compiled_search), "per_step": runner(per_step_search)}, big, repeats)
    out_tokens = row_steps = 0
    if slots:
        hyps, stats = queue_translate(model, params, ids, buckets, cfg, slots, shortlister, projected, source)
        out_tokens = sum(len(strip(toks[0])) + 1 for toks, _ in hyps)
        row_steps = slots * stats["steps"]
    for b in [] if slots else big:
        out = jax.device_get(beam_decode(model, params, b["src"], cfg, max_output_len(b["src"].shape[1], cfg),
                                         shortlist=lists(b["src"]), projected=projected))
        out_tokens += sum(len(strip(out["tokens"][r, 0])) + 1 for r, i in enumerate(b["index"]) if i >= 0)
        row_steps += len(b["index"]) * int(out["steps"])
    n_big = len(ids)
    c1, c64 = statistics.median(t1["compiled"]), sum(t64["compiled"])
    p1, p64 = statistics.median(t1["per_step"]), sum(t64["per_step"])
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
        # Output tokens per sentence row and decoder step: a block of sentences runs until its last one is done, and
        # the rows of those done before it keep computing; continuous batching (slots) gives their rows new ones.
        "row_fill_batch64": out_tokens / max(row_steps, 1),
        "beam": cfg.beam,
        "topk": cfg.topk,
        "shortlist": None if shortlister is None else shortlister.size,
        "slots": slots,
        "device": str(jax.devices()[0].device_kind),
    }
