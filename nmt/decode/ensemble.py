"""Ensembles: several models of one vocabulary searched as one, their distributions averaged at every step inside the
same compiled beam search (the step callback runs every model): their log-probabilities, as Marian and OpenNMT-py
ensemble, or their probabilities, as fairseq does (`BeamConfig.ensemble_mean`)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from nmt.decode.beam import BeamConfig, make_search
from nmt.decode.outputs import output_log_probs
from nmt.decode.search import decoder_step, encode_for_search
from nmt.model import Seq2Seq


def mean_log_probs(logps: list[jax.Array], mean: str) -> jax.Array:
    """The models' token log-probabilities combined: their mean (log) or the log of their probabilities' mean (prob)."""
    if mean == "log":
        return sum(logps) / len(logps)
    return jax.nn.logsumexp(jnp.stack(logps), 0) - jnp.log(float(len(logps)))


def ensemble_step(models: tuple, params: tuple, memories: tuple, mean: str = "log"):
    """The searches' step callback over every model: (states, tokens) -> (states, combined log-probabilities
    [B, K, V] (`mean_log_probs`), mean attention [B, K, S])."""
    steps = [decoder_step(m, p, mem, None, None) for m, p, mem in zip(models, params, memories)]

    def step(states, tokens):
        outs = [f(s, tokens) for f, s in zip(steps, states)]
        logp = mean_log_probs([output_log_probs(logits) for _, logits, _ in outs], mean)
        attn = sum(a.astype(jnp.float32) for _, _, a in outs) / len(outs)
        return tuple(s for s, _, _ in outs), logp, attn

    return step


@functools.partial(jax.jit, static_argnames=("models", "cfg", "max_len"))
def ensemble_beam_decode(models: tuple, params: tuple, src: jax.Array, cfg: BeamConfig, max_len: int) -> dict:
    """`beam_decode` of an ensemble: src [B, S] -> dict(tokens [B, K, L], scores [B, K], logp [B, K]), best first;
    logp sums each step's combined log-probability (`cfg.ensemble_mean`). With one model it is that model's search
    with `topk="plain"`, bit for bit."""
    memories = tuple(encode_for_search(m, p, src)[0] for m, p in zip(models, params))
    states = tuple(
        m.apply({"params": p}, mem, cfg.beam, method=Seq2Seq.zero_state) for m, p, mem in zip(models, params, memories)
    )
    step = ensemble_step(models, params, memories, cfg.ensemble_mean)
    init, cond, body = make_search(step, states, memories[0].mask, cfg, max_len, scored=True)
    st = jax.lax.while_loop(cond, body, init)
    return {"tokens": st.fin_seqs, "scores": st.fin_scores, "logp": st.fin_logp}
