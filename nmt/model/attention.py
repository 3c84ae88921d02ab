"""Attention scores as pure functions over explicit parameters, so a decoder step can call them inside `lax.scan`.

Luong "dot" and "general" scores and Bahdanau's additive score, all attending with the current top decoder state
(Luong's global attention). Keys are projected once per sentence, outside the decoder loop.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.ad_checkpoint import checkpoint_name

from nmt.model.recompute_attention import attend_recompute
from nmt.utils import NEG_INF, widen


def attention_param_shapes(kind: str, enc_dim: int, dec_dim: int) -> dict[str, tuple]:
    if kind == "dot":
        return {}
    if kind == "general":
        return {"w_k": (enc_dim, dec_dim)}
    if kind == "bahdanau":
        return {"w_k": (enc_dim, dec_dim), "w_q": (dec_dim, dec_dim), "v": (dec_dim,)}
    raise ValueError(f"unknown attention {kind!r}")


def project_keys(p: dict, kind: str, enc: jax.Array) -> jax.Array:
    """enc: [B, S, D_enc] -> keys [B, S, H]: loop-invariant, computed once per batch.

    Luong "general" scores q·(W h_s) as (Wᵀq)·h_s instead: the keys are the encoder states themselves, so no
    [B, S, H] key array (nor its gradient) exists, and projecting one query a step costs no more."""
    return jnp.einsum("bsd,dh->bsh", enc, p["w_k"].astype(enc.dtype)) if kind == "bahdanau" else enc


def scores(p: dict, kind: str, query: jax.Array, keys: jax.Array) -> jax.Array:
    """query: [B, K, H] (K queries per sentence, e.g. beams), keys: [B, S, H] -> scores [B, K, S], at least
    float32. Keys are shared by the K queries, never copied per query."""
    if kind == "bahdanau":
        q = query @ p["w_q"].astype(query.dtype)
        s = jnp.tanh(keys[:, None] + q[:, :, None, :]) @ p["v"].astype(keys.dtype)
    else:
        s = jnp.einsum("bkh,bsh->bks", query, keys)
    return widen(s)


def attend(
    p: dict, kind: str, query: jax.Array, keys: jax.Array, values: jax.Array, mask: jax.Array, recompute: bool = False
) -> tuple[jax.Array, jax.Array]:
    """Padding-masked attention; `recompute` selects the custom-VJP version that stores no scores.

    Args:
      query: [B, H] or [B, K, H]; keys: [B, S, H]; values: [B, S, D_enc]; mask: [B, S] bool, True for real tokens.
    Returns:
      (context [B, (K,) D_enc], probs [B, (K,) S]); padded positions get probability 0.
    """
    q = query.reshape(query.shape[0], -1, query.shape[-1])
    if kind == "general":
        q, kind = q @ p["w_k"].T.astype(q.dtype), "dot"
    if recompute:
        ctx, probs = attend_recompute(kind, dict(p), q, keys, values, mask)  # plain dict: the VJP builds one
        return ctx.reshape(*query.shape[:-1], -1), probs.reshape(*query.shape[:-1], -1)
    s = checkpoint_name(jnp.where(mask[:, None, :], scores(p, kind, q, keys), NEG_INF), "attn_scores")
    probs = checkpoint_name(jax.nn.softmax(s, axis=-1), "attn_probs")
    ctx = checkpoint_name(jnp.einsum("bks,bsd->bkd", probs.astype(values.dtype), values), "attn_context")
    return ctx.reshape(*query.shape[:-1], -1), probs.reshape(*query.shape[:-1], -1)
