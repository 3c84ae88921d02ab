"""Greedy decoding as one compiled program: encoder once, then a `lax.while_loop` over decoder steps."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from nmt.data.vocab import BOS, EOS, PAD
from nmt.decode.beam import BeamConfig, max_lengths, output_log_probs, shortlist_tokens
from nmt.model import Seq2Seq


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len"))
def greedy_decode(model: Seq2Seq, params, src: jax.Array, cfg: BeamConfig, max_len: int,
                  shortlist: tuple[jax.Array, jax.Array] | None = None, projected: jax.Array | None = None
                  ) -> jax.Array:
    """src: [B, S] -> tokens [B, max_len], EOS-terminated (EOS forced at each sentence's length limit), PAD after.

    shortlist, projected: as for `beam_decode`."""
    variables = {"params": params}
    memory = model.apply(variables, src, method=Seq2Seq.encode)
    state = model.apply(variables, memory, method=Seq2Seq.init_state)
    weights = None if shortlist is None else model.apply(variables, shortlist[0], method=Seq2Seq.output_weights)
    b = src.shape[0]
    limits = max_lengths(memory.mask, cfg, max_len)

    def cond(carry):
        t, _, _, finished, _ = carry
        return (t < max_len) & ~jnp.all(finished)

    def body(carry):
        t, state, prev, finished, out = carry
        state, logits, _ = model.apply(variables, memory, state, prev, weights, projected, method=Seq2Seq.step)
        tok = jnp.argmax(output_log_probs(logits, shortlist), -1).astype(jnp.int32)
        tok = tok if shortlist is None else shortlist_tokens(shortlist[0], tok)
        tok = jnp.where(t + 1 >= limits, EOS, tok)
        tok = jnp.where(finished, PAD, tok)
        return t + 1, state, tok, finished | (tok == EOS), out.at[:, t].set(tok)

    init = (0, state, jnp.full((b,), BOS, jnp.int32), jnp.zeros((b,), bool), jnp.full((b, max_len), PAD, jnp.int32))
    return jax.lax.while_loop(cond, body, init)[-1]
