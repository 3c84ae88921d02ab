"""Batched beam search as one compiled program: pure functions around one `lax.while_loop`.

The model is reached only through a step callback `step_fn(dec_state, tokens [B, K]) -> (dec_state,
logits [B, K, V], attention [B, K, S])`, whose state leaves are batch-first `[B, K, ...]`. The encoder output lives in
the callback's closure with batch B: it is never copied per beam.

Scores follow GNMT (Wu et al. 2016): s(Y) = log P(Y|X) / lp(Y) + cp(X; Y), with lp = ((5 + |Y|) / 6)^alpha
("gnmt") or |Y|^alpha ("plain"), cp = beta * sum_s log(min(sum_t attention_ts, 1)), |Y| counting the final EOS.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from nmt.data.vocab import BOS, EOS, PAD
from nmt.decode.outputs import allowed_outputs, output_log_probs, per_row, shortlist_tokens
from nmt.decode.topk import blocked_top_k
from nmt.utils import NEG_INF

TOPK = ("auto", "fused", "blocked", "plain")
ENSEMBLE_MEANS = ("log", "prob")
STOPS = ("exact", "current")


@dataclasses.dataclass(frozen=True)
class BeamConfig:
    beam: int = 5
    alpha: float = 0.6  # length penalty exponent (>= 0)
    beta: float = 0.0  # coverage penalty weight (>= 0)
    length_penalty: str = "gnmt"  # gnmt: ((5 + len) / 6)^alpha; plain: len^alpha
    max_len_a: float = 1.5  # maximum output length a * src_len + b (EOS included)
    max_len_b: int = 10
    nbest: int = 1  # hypotheses wanted: the search stops once the nbest-th finished one cannot be beaten
    topk: str = "auto"  # candidate selection (`candidates`): fused, blocked, plain, or auto (blocked over all V)
    # an ensemble's token scores: the mean of its models' log-probabilities (log; Marian, OpenNMT-py) or the log of
    # the mean of their probabilities (prob; fairseq); one model's search is the same either way
    ensemble_mean: str = "log"
    # when a sentence's search ends (`sentence_done`): exact, once its n-best can no longer change; current, once no
    # live hypothesis scores above it at its own length (OpenNMT-py's rule, Hugging Face's early_stopping=False)
    stop: str = "exact"

    def __post_init__(self):
        problems = beam_problems(self)
        if problems:
            raise ValueError("invalid beam settings: " + "; ".join(f"{name} {text}" for name, text in problems))


def beam_problems(cfg) -> list[tuple[str, str]]:
    """(field, what is wrong with its value) of each invalid field of `cfg` (a BeamConfig's fields, any object)."""
    checks = [
        ("beam", cfg.beam >= 1, ">= 1"),
        ("alpha", cfg.alpha >= 0, ">= 0"),
        ("beta", cfg.beta >= 0, ">= 0"),
        ("length_penalty", cfg.length_penalty in ("gnmt", "plain"), "one of gnmt, plain"),
        ("nbest", 1 <= cfg.nbest <= max(cfg.beam, 1), f"between 1 and the beam ({cfg.beam})"),
        ("topk", cfg.topk in TOPK, f"one of {', '.join(TOPK)}"),
        ("ensemble_mean", cfg.ensemble_mean in ENSEMBLE_MEANS, f"one of {', '.join(ENSEMBLE_MEANS)}"),
        ("stop", cfg.stop in STOPS, f"one of {', '.join(STOPS)}"),
    ]
    return [(name, f"must be {want}, got {getattr(cfg, name)!r}") for name, ok, want in checks if not ok]


def length_penalty(length: jax.Array, cfg: BeamConfig) -> jax.Array:
    length = length.astype(jnp.float32)
    base = (5.0 + length) / 6.0 if cfg.length_penalty == "gnmt" else length
    return base**cfg.alpha


def coverage_penalty(coverage: jax.Array, src_mask: jax.Array, cfg: BeamConfig) -> jax.Array:
    """coverage: [B, K, S] summed attention; src_mask: [B, S] -> [B, K] (0 when beta == 0)."""
    if cfg.beta == 0.0:
        return jnp.zeros(coverage.shape[:-1], jnp.float32)
    logs = jnp.log(jnp.clip(coverage, 1e-10, 1.0))
    return cfg.beta * jnp.sum(jnp.where(src_mask[:, None, :], logs, 0.0), -1)


def max_lengths(src_mask: jax.Array, cfg: BeamConfig, limit: int) -> jax.Array:
    """Per-sentence output budget [B] (EOS included), at most `limit`."""
    src_len = jnp.sum(src_mask, -1).astype(jnp.float32)
    return jnp.clip(jnp.floor(cfg.max_len_a * src_len + cfg.max_len_b).astype(jnp.int32), 1, limit)


@flax.struct.dataclass
class BeamState:
    t: jax.Array  # [B]         step: tokens emitted so far by each sentence's live hypotheses
    last: jax.Array  # [B, K]      last token of each live hypothesis
    live_logp: jax.Array  # [B, K]      log P of live hypotheses (NEG_INF for empty slots)
    live_seqs: jax.Array  # [B, K, L]   tokens of live hypotheses (PAD beyond t)
    live_cov: jax.Array  # [B, K, S]   attention summed over the steps of live hypotheses
    dec: Any  # pytree, leaves [B, K, ...]: the model's decoder state of live hypotheses
    fin_scores: jax.Array  # [B, K]      penalised scores of finished hypotheses, best first (NEG_INF = empty)
    fin_logp: jax.Array  # [B, K]      their log P
    fin_seqs: jax.Array  # [B, K, L]   their tokens, EOS included, PAD after
    fin_attn: jax.Array  # [B, K, L, S] or [0]: attention of finished hypotheses (only when kept)
    live_attn: jax.Array  # [B, K, L, S] or [0]


def _gather(x: jax.Array, idx: jax.Array) -> jax.Array:
    """x: [B, K', ...], idx: [B, K] -> [B, K, ...]."""
    return jnp.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=1)


