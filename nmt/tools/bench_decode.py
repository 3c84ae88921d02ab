"""Decoding speed: the compiled beam search against the per-step-graph baseline, at batch 1 and batch 64.

The baseline is the same search (same step function, same beam bookkeeping) with the loop in Python: one jitted
body call per token and the all-finished flag read back to the host each step — the shape of decoders that run one
graph per token.
"""

from __future__ import annotations

import logging
import os
import statistics

import jax
import numpy as np

from nmt.config import ConfigError, with_overrides
from nmt.data import Examples, load_data
from nmt.data.batching import bucket_of, make_batch
from nmt.decode import BeamConfig, Translator, beam_decode
from nmt.decode.hypotheses import strip
from nmt.decode.search import (
    beam_search_loop,
    encode_for_search,
    max_output_len,
    queue_beam_decode,
    queue_search_loop,
    queue_translate,
)
from nmt.decode.shortlist import train_lexicon
from nmt.model import make_model
from nmt.run import load_run
from nmt.run.lexicon import lexicon_for_run
from nmt.tools.timing import alternate, timed
from nmt.training import step as step_lib
from nmt.training.memory import compiled_stats, footprint

logger = logging.getLogger(__name__)


def _program_part(program, part: str, model, static: tuple, args: tuple, state):
    """One part of a search program: its initial state ("init"), its loop condition ("cond") or one step ("body")."""
    init, cond, body = program(model, *args, **dict(static))
    return {"init": lambda: init, "cond": lambda: cond(state), "body": lambda: body(state)}[part]()


_statics = ("program", "part", "model", "static")
_read = jax.jit(_program_part, static_argnames=_statics)
_advance = jax.jit(_program_part, static_argnames=_statics, donate_argnames=("state",))  # in place, as in the loop


def per_step_loop(program, model, args: tuple, **static):
    """Runs a search `program(model, *args, **static) -> (init, cond, body)` with the loop in Python: each body call
    one compiled program, and cond read back to the host before each (a round trip every token)."""
    static = tuple(sorted(static.items()))
    state = _read(program, "init", model, static, args, None)
    while bool(_read(program, "cond", model, static, args, state)):
        state = _advance(program, "body", model, static, args, state)
    return state


_encode_for_search = jax.jit(encode_for_search, static_argnames=("model",))


def per_step_search(model, params, src, cfg: BeamConfig, max_len: int, shortlist, projected):
    memory, weights = _encode_for_search(model, params, src, shortlist)
    return per_step_loop(
        beam_search_loop, model, (params, memory, weights, shortlist, projected), cfg=cfg, max_len=max_len
    ).fin_seqs


def compiled_search(model, params, src, cfg: BeamConfig, max_len: int, shortlist, projected):
    return beam_decode(model, params, src, cfg, max_len, shortlist=shortlist, projected=projected)["tokens"]


def per_step_queue(model, params, memory, count, cfg: BeamConfig, max_len: int, slots: int, ids, projected):
    """`queue_beam_decode` with the loop in Python."""
    st = per_step_loop(
        queue_search_loop, model, (params, memory, count, ids, projected), cfg=cfg, max_len=max_len, slots=slots
    )
    return {"tokens": st.tokens, "scores": st.scores, "steps": st.steps, "busy": st.busy}


def server_batches(ids: list[list[int]], buckets: tuple, rows: int) -> list[dict]:
    """Batches of `rows` sentences, as a server would cut them: sorted by source length, consecutive sentences
    together, each batch padded to the bucket of its longest; only the very last batch may be short (empty rows)."""
    ex = Examples(ids, [[] for _ in ids], np.arange(len(ids)))
    order = np.argsort([len(x) for x in ids], kind="stable")
    out = []
    for k in range(0, len(order), rows):
        idx = order[k : k + rows]
        bucket = bucket_of(max(len(ids[i]) for i in idx) + 1, buckets) or buckets[-1]
        out.append(make_batch(ex, idx, bucket, rows))
    return out


class _Searches:
    """The searches to time over one set of sentences: fixed blocks (`block`) or the queue with slots (`queue`),
    each with the compiled program or the per-step baseline, all reading the translator's tables."""

    def __init__(self, translator: Translator, ids):
        ((self.model, self.params),) = translator.models
        self.ids, self.buckets, self.cfg = ids, translator.buckets, translator.cfg
        self.shortlister, self.slots = translator.shortlister, translator.slots
        self.lists = (lambda src: None) if self.shortlister is None else self.shortlister
        self.projected, self.source = translator.projected, translator.source

    def block(self, search):
        return lambda b: search(
            self.model,
            self.params,
            b["src"],
            self.cfg,
            max_output_len(b["src"].shape[1], self.cfg),
            self.lists(b["src"]),
            self.projected,
        )

    def queue(self, search):
        return lambda _: queue_translate(
            self.model,
            self.params,
            self.ids,
            self.buckets,
            self.cfg,
            self.slots,
            self.shortlister,
            self.projected,
            self.source,
            search=search,
        )

    def compile(self, blocks) -> tuple[list, float]:
        """The compiled programs of every block shape (and of the queue) and the seconds compiling took."""
        shapes = {
            (b["src"].shape, None if self.shortlister is None else len(self.lists(b["src"])[0])): b for b in blocks
        }
        compiled, first = timed(
            lambda: [
                beam_decode.lower(
                    self.model,
                    self.params,
                    b["src"],
                    self.cfg,
                    max_output_len(b["src"].shape[1], self.cfg),
                    shortlist=self.lists(b["src"]),
                    projected=self.projected,
                ).compile()
                for b in shapes.values()
            ]
        )
        seconds = [first]
        if self.slots:  # the queue's shapes are known once it is encoded: compile there (only that is counted)

            def compile_queue(*args):
                program, dt = timed(lambda: queue_beam_decode.lower(*args).compile())
                compiled.append(program)
                seconds.append(dt)
                return queue_beam_decode(*args)

            self.queue(compile_queue)(None)
        return compiled, sum(seconds)

    def output_counts(self, big) -> tuple[int, int]:
        """(output tokens, sentence rows × decoder steps) of the batch-64 search."""
        if self.slots:
            hyps, stats = self.queue(queue_beam_decode)(None)
            return sum(len(strip(toks[0])) + 1 for toks, _ in hyps), self.slots * stats["steps"]
        out_tokens = row_steps = 0
        for b in big:
            out = jax.device_get(
                beam_decode(
                    self.model,
                    self.params,
                    b["src"],
                    self.cfg,
                    max_output_len(b["src"].shape[1], self.cfg),
                    shortlist=self.lists(b["src"]),
                    projected=self.projected,
                )
            )
            out_tokens += sum(len(strip(out["tokens"][r, 0])) + 1 for r, i in enumerate(b["index"]) if i >= 0)
            row_steps += len(b["index"]) * int(out["steps"])
        return out_tokens, row_steps


