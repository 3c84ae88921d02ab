"""Attention that keeps no score matrix for the backward pass and recomputes it there (`jax.custom_vjp`).

Saved per decoder step: the query [B, K, H] and the log-sum-exp [B, K]. The keys and values are inputs of the
step that do not change across steps: inside `lax.scan` they stay loop-invariant residuals, kept once rather than
once per step (tests check both). The backward pass recomputes the scores and probabilities from them.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from nmt.utils import NEG_INF, widen


def _scores(kind: str, p: dict, q: jax.Array, keys: jax.Array):
    """q: [B, K, H], keys: [B, S, H] -> (scores [B, K, S] float32, tanh activations for bahdanau or None)."""
    if kind == "bahdanau":
        t = jnp.tanh(keys[:, None] + (q @ p["w_q"].astype(q.dtype))[:, :, None, :])
        return widen(t @ p["v"].astype(t.dtype)), t
    return widen(jnp.einsum("bkh,bsh->bks", q, keys)), None


def _forward(kind, p, q, keys, values, mask):
    s, _ = _scores(kind, p, q, keys)
    s = jnp.where(mask[:, None, :], s, NEG_INF)
    lse = jax.nn.logsumexp(s, axis=-1)
    probs = jnp.exp(s - lse[..., None])
    ctx = jnp.einsum("bks,bsd->bkd", probs.astype(values.dtype), values)
    return ctx, probs, lse


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def attend_recompute(kind: str, p: dict, q: jax.Array, keys: jax.Array, values: jax.Array, mask: jax.Array):
    """Same contract as `attention.attend` for q: [B, K, H]; returns (context [B, K, D], probs [B, K, S])."""
    ctx, probs, _ = _forward(kind, p, q, keys, values, mask)
    return ctx, probs


def _fwd(kind, p, q, keys, values, mask):
    ctx, probs, lse = _forward(kind, p, q, keys, values, mask)
    return (ctx, probs), (p, q, keys, values, mask, lse)


def _bwd(kind, res, cts):
    p, q, keys, values, mask, lse = res
    d_ctx, d_probs = cts
    s, t = _scores(kind, p, q, keys)
    probs = jnp.where(mask[:, None, :], jnp.exp(s - lse[..., None]), 0.0)  # recomputed, never stored
    d_p = widen(jnp.einsum("bkd,bsd->bks", d_ctx, values)) + d_probs
    d_values = jnp.einsum("bks,bkd->bsd", probs.astype(d_ctx.dtype), d_ctx).astype(values.dtype)
    d_s = probs * (d_p - jnp.sum(probs * d_p, -1, keepdims=True))  # softmax backward; 0 on padding
    if kind == "bahdanau":
        d_t = d_s[..., None] * p["v"] * (1.0 - widen(t) ** 2)  # [B, K, S, H]
        d_keys = jnp.sum(d_t, 1).astype(keys.dtype)
        d_qw = jnp.sum(d_t, 2)  # [B, K, H]: gradient of q @ W_q
        d_q = (d_qw @ p["w_q"].T).astype(q.dtype)
        d_p_params = {
            "w_q": jnp.einsum("bkh,bkg->hg", widen(q), d_qw).astype(p["w_q"].dtype),
            "v": jnp.einsum("bksh,bks->h", widen(t), d_s).astype(p["v"].dtype),
        }
        d_p_params.update({k: jnp.zeros_like(v) for k, v in p.items() if k not in d_p_params})
    else:
        d_q = jnp.einsum("bks,bsh->bkh", d_s, widen(keys)).astype(q.dtype)
        d_keys = jnp.einsum("bks,bkh->bsh", d_s, widen(q)).astype(keys.dtype)
        d_p_params = jax.tree.map(jnp.zeros_like, p)
    return d_p_params, d_q, d_keys, d_values, None


attend_recompute.defvjp(_fwd, _bwd)
