"""Teacher-forced scores of given outputs, with the search's length and coverage penalties: what the search would
give those outputs, so a search's scores can be checked, and given translations scored or rescored."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from nmt.data.vocab import BOS, PAD
from nmt.decode.beam import BeamConfig, coverage_penalty, length_penalty
from nmt.decode.outputs import output_log_probs
from nmt.model import Seq2Seq
from nmt.utils import NEG_INF


@functools.partial(jax.jit, static_argnames=("model", "cfg"))
def score_outputs(
    model: Seq2Seq,
    params,
    src: jax.Array,
    outputs: jax.Array,
    cfg: BeamConfig,
    shortlist: tuple[jax.Array, jax.Array] | None = None,
) -> dict:
    """Teacher-forced scores of given outputs with the search's penalties.

    Args:
      src: [B, S]; outputs: [B, T] EOS-terminated token ids, PAD after;
      shortlist: (ids [N] or [B, N], listed [B, N]) or None: probabilities normalised over each sentence's shortlist, as
        the search normalises them.
    Returns:
      dict(score [B], logp [B], token_logp [B, T]) where score = logp / lp(len) + cp(coverage) and logp sums
      token_logp, each output token's log-probability (0 after EOS).
    """
    v = {"params": params}
    tgt_in = jnp.concatenate([jnp.full((src.shape[0], 1), BOS, outputs.dtype), outputs[:, :-1]], 1)
    memory = model.apply(v, src, method=Seq2Seq.encode)
    hidden, attn = model.apply(v, memory, tgt_in, return_attention=True, method=Seq2Seq.decode_teacher)
    logits = model.apply(v, hidden, method=Seq2Seq.output_logits)
    if shortlist is not None:  # probability 0 outside the shortlist renormalises over it
        ids, listed = shortlist
        rows = jnp.arange(src.shape[0])[:, None] if ids.ndim == 2 else slice(None)
        full = jnp.zeros(logits.shape[::2], bool).at[rows, ids].max(listed)
        logits = jnp.where(full[:, None, :], logits, NEG_INF)
    logp = output_log_probs(logits)
    mask = outputs != PAD
    tok_logp = jnp.where(mask, jnp.take_along_axis(logp, outputs[..., None], -1)[..., 0], 0.0)
    total = jnp.sum(tok_logp, -1)
    cov = jnp.sum(jnp.where(mask[..., None], attn, 0.0), 1)[:, None, :]  # [B, 1, S]
    score = total / length_penalty(jnp.sum(mask, -1), cfg) + coverage_penalty(cov, memory.mask, cfg)[:, 0]
    return {"score": score, "logp": total, "token_logp": tok_logp}