def _time(searches: _Searches, one: list, big: list, slots, repeats: int, baseline: bool) -> tuple[dict, dict]:
    """Per-input seconds of the batch-1 and the batch-64 searches (compiled, and per-step when `baseline`)."""
    pick = lambda variants: variants if baseline else {"compiled": variants["compiled"]}
    t1 = alternate(
        pick({"compiled": searches.block(compiled_search), "per_step": searches.block(per_step_search)}), one, repeats
    )
    if slots:
        t64 = alternate(
            pick({"compiled": searches.queue(queue_beam_decode), "per_step": searches.queue(per_step_queue)}),
            [None],
            repeats,
        )
    else:
        t64 = alternate(
            pick({"compiled": searches.block(compiled_search), "per_step": searches.block(per_step_search)}),
            big,
            repeats,
        )
    return t1, t64


def bench_decode(
    translator: Translator, sources: list[str], batch1_sentences: int = 50, repeats: int = 3, baseline: bool = True
) -> dict:
    """Times both searches of one model's `translator` (its search, shortlister and slots). Both look their input
    projections up in the translator's `embedding_projection` (and with slots, the encoder's first layer in its
    `source_projection`), made once before timing, as a server makes them at load; with a shortlist, both score only
    each sentence's, which the timed call makes on the host.

    With slots, batch 64 is continuous batching over the translator's slots (`queue_translate`, what its `search`
    runs): one timed call searches all the sentences, encoder and shortlists included; the baseline runs the same
    queue search with the loop in Python. `baseline=False` times the compiled search alone."""
    cfg, buckets, slots, shortlister = translator.cfg, translator.buckets, translator.slots, translator.shortlister
    ids = [x[: max(buckets) - 1] for x in translator.sp.encode(sources)]
    big = server_batches(ids, buckets, 64)
    one = server_batches(ids[:batch1_sentences], buckets, 1)
    searches = _Searches(translator, ids)
    compiled, compile_s = searches.compile(one + ([] if slots else big))
    logger.info("timing the compiled and the per-step search, in turns ...")
    t1, t64 = _time(searches, one, big, slots, repeats, baseline)
    out_tokens, row_steps = searches.output_counts(big)
    n_big = len(ids)
    c1, c64 = statistics.median(t1["compiled"]), sum(t64["compiled"])
    versus = {}
    if baseline:
        p1, p64 = statistics.median(t1["per_step"]), sum(t64["per_step"])
        versus = {
            "speedup_batch1": p1 / c1,
            "speedup_batch64": p64 / c64,
            "per_step_latency_ms_batch1": 1000 * p1,
            "per_step_tokens_per_s_batch64": out_tokens / p64,
        }
    return {
        "latency_ms_batch1": 1000 * c1,
        "tokens_per_s_batch64": out_tokens / c64,
        "sentences_per_s_batch64": n_big / c64,
        **versus,
        "compile_s": compile_s,
        "peak_bytes": max((footprint(compiled_stats(c)) or 0) for c in compiled),
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


def load_model(config, checkpoint: str | None, overrides: list[str], which: str = "best"):
    """The model to time and its test sentences: a run's (`checkpoint`; only data.* overrides apply), or the
    preset's with untrained parameters. Returns (config, model, params, sp, test sources, label, lexicon), lexicon a
    function that makes the shortlist lexicon when asked (the run's, or one trained on the corpus)."""
    if checkpoint:
        model_overrides = [o for o in overrides if not o.startswith("data.")]
        if model_overrides:
            raise ConfigError(
                f"{model_overrides[0]}: with --checkpoint the model comes from the run; only data.* overrides apply"
            )
        run = load_run(checkpoint, which)
        config = with_overrides(run.config, overrides)
        data = load_data(config.data, vocab_path=os.path.join(checkpoint, "vocab.model"))
        return (
            config,
            run.model,
            run.params,
            run.sp,
            data.test.src_text,
            f"{checkpoint}@{run.step}",
            lambda: lexicon_for_run(run),
        )
    data = load_data(config.data)
    model = make_model(config, data.sp.vocab_size())
    params = step_lib.init_train_state(model, step_lib.make_optimizer(config.train), jax.random.key(0)).params
    ex = data.train.examples
    return (
        config,
        model,
        params,
        data.sp,
        data.test.src_text,
        "untrained parameters",
        lambda: train_lexicon(ex.src, ex.tgt, data.sp.vocab_size()),
    )