def initial_state(
    dec_init: Any, b: int, s: int, cfg: BeamConfig, max_len: int, keep_attention: bool = False
) -> BeamState:
    """The state before the first step: one live hypothesis (BOS) per sentence. dec_init: leaves [B, K, ...]."""
    k = cfg.beam
    attn_shape = (b, k, max_len, s) if keep_attention else (0,)
    return BeamState(
        t=jnp.zeros((b,), jnp.int32),
        last=jnp.full((b, k), BOS, jnp.int32),
        live_logp=jnp.tile(jnp.asarray([0.0] + [NEG_INF] * (k - 1), jnp.float32), (b, 1)),
        live_seqs=jnp.full((b, k, max_len), PAD, jnp.int32),
        live_cov=jnp.zeros((b, k, s), jnp.float32),
        dec=dec_init,
        fin_scores=jnp.full((b, k), NEG_INF, jnp.float32),
        fin_logp=jnp.full((b, k), NEG_INF),
        fin_seqs=jnp.full((b, k, max_len), PAD, jnp.int32),
        fin_attn=jnp.zeros(attn_shape, jnp.float32),
        live_attn=jnp.zeros(attn_shape, jnp.float32),
    )


def sentence_done(st: BeamState, limits: jax.Array, cfg: BeamConfig) -> jax.Array:
    """[B]: whether each sentence's search is over (`cfg.stop`).

    exact: a live hypothesis can at best keep its log P and reach the longest length (lp grows with length, coverage
    penalty <= 0): once the nbest-th finished score beats that, the n-best is final. current: the best live
    hypothesis is scored as if it ended at the next step instead, so the search ends once the best candidate is a
    finished one, although a longer hypothesis could still overtake it (with alpha = 0 the two are the same). Later
    finished slots may stay empty (NEG_INF)."""
    best_live = jnp.max(st.live_logp, -1)
    length = limits if cfg.stop == "exact" else jnp.minimum(st.t + 1, limits)
    bound = best_live / length_penalty(length, cfg)
    return (st.fin_scores[:, cfg.nbest - 1] >= bound) | (best_live <= NEG_INF / 2)


