"""The tokens a search may emit: log-probabilities over the whole vocabulary or over per-sentence shortlists
(`nmt.decode.shortlist`), never PAD or BOS."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nmt.data.vocab import BOS, PAD
from nmt.utils import NEG_INF


def output_log_probs(logits: jax.Array, shortlist: tuple[jax.Array, jax.Array] | None = None) -> jax.Array:
    """Log-probabilities over the tokens a search may emit (never PAD or BOS); float32.

    With a shortlist (ids [N] shared or [B, N] per sentence, listed [B, N]; see `nmt.decode.shortlist`), logits
    [B, (K,) N] are over its ids and each sentence's probabilities are normalised over the ids it lists.
    """
    allowed = allowed_outputs(logits.shape[-1], shortlist, logits.ndim)
    return jax.nn.log_softmax(jnp.where(allowed, logits.astype(jnp.float32), NEG_INF), axis=-1)


def allowed_outputs(v: int, shortlist: tuple[jax.Array, jax.Array] | None = None, ndim: int = 3) -> jax.Array:
    """Which of the logits' V (or N shortlist) positions a search may emit, broadcastable to logits of rank ndim."""
    if shortlist is None:
        ids, listed = jnp.arange(v), True
    else:
        ids, listed = (per_row(x, ndim) for x in shortlist)
    return listed & (ids != PAD) & (ids != BOS)


def per_row(x: jax.Array, ndim: int) -> jax.Array:
    """[B, N] -> [B, 1, ..., N] to broadcast against [B, ..., N]; a shared [N] stays as it is."""
    return x if x.ndim == 1 else x.reshape(x.shape[:1] + (1,) * (ndim - 2) + x.shape[1:])


def shortlist_tokens(ids: jax.Array, idx: jax.Array) -> jax.Array:
    """Token ids of positions idx [B, ...] in a shortlist's ids ([N] shared or [B, N] per sentence)."""
    if ids.ndim == 1:
        return ids[idx].astype(jnp.int32)
    return jnp.take_along_axis(ids, idx.reshape(idx.shape[0], -1), 1).reshape(idx.shape).astype(jnp.int32)
