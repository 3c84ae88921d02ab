"""The small device programs with which the host works on a live queue (`nmt.decode.live`) between chunks: encoding
arrivals and writing rows into its ring, reading finished rows back, evicting searches, and copying the flags the host
waits on. Each takes -1 for "none" in its index arrays, so that a few power-of-two widths serve every call."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from nmt.decode.continuous import QueueState
from nmt.decode.search import _encode, pad_source
from nmt.model import EncoderOutput, Seq2Seq


@functools.partial(jax.jit, donate_argnames=("buffer",))
def write(buffer, rows, positions: jax.Array):
    """`rows` (leaves [n, ...]) written into `buffer` (leaves [Q, ...]) at `positions` [n] (-1: not written)."""
    q = jax.tree.leaves(buffer)[0].shape[0]
    at = jnp.where(positions < 0, q, positions)
    return jax.tree.map(lambda b, r: b.at[at].set(r.astype(b.dtype), mode="drop"), buffer, rows)


@functools.partial(jax.jit, donate_argnames=("done",))
def take(tokens, scores, logp, done, rows: jax.Array):
    """The results of `rows` [n] (-1: none), and the done flags with theirs cleared (no slot array is read, so one
    program serves every lane)."""
    at = jnp.maximum(rows, 0)
    return (tokens[at], scores[at], logp[at]), done.at[jnp.where(rows < 0, done.shape[0], rows)].set(False, mode="drop")


@functools.partial(jax.jit, donate_argnames=("state",))
def evict(state: QueueState, sentences: jax.Array) -> QueueState:
    """The slots holding any of `sentences` [n] (-1: none) made free, their searches dropped."""
    hit = jnp.any(state.sentence[:, None] == jnp.where(sentences < 0, -2, sentences)[None, :], axis=1)
    return state.replace(sentence=jnp.where(hit, -1, state.sentence))


@jax.jit
def flags(state: QueueState) -> tuple[jax.Array, jax.Array]:
    """Copies of the done flags [Q] and each slot's sentence [slots]: what the host reads after a chunk, kept apart
    from the state so that the next program may take (donate) the state while the host has not read them yet."""
    return jnp.copy(state.done), jnp.copy(state.sentence)


@functools.partial(jax.jit, static_argnames=("model",), donate_argnames=("memory",))
def encode_into(model: Seq2Seq, params, memory: EncoderOutput, src, source, positions: jax.Array) -> EncoderOutput:
    """`src` [n, s] (s a bucket, at most memory's length) encoded, padded to memory's length and written at
    `positions` [n] (-1: not written): one program, so a sentence costs the encoder of its bucket, not of the
    longest."""
    return write(memory, pad_source(_encode(model, params, src, source), memory.mask.shape[1]), positions)
