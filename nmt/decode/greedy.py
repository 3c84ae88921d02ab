"""Greedy decoding as one compiled program: encoder once, then a `lax.while_loop` over decoder steps."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from nmt.data.batching import Examples, eval_batches
from nmt.data.vocab import BOS, EOS, PAD
from nmt.model import Seq2Seq


def max_output_len(src_len: int, a: float = 1.5, b: int = 10) -> int:
    """Output budget for a source bucket of length `src_len` (static, so one program per bucket)."""
    return int(a * src_len + b)


@functools.partial(jax.jit, static_argnames=("model", "max_len"))
def greedy_decode(model: Seq2Seq, params, src: jax.Array, max_len: int) -> jax.Array:
    """src: [B, S] -> tokens [B, max_len] (PAD after each sentence's EOS)."""
    variables = {"params": params}
    memory = model.apply(variables, src, method=Seq2Seq.encode)
    state = model.apply(variables, memory, method=Seq2Seq.init_state)
    b = src.shape[0]

    def cond(carry):
        t, _, _, finished, _ = carry
        return (t < max_len) & ~jnp.all(finished)

    def body(carry):
        t, state, prev, finished, out = carry
        state, logits, _ = model.apply(variables, memory, state, prev, method=Seq2Seq.step)
        tok = jnp.where(finished, PAD, jnp.argmax(logits, -1).astype(jnp.int32))
        return t + 1, state, tok, finished | (tok == EOS), out.at[:, t].set(tok)

    init = (0, state, jnp.full((b,), BOS, jnp.int32), jnp.zeros((b,), bool), jnp.full((b, max_len), PAD, jnp.int32))
    return jax.lax.while_loop(cond, body, init)[-1]


def strip(ids) -> list[int]:
    ids = list(ids)
    return ids[:ids.index(EOS)] if EOS in ids else [i for i in ids if i != PAD]


def translate_examples(model: Seq2Seq, params, examples, sp, buckets: tuple, batch_tokens: int) -> list[str]:
    """Greedy translations of every example, returned in the examples' order."""
    out = [""] * len(examples)
    for batch in eval_batches(examples, buckets, batch_tokens):
        tokens = np.asarray(greedy_decode(model, params, batch["src"], max_output_len(batch["src"].shape[1])))
        for row, idx in enumerate(batch["index"]):
            if idx >= 0:
                out[idx] = sp.decode(strip(tokens[row]))
    return out


def translate_text(model: Seq2Seq, params, sp, sentences: list[str], buckets: tuple,
                   batch_tokens: int) -> list[str]:
    """Greedy translations of raw sentences (sources longer than the largest bucket are truncated)."""
    ids = sp.encode(sentences)
    return translate_examples(model, params, Examples(ids, [[] for _ in ids], np.arange(len(ids))), sp,
                              buckets, batch_tokens)