def _write(seqs: jax.Array, t: jax.Array, values: jax.Array) -> jax.Array:
    """seqs: [B, K, L, ...], t: [B], values [B, K, ...] -> seqs with seqs[b, :, t[b]] = values[b]."""
    at = (jnp.arange(seqs.shape[2]) == t[:, None]).reshape(t.shape + (1, seqs.shape[2]) + (1,) * (seqs.ndim - 3))
    return jnp.where(at, jnp.expand_dims(values, 2), seqs)


def candidates(
    live_logp: jax.Array,
    logits: jax.Array,
    at_limit: jax.Array,
    cfg: BeamConfig,
    shortlist: tuple[jax.Array, jax.Array] | None = None,
    scored: bool = False,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The 2K best one-token extensions of each sentence's live hypotheses, best first.

    2K, so that K live ones survive even if K of them end. `cfg.topk`:
      plain: log-softmax over each beam's V logits, then one top-k over all K x V.
      fused: each beam first keeps its 2K best raw logits, and only those K x 2K are normalised (by the beam's
        log-sum-exp) and ranked: the same candidates (log-softmax keeps each beam's order), with no [B, K, V]
        log-probability array written and a top-k over V instead of K x V.
      blocked: fused, each beam's 2K best found by blocks (`nmt.decode.topk`): one pass of block maxima over V and
        two small top-ks instead of a top-k over V.
      auto: blocked over the whole vocabulary, plain over a shortlist, the fastest for each on a CPU
        (experiments/topk_ablation.py): a second top-k costs more than it saves over a few hundred tokens.

    Args:
      live_logp: [B, K]; logits: [B, K, V] (or [B, K, N] over a shortlist, see `output_log_probs`);
      at_limit: [B], True where the next token must be EOS;
      scored: the logits are the token scores already (an ensemble's mean log-probabilities), not normalised here.
    Returns:
      (log P [B, 2K], the beam each extends [B, 2K], its token's position in the logits [B, 2K]).
    """
    b, k, v = logits.shape
    ids = jnp.arange(v) if shortlist is None else per_row(shortlist[0], 3)
    forbidden = at_limit[:, None, None] & (ids != EOS)
    if scored:
        logp = jnp.where(forbidden, NEG_INF, logits.astype(jnp.float32))
        cand_logp, flat = jax.lax.top_k((live_logp[..., None] + logp).reshape(b, k * v), 2 * k)
        return cand_logp, flat // v, flat % v
    if cfg.topk in ("fused", "blocked") or (cfg.topk == "auto" and shortlist is None):
        masked = jnp.where(allowed_outputs(v, shortlist), logits.astype(jnp.float32), NEG_INF)
        lse = jax.nn.logsumexp(masked, -1, keepdims=True)  # [B, K, 1]
        first = jax.lax.top_k if cfg.topk == "fused" else blocked_top_k
        top, pos = first(jnp.where(forbidden, NEG_INF, masked), min(2 * k, v))
        cand = (live_logp[..., None] + top - lse).reshape(b, -1)
        cand_logp, flat = jax.lax.top_k(cand, 2 * k)
        return cand_logp, flat // top.shape[-1], jnp.take_along_axis(pos.reshape(b, -1), flat, 1)
    logp = jnp.where(forbidden, NEG_INF, output_log_probs(logits, shortlist))
    cand_logp, flat = jax.lax.top_k((live_logp[..., None] + logp).reshape(b, k * v), 2 * k)
    return cand_logp, flat // v, flat % v


def advance(
    st: BeamState,
    step_fn: Callable,
    src_mask: jax.Array,
    limits: jax.Array,
    cfg: BeamConfig,
    keep_attention: bool = False,
    shortlist: tuple[jax.Array, jax.Array] | None = None,
    scored: bool = False,
) -> BeamState:
    """One step of every sentence's search. limits: [B] output budgets (`max_lengths`); other arguments as for
    `make_search`."""
    k = st.last.shape[1]
    dec, logits, attn = step_fn(st.dec, st.last)
    cand_logp, src_beam, tok = candidates(st.live_logp, logits, (st.t + 1 >= limits), cfg, shortlist, scored)
    tok = tok if shortlist is None else shortlist_tokens(shortlist[0], tok)
    seqs = _write(_gather(st.live_seqs, src_beam), st.t, tok)
    cov = _gather(st.live_cov, src_beam) + _gather(attn.astype(jnp.float32), src_beam)
    cand_attn = (
        _write(_gather(st.live_attn, src_beam), st.t, _gather(attn, src_beam)) if keep_attention else st.live_attn
    )
    valid = cand_logp > NEG_INF / 2
    # As in fairseq, a hypothesis finishes only if its EOS extension ranks among the top K candidates;
    # with K = 1 this makes beam search greedy search.
    is_eos = (tok == EOS) & valid & (jnp.arange(2 * k) < k)

    # Finished: penalise, merge with the finished pool, keep the best K.
    score = cand_logp / length_penalty(st.t + 1, cfg)[:, None] + coverage_penalty(cov, src_mask, cfg)
    score = jnp.where(is_eos, score, NEG_INF)
    all_scores = jnp.concatenate([st.fin_scores, score], 1)
    fin_scores, pick = jax.lax.top_k(all_scores, k)
    fin_logp = _gather(jnp.concatenate([st.fin_logp, jnp.where(is_eos, cand_logp, NEG_INF)], 1), pick)
    fin_seqs = _gather(jnp.concatenate([st.fin_seqs, seqs], 1), pick)
    fin_attn = _gather(jnp.concatenate([st.fin_attn, cand_attn], 1), pick) if keep_attention else st.fin_attn

    # Live: the best K candidates that did not end.
    live_logp, pick = jax.lax.top_k(jnp.where(is_eos | ~valid, NEG_INF, cand_logp), k)
    parent = _gather(src_beam, pick)
    return BeamState(
        t=st.t + 1,
        last=_gather(tok, pick),
        live_logp=live_logp,
        live_seqs=_gather(seqs, pick),
        live_cov=_gather(cov, pick),
        dec=jax.tree.map(lambda x: _gather(x, parent), dec),
        fin_scores=fin_scores,
        fin_logp=fin_logp,
        fin_seqs=fin_seqs,
        fin_attn=fin_attn,
        live_attn=_gather(cand_attn, pick) if keep_attention else st.live_attn,
    )


def make_search(
    step_fn: Callable,
    dec_init: Any,
    src_mask: jax.Array,
    cfg: BeamConfig,
    max_len: int,
    keep_attention: bool = False,
    shortlist: tuple[jax.Array, jax.Array] | None = None,
    scored: bool = False,
) -> tuple[BeamState, Callable, Callable]:
    """The search as (initial state, cond, body) for a `lax.while_loop`.

    Args:
      step_fn: the model callback (see module docstring).
      dec_init: decoder state with leaves [B, K, ...].
      src_mask: [B, S] bool, True for real source tokens.
      max_len: static bound on output length (EOS included); per-sentence bounds come from cfg.
      keep_attention: also return each finished hypothesis's attention [B, K, L, S] (for pictures).
      shortlist: (ids [N] or [B, N], listed [B, N]) when step_fn's logits are over ids (see `output_log_probs`).
      scored: step_fn gives token log-probabilities (an ensemble's mean), which the search takes as they are.
    """
    limits = max_lengths(src_mask, cfg, max_len)  # [B]
    init = initial_state(dec_init, *src_mask.shape, cfg, max_len, keep_attention)

    def cond(st: BeamState):
        return (jnp.max(st.t) < max_len) & ~jnp.all(sentence_done(st, limits, cfg))

    def body(st: BeamState):
        new = advance(st, step_fn, src_mask, limits, cfg, keep_attention, shortlist, scored)
        if cfg.stop == "exact":  # a search past its end cannot change its n-best: no need to hold it
            return new
        # a sentence whose search ended keeps its state, so that its result does not depend on its batch
        over = sentence_done(st, limits, cfg)
        hold = lambda a, b: (
            jnp.where(over.reshape((-1,) + (1,) * (a.ndim - 1)), a, b) if a.shape[:1] == over.shape else b
        )
        return jax.tree.map(hold, st, new)

    return init, cond, body
