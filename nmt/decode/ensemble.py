"""Ensembles: several models of one vocabulary searched as one, their log-probabilities averaged at every step inside
the same compiled beam search (the step callback runs every model), as Marian and OpenNMT-py ensemble."""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from nmt.data.batching import Examples, eval_batches
from nmt.data.vocab import BOS, PAD
from nmt.decode.beam import BeamConfig, make_search, output_log_probs
from nmt.decode.search import decoder_step, max_output_len, prepare, strip
from nmt.model import Seq2Seq


def ensemble_step(models: tuple, params: tuple, memories: tuple):
    """The searches' step callback over every model: (states, tokens) -> (states, mean log-probabilities [B, K, V],
    mean attention [B, K, S])."""
    steps = [decoder_step(m, p, mem, None, None) for m, p, mem in zip(models, params, memories)]

    def step(states, tokens):
        outs = [f(s, tokens) for f, s in zip(steps, states)]
        logp = sum(output_log_probs(logits) for _, logits, _ in outs) / len(outs)
        attn = sum(a.astype(jnp.float32) for _, _, a in outs) / len(outs)
        return tuple(s for s, _, _ in outs), logp, attn
    return step


@functools.partial(jax.jit, static_argnames=("models", "cfg", "max_len"))
def ensemble_beam_decode(models: tuple, params: tuple, src: jax.Array, cfg: BeamConfig, max_len: int) -> dict:
    """`beam_decode` of an ensemble: src [B, S] -> dict(tokens [B, K, L], scores [B, K], logp [B, K]), best first;
    logp sums each step's mean log-probability over the models. With one model it is that model's search with
    `topk="plain"`, bit for bit."""
    memories = tuple(prepare(m, p, src)[0] for m, p in zip(models, params))
    states = tuple(m.apply({"params": p}, mem, cfg.beam, method=Seq2Seq.zero_state)
                   for m, p, mem in zip(models, params, memories))
    init, cond, body = make_search(ensemble_step(models, params, memories), states, memories[0].mask, cfg, max_len,
                                   scored=True)
    st = jax.lax.while_loop(cond, body, init)
    return {"tokens": st.fin_seqs, "scores": st.fin_scores, "logp": st.fin_logp}


@functools.partial(jax.jit, static_argnames=("models",))
def ensemble_log_probs(models: tuple, params: tuple, src: jax.Array, outputs: jax.Array) -> jax.Array:
    """Teacher-forced [B] log-probability of given outputs ([B, T], EOS-terminated, PAD after) under the ensemble:
    the sum over tokens of the models' mean log-probability, what the search's `logp` adds up."""
    tgt_in = jnp.concatenate([jnp.full((src.shape[0], 1), BOS, outputs.dtype), outputs[:, :-1]], 1)
    total = 0.0
    for m, p in zip(models, params):
        v = {"params": p}
        hidden = m.apply(v, m.apply(v, src, method=Seq2Seq.encode), tgt_in, method=Seq2Seq.decode_teacher)
        logp = output_log_probs(m.apply(v, hidden, method=Seq2Seq.output_logits))
        total = total + jnp.take_along_axis(logp, outputs[..., None], -1)[..., 0]
    return jnp.sum(jnp.where(outputs != PAD, total / len(models), 0.0), -1)


def ensemble_translate(models: tuple, params: tuple, examples: Examples, sp, buckets: tuple, batch_tokens: int,
                       cfg: BeamConfig = BeamConfig(beam=1), nbest: int = 1):
    """`translate_examples` for an ensemble (beam 1 is greedy search); same outputs and order."""
    cfg = dataclasses.replace(cfg, nbest=nbest)
    hyps = [None] * len(examples)
    for batch in eval_batches(examples, buckets, batch_tokens):
        res = jax.device_get(ensemble_beam_decode(models, params, batch["src"], cfg,
                                                  max_output_len(batch["src"].shape[1], cfg)))
        for row, idx in enumerate(batch["index"]):
            if idx >= 0:
                hyps[idx] = (res["tokens"][row], res["scores"][row])
    out = []
    for toks, scores in hyps:
        best = [(float(scores[j]), sp.decode(strip(toks[j]))) for j in range(nbest)]
        out.append(best[0][1] if nbest == 1 else best)
    return out
