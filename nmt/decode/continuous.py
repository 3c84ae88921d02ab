"""Beam search with continuous batching: a fixed number of slots, each holding one sentence's search; when a
sentence's n-best is final its slot takes the next waiting sentence, inside the same `lax.while_loop`.

A batch searched as one block runs until its slowest sentence is done, and the rows of the sentences done before it
keep computing (the decode bench's `row_fill_batch64`). Here a row computes for a waiting sentence instead, so only
the tail of the queue runs with empty slots. Each slot's step is exactly `beam.advance` on its own sentence, so a
translation does not depend on its slot, its neighbours or when it was admitted.

The model is reached through two callbacks: `step_fn(ctx, dec, tokens [B, K]) -> (dec, logits [B, K, V|N],
attention [B, K, S])`, where ctx is the slots' model context (leaves [B, ...]: the encoder memory, a shortlist's
output weights), and `admit_fn(r) -> (ctx_row, dec_row)`, the context and zero decoder state (leaves [K, ...]) of the
sentence in queue row r, called only for the slots that take a new sentence.

Sentences are numbered in the order they are admitted; sentence n lives in queue row n mod Q, so a queue that the
host refills between runs of the loop (`nmt.decode.live`) reuses rows whose sentences are done, and a queue searched
in one run (Q >= its sentences) is the plain case. The loop can stop after a number of decoder steps (`limit`) and
go on from its state later; what it finished meanwhile is flagged in `done`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp

from nmt.decode.beam import BeamConfig, BeamState, advance, initial_state, max_lengths, sentence_done


@flax.struct.dataclass
class QueueState:
    beam: BeamState  # leaves [B, ...]: the search in each of the B slots
    ctx: Any  # pytree, leaves [B, ...]: each slot's model context
    sentence: jax.Array  # [B]         the sentence in each slot, -1 when the slot is empty
    src_mask: jax.Array  # [B, S]      its source mask
    limits: jax.Array  # [B]         its output budget
    ids: jax.Array  # [B, N] or [0] its shortlist
    next: jax.Array  # []          the next sentence to admit
    steps: jax.Array  # []          decoder steps run
    busy: jax.Array  # []          slot-steps that held a sentence
    tokens: jax.Array  # [Q, K, L]   results by queue row: finished hypotheses, best first
    scores: jax.Array  # [Q, K]
    logp: jax.Array  # [Q, K]
    done: jax.Array  # [Q] bool    rows whose sentence finished (the host clears them as it reads them)


def _admit(
    st: QueueState,
    free: jax.Array,
    fresh: BeamState,
    admit_fn: Callable,
    src_mask_all: jax.Array,
    count: jax.Array,
    ids_all: jax.Array | None,
    cfg: BeamConfig,
    max_len: int,
) -> QueueState:
    """Gives the free slots [B] the next waiting sentences in queue order (free slots with none left empty)."""
    q = src_mask_all.shape[0]
    want = st.next + jnp.cumsum(free) - 1
    take = free & (want < count)
    sentence = jnp.where(take, want, jnp.where(free, -1, st.sentence))
    src = jnp.maximum(sentence, 0) % q

    def row(x, new):
        return jnp.where(take.reshape(take.shape + (1,) * (x.ndim - 1)), new, x)

    beam = st.beam.replace(
        **{
            f: row(getattr(st.beam, f), getattr(fresh, f))
            for f in ("t", "last", "live_logp", "live_seqs", "live_cov", "fin_scores", "fin_logp", "fin_seqs")
        }
    )
    # The model context (memory, output weights) is large: written in place, one admitted slot at a time.
    slots = jnp.nonzero(take, size=take.shape[0], fill_value=0)[0]

    def one(i, carry):
        ctx, dec = carry
        j = slots[i]
        ctx_row, dec_row = admit_fn(src[j])
        put = lambda x, r: jax.lax.dynamic_update_index_in_dim(x, r.astype(x.dtype), j, 0)
        return jax.tree.map(put, ctx, ctx_row), jax.tree.map(put, dec, dec_row)

    ctx, dec = jax.lax.fori_loop(0, jnp.sum(take), one, (st.ctx, st.beam.dec))
    new_mask = src_mask_all[src]
    return st.replace(
        beam=beam.replace(dec=dec),
        ctx=ctx,
        sentence=sentence,
        src_mask=row(st.src_mask, new_mask),
        limits=row(st.limits, max_lengths(new_mask, cfg, max_len)),
        ids=st.ids if ids_all is None else row(st.ids, ids_all[src]),
        next=st.next + jnp.sum(take),
    )


def _empty_queue(fresh: BeamState, ctx, q_end: int, s: int, slots: int, ids_all, k: int, max_len: int) -> QueueState:
    """Every slot empty, nothing admitted, no result yet."""
    return QueueState(
        beam=fresh,
        ctx=ctx,
        sentence=jnp.full((slots,), -1, jnp.int32),
        src_mask=jnp.zeros((slots, s), bool),
        limits=jnp.ones((slots,), jnp.int32),
        ids=jnp.zeros((0,), jnp.int32) if ids_all is None else jnp.zeros((slots, ids_all.shape[1]), ids_all.dtype),
        next=jnp.zeros((), jnp.int32),
        steps=jnp.zeros((), jnp.int32),
        busy=jnp.zeros((), jnp.int32),
        tokens=jnp.zeros((q_end, k, max_len), jnp.int32),
        scores=jnp.zeros((q_end, k), jnp.float32),
        logp=jnp.zeros((q_end, k), jnp.float32),
        done=jnp.zeros((q_end,), bool),
    )


class QueueSearch(NamedTuple):
    """The pieces of a queue search: `empty`, the state with every slot free; `admit(st, free [B])`, the free slots
    filled from the queue; `cond` and `body` of the `lax.while_loop` that searches."""

    empty: QueueState
    admit: Callable
    cond: Callable
    body: Callable


def make_queue_search(
    step_fn: Callable,
    admit_fn: Callable,
    src_mask_all: jax.Array,
    count: jax.Array,
    cfg: BeamConfig,
    max_len: int,
    slots: int,
    ids_all: jax.Array | None = None,
    limit: jax.Array | None = None,
    floor: jax.Array | None = None,
) -> QueueSearch:
    """The search over a queue of sentences.

    Args:
      step_fn, admit_fn: the model callbacks (see module docstring).
      src_mask_all: [Q, S] source masks of the queue rows.
      count: [] how many sentences have been put in the queue so far (the loop admits sentences below it).
      max_len: static bound on output length (EOS included); per-sentence bounds come from cfg.
      slots: B, the sentences searched at once.
      ids_all: [Q, N] each row's shortlist (the logits of step_fn are then over its slot's ids), or None.
      limit: [] the loop stops when the state's decoder steps reach it (None: when every slot is empty).
      floor: [] the loop also stops, after a step, once at most this many sentences are searched or waiting (a live
        queue's next narrower lane holds them: `nmt.decode.live`); None or -1: never.
    """
    q, s = src_mask_all.shape
    ctx_row, dec_row = jax.eval_shape(admit_fn, jnp.zeros((), jnp.int32))
    zeros = lambda tree: jax.tree.map(lambda x: jnp.zeros((slots,) + x.shape, x.dtype), tree)
    fresh = initial_state(zeros(dec_row), slots, s, cfg, max_len)
    empty = _empty_queue(fresh, zeros(ctx_row), q, s, slots, ids_all, cfg.beam, max_len)
    admit = lambda st, free: _admit(st, free, fresh, admit_fn, src_mask_all, count, ids_all, cfg, max_len)

    def cond(st: QueueState):
        held = jnp.sum(st.sentence >= 0)
        go = held > 0 if limit is None else (held > 0) & (st.steps < limit)
        return go if floor is None else go & ((st.steps == 0) | (held + count - st.next > floor))

    def body(st: QueueState):
        shortlist = None if ids_all is None else (st.ids, jnp.ones(st.ids.shape, bool))
        step = lambda dec, tokens: step_fn(st.ctx, dec, tokens)
        busy = st.sentence >= 0
        beam = advance(st.beam, step, st.src_mask, st.limits, cfg, shortlist=shortlist)
        done = busy & sentence_done(beam, st.limits, cfg)
        out = jnp.where(done, st.sentence % q, q)  # out of range: dropped
        st = st.replace(
            beam=beam,
            steps=st.steps + 1,
            busy=st.busy + jnp.sum(busy),
            tokens=st.tokens.at[out].set(beam.fin_seqs, mode="drop"),
            scores=st.scores.at[out].set(beam.fin_scores, mode="drop"),
            logp=st.logp.at[out].set(beam.fin_logp, mode="drop"),
            done=st.done.at[out].set(True, mode="drop"),
        )
        return admit(st, done)

    return QueueSearch(empty, admit, cond, body)
