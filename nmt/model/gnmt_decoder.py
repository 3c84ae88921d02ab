"""The GNMT-v2 decoder (`model.decoder=gnmt`), as in NVIDIA's GNMT v2 after Wu et al. 2016.

Attention reads the first decoder layer's output and nothing is fed back into the recurrence, so in training the
first layer is a plain LSTM over the target sequence, attention runs for every target position in one batched
product after it, and each upper layer is a plain LSTM over [layer below | context] whose input projection covers
the whole sequence in one matmul. Only the recurrent products stay sequential. The output layer reads the top
layer's output (there is no combine layer).

The weights are the Seq2Seq module's: layer 0 reads the embedding (`dec_w_emb`, projected before any scan) and its
own state (`dec_l0_w`, [H, 4H]); layer l >= 1 reads [x | context | h] (`dec_l{l}_w`, [2H + D_enc, 4H]). `teacher`
(all steps) and `step` (one decoding step) compute the same function; a test holds them equal.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from nmt.model import attention
from nmt.model.lstm import lstm_update, project, scan_directions


def _attend(m, memory, query: jax.Array):
    return attention.attend(m.attn, m.cfg.attention, query.astype(m.dtype), memory.keys, memory.values, memory.mask,
                            recompute=m.cfg.attention_impl == "recompute")


def teacher(m, memory, emb: jax.Array, drop, remat: str, unroll: int):
    """m: the bound Seq2Seq; emb: [T, B, E] target inputs, dropout applied; drop: x -> x with dropout (or as is).

    Returns (top layer's output [T, B, H], attention probabilities [B, T, S])."""
    dtype, h = m.dtype, m.cfg.hidden
    with jax.named_scope("input_projection"):
        gates0 = jnp.einsum("tbe,eg->tbg", emb.astype(dtype), m.dec_w_emb.w.astype(dtype)) + m.dec_b[0].astype(dtype)
    x = scan_directions(m.dec_w[0].w.astype(dtype)[None], gates0, lambda g: g[:, None], dtype, remat, unroll)[:, 0]
    with jax.named_scope("attention"):
        ctx, probs = _attend(m, memory, x.transpose(1, 0, 2))
    ctx = ctx.transpose(1, 0, 2)
    for l in range(1, m.cfg.dec_layers):
        w, d_in = m.dec_w[l].w, h + ctx.shape[-1]
        weights = (w[:d_in], None, m.dec_b[l])
        gates_of = lambda parts, weights=weights: project(weights, parts, dtype)[:, None]
        new = scan_directions(w[d_in:].astype(dtype)[None], (drop(x), ctx), gates_of, dtype, remat, unroll)[:, 0]
        x = new + x if l >= 2 else new  # residual from the third layer up, as the encoder's
    return x, probs


def step(m, memory, h: jax.Array, c: jax.Array, emb_gates: jax.Array):
    """One decoding step. h, c: [B, (K,) L, H]; emb_gates: [B, (K,) 4H] the embedding's projection.

    Returns (new h, new c, top layer's output [B, (K,) H], attention probabilities [B, (K,) S])."""
    hs, cs = [], []
    with jax.named_scope("recurrence"):
        gates = emb_gates + m.dec_b[0].astype(m.dtype) + m._mm(h[..., 0, :], m.dec_w[0])
        x, c0 = lstm_update(gates, c[..., 0, :])
    hs.append(x)
    cs.append(c0)
    with jax.named_scope("attention"):
        ctx, probs = _attend(m, memory, x)
    with jax.named_scope("recurrence"):
        for l in range(1, m.cfg.dec_layers):
            gates = m._mm(jnp.concatenate([x.astype(m.dtype), ctx, h[..., l, :].astype(m.dtype)], -1), m.dec_w[l])
            hl, cl = lstm_update(gates + m.dec_b[l].astype(m.dtype), c[..., l, :])
            hs.append(hl)
            cs.append(cl)
            x = hl + x if l >= 2 else hl
    return jnp.stack(hs, -2), jnp.stack(cs, -2), x, probs
