"""The model-side wrappers of the searches: compiled beam search, teacher-forced scoring, batch translation."""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from nmt.data.batching import Examples, eval_batches
from nmt.data.vocab import BOS, EOS, PAD
from nmt.decode.beam import NEG_INF, BeamConfig, beam_search, coverage_penalty, length_penalty, output_log_probs
from nmt.decode.greedy import greedy_decode
from nmt.model import Seq2Seq


def max_output_len(src_len: int, cfg: BeamConfig) -> int:
    """Static output bound for a source bucket of length `src_len` (one compiled program per bucket)."""
    return max(1, int(cfg.max_len_a * src_len + cfg.max_len_b))


@functools.partial(jax.jit, static_argnames=("model",))
def embedding_projection(model: Seq2Seq, params) -> jax.Array:
    """[V, 4H]: pass it as `projected` to the searches, once per parameters (a server makes it at load)."""
    return model.apply({"params": params}, method=Seq2Seq.embedding_projection)


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len", "keep_attention"))
def beam_decode(model: Seq2Seq, params, src: jax.Array, cfg: BeamConfig, max_len: int,
                keep_attention: bool = False, shortlist: tuple[jax.Array, jax.Array] | None = None,
                projected: jax.Array | None = None) -> dict:
    """src: [B, S] -> dict(tokens [B, K, L], scores [B, K], logp [B, K], (attention [B, K, L, S])), best first,
    and the decoder steps the search ran, steps [].

    shortlist: (ids [N], listed [B, N]) from a `Shortlister`: the output layer scores only ids, and each sentence
      only those it lists.
    projected: `embedding_projection(model, params)`, or None to project each step's input embeddings."""
    v = {"params": params}
    memory = model.apply(v, src, method=Seq2Seq.encode)
    dec = model.apply(v, memory, cfg.beam, method=Seq2Seq.init_state)
    weights = None if shortlist is None else model.apply(v, shortlist[0], method=Seq2Seq.output_weights)

    def step_fn(dec, tokens):
        return model.apply(v, memory, dec, tokens, weights, projected, method=Seq2Seq.step)

    st = beam_search(step_fn, dec, memory.mask, cfg, max_len, keep_attention, shortlist)
    out = {"tokens": st.fin_seqs, "scores": st.fin_scores, "logp": st.fin_logp, "steps": st.t}
    if keep_attention:
        out["attention"] = st.fin_attn
    return out


@functools.partial(jax.jit, static_argnames=("model", "cfg"))
def score_outputs(model: Seq2Seq, params, src: jax.Array, outputs: jax.Array, cfg: BeamConfig,
                  shortlist: tuple[jax.Array, jax.Array] | None = None) -> dict:
    """Teacher-forced scores of given outputs with the search's penalties.

    Args:
      src: [B, S]; outputs: [B, T] EOS-terminated token ids, PAD after;
      shortlist: (ids [N], listed [B, N]) or None: probabilities normalised over each sentence's shortlist, as
        the search normalises them.
    Returns:
      dict(score [B], logp [B]) where score = logp / lp(len) + cp(coverage).
    """
    v = {"params": params}
    tgt_in = jnp.concatenate([jnp.full((src.shape[0], 1), BOS, outputs.dtype), outputs[:, :-1]], 1)
    memory = model.apply(v, src, method=Seq2Seq.encode)
    hidden, attn = model.apply(v, memory, tgt_in, return_attention=True, method=Seq2Seq.decode_teacher)
    logits = model.apply(v, hidden, method=Seq2Seq.output_logits)
    if shortlist is not None:  # probability 0 outside the shortlist renormalises over it
        ids, listed = shortlist
        full = jnp.zeros(logits.shape[::2], bool).at[:, ids].max(listed)
        logits = jnp.where(full[:, None, :], logits, NEG_INF)
    logp = output_log_probs(logits)
    mask = outputs != PAD
    tok_logp = jnp.take_along_axis(logp, outputs[..., None], -1)[..., 0]
    total = jnp.sum(jnp.where(mask, tok_logp, 0.0), -1)
    cov = jnp.sum(jnp.where(mask[..., None], attn, 0.0), 1)[:, None, :]  # [B, 1, S]
    score = total / length_penalty(jnp.sum(mask, -1), cfg) + coverage_penalty(cov, memory.mask, cfg)[:, 0]
    return {"score": score, "logp": total}


def strip(ids) -> list[int]:
    ids = list(ids)
    return ids[:ids.index(EOS)] if EOS in ids else [i for i in ids if i != PAD]


def translate_examples(model: Seq2Seq, params, examples: Examples, sp, buckets: tuple, batch_tokens: int,
                       cfg: BeamConfig = BeamConfig(beam=1), nbest: int = 1, shortlister=None):
    """Translations of every example in the examples' order: greedy when cfg.beam == 1, else beam search.

    shortlister: a `Shortlister` (per-sentence output vocabularies) or None for the whole vocabulary.
    Returns a list of strings (nbest == 1) or of [(score, string), ...] lists of length nbest.
    """
    cfg = dataclasses.replace(cfg, nbest=nbest)
    projected = embedding_projection(model, params)
    out = [None] * len(examples)
    for batch in eval_batches(examples, buckets, batch_tokens):
        max_len = max_output_len(batch["src"].shape[1], cfg)
        vocab = None if shortlister is None else shortlister(batch["src"])
        if cfg.beam == 1:
            toks = np.asarray(greedy_decode(model, params, batch["src"], cfg, max_len, vocab, projected))[:, None]
            scores = np.zeros(toks.shape[:2])
        else:
            res = jax.device_get(beam_decode(model, params, batch["src"], cfg, max_len, shortlist=vocab,
                                             projected=projected))
            toks, scores = res["tokens"], res["scores"]
        for row, idx in enumerate(batch["index"]):
            if idx >= 0:
                hyps = [(float(scores[row, j]), sp.decode(strip(toks[row, j]))) for j in range(nbest)]
                out[idx] = hyps[0][1] if nbest == 1 else hyps
    return out


def translate_text(model: Seq2Seq, params, sp, sentences: list[str], buckets: tuple, batch_tokens: int,
                   cfg: BeamConfig = BeamConfig(beam=1), nbest: int = 1, shortlister=None):
    """Translations of raw sentences (sources longer than the largest bucket are truncated)."""
    ids = sp.encode(sentences)
    ex = Examples(ids, [[] for _ in ids], np.arange(len(ids)))
    return translate_examples(model, params, ex, sp, buckets, batch_tokens, cfg, nbest, shortlister)
