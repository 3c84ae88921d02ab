"""The model-side wrappers of the searches: compiled greedy and beam search (in fixed batches or with continuous
batching) and teacher-forced scoring. `nmt.decode.translator.Translator` drives them from the host."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from nmt.data.batching import bucket_of, pad_rows
from nmt.data.vocab import BOS, EOS, PAD
from nmt.decode.beam import BeamConfig, make_search, max_lengths
from nmt.decode.continuous import QueueSearch, make_queue_search
from nmt.decode.outputs import allowed_outputs, shortlist_tokens
from nmt.model import EncoderOutput, Seq2Seq
from nmt.utils import NEG_INF


def max_output_len(src_len: int, cfg: BeamConfig) -> int:
    """Static output bound for a source bucket of length `src_len` (one compiled program per bucket)."""
    return max(1, int(cfg.max_len_a * src_len + cfg.max_len_b))


@functools.partial(jax.jit, static_argnames=("model",))
def embedding_projection(model: Seq2Seq, params) -> jax.Array:
    """[V, 4H]: pass it as `projected` to the searches, once per parameters (a server makes it at load)."""
    return model.apply({"params": params}, method=Seq2Seq.embedding_projection)


def encode_for_search(
    model: Seq2Seq, params, src: jax.Array, shortlist: tuple[jax.Array, jax.Array] | None = None
) -> tuple[EncoderOutput, tuple | None]:
    """What a search reads and never changes: the encoder memory of src [B, S], and the shortlist's output weights
    (None for the whole vocabulary)."""
    v = {"params": params}
    memory = model.apply(v, src, method=Seq2Seq.encode)
    return memory, None if shortlist is None else model.apply(v, shortlist[0], method=Seq2Seq.output_weights)


def decoder_step(model: Seq2Seq, params, memory: EncoderOutput, weights, projected):
    """The searches' step callback over `encode_for_search`'s memory and weights: (state, tokens [B, (K,)]) -> (state,
    logits [B, (K,) V or N], attention [B, (K,) S])."""
    return lambda state, tokens: model.apply(
        {"params": params}, memory, state, tokens, weights, projected, method=Seq2Seq.step
    )


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len"))
def greedy_decode(
    model: Seq2Seq,
    params,
    src: jax.Array,
    cfg: BeamConfig,
    max_len: int,
    shortlist: tuple[jax.Array, jax.Array] | None = None,
    projected: jax.Array | None = None,
) -> jax.Array:
    """Greedy search as one compiled `while_loop`: src [B, S] -> tokens [B, max_len], EOS-terminated (EOS forced at
    each sentence's length limit), PAD after.

    shortlist, projected: as for `beam_decode`."""
    memory, weights = encode_for_search(model, params, src, shortlist)
    step = decoder_step(model, params, memory, weights, projected)
    limits = max_lengths(memory.mask, cfg, max_len)

    def cond(carry):
        t, _, _, finished, _ = carry
        return (t < max_len) & ~jnp.all(finished)

    def body(carry):
        t, state, prev, finished, out = carry
        state, logits, _ = step(state, prev)
        allowed = allowed_outputs(logits.shape[-1], shortlist, logits.ndim)  # log-softmax keeps the argmax
        tok = jnp.argmax(jnp.where(allowed, logits, NEG_INF), -1).astype(jnp.int32)
        tok = tok if shortlist is None else shortlist_tokens(shortlist[0], tok)
        tok = jnp.where(t + 1 >= limits, EOS, tok)
        tok = jnp.where(finished, PAD, tok)
        return t + 1, state, tok, finished | (tok == EOS), out.at[:, t].set(tok)

    b = src.shape[0]
    state = model.apply({"params": params}, memory, method=Seq2Seq.zero_state)
    init = (0, state, jnp.full((b,), BOS, jnp.int32), jnp.zeros((b,), bool), jnp.full((b, max_len), PAD, jnp.int32))
    return jax.lax.while_loop(cond, body, init)[-1]


def beam_search_loop(
    model: Seq2Seq,
    params,
    memory: EncoderOutput,
    weights,
    shortlist,
    projected,
    *,
    cfg: BeamConfig,
    max_len: int,
    keep_attention: bool = False,
) -> tuple:
    """`beam_decode`'s loop as (initial state, cond, body), from `encode_for_search`'s memory and weights."""
    dec = model.apply({"params": params}, memory, cfg.beam, method=Seq2Seq.zero_state)
    step = decoder_step(model, params, memory, weights, projected)
    return make_search(step, dec, memory.mask, cfg, max_len, keep_attention, shortlist)


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len", "keep_attention"))
def beam_decode(
    model: Seq2Seq,
    params,
    src: jax.Array,
    cfg: BeamConfig,
    max_len: int,
    keep_attention: bool = False,
    shortlist: tuple[jax.Array, jax.Array] | None = None,
    projected: jax.Array | None = None,
) -> dict:
    """src: [B, S] -> dict(tokens [B, K, L], scores [B, K], logp [B, K], (attention [B, K, L, S])), best first,
    and the decoder steps the search ran, steps [].

    shortlist: (ids [N], listed [B, N]) from a `Shortlister`: the output layer scores only ids, and each sentence
      only those it lists.
    projected: `embedding_projection(model, params)`, or None to project each step's input embeddings."""
    memory, weights = encode_for_search(model, params, src, shortlist)
    init, cond, body = beam_search_loop(
        model, params, memory, weights, shortlist, projected, cfg=cfg, max_len=max_len, keep_attention=keep_attention
    )
    st = jax.lax.while_loop(cond, body, init)
    out = {"tokens": st.fin_seqs, "scores": st.fin_scores, "logp": st.fin_logp, "steps": jnp.max(st.t)}
    if keep_attention:
        out["attention"] = st.fin_attn
    return out


@functools.partial(jax.jit, static_argnames=("model",))
def source_projection(model: Seq2Seq, params) -> jax.Array:
    """[2, V, 4H]: pass it to `encode_queue`, once per parameters (a server makes it at load)."""
    return model.apply({"params": params}, method=Seq2Seq.source_projection)


@functools.partial(jax.jit, static_argnames=("model",))
def _encode(model: Seq2Seq, params, src: jax.Array, source: jax.Array | None) -> EncoderOutput:
    return model.apply({"params": params}, src, projected=source, method=Seq2Seq.encode)


def pad_source(memory: EncoderOutput, length: int) -> EncoderOutput:
    """An encoder output padded along its source positions to `length` (masked out: the search never attends to
    them)."""
    pad = length - memory.mask.shape[1]
    return jax.tree.map(lambda x: jnp.pad(x, [(0, 0), (0, pad)] + [(0, 0)] * (x.ndim - 2)), memory)


def encode_queue(
    model: Seq2Seq, params, src: list[np.ndarray], buckets: tuple, rows: int = 256, source: jax.Array | None = None
) -> EncoderOutput:
    """The encoder output of a queue of sources (id arrays, EOS included) as one [Q, S, ...] EncoderOutput, S the
    bucket of the longest. Consecutive sources of one bucket are encoded together, at most `rows` at a time, padded to
    that bucket and to a power of two of rows (few shapes); so a queue ordered by length encodes little padding.
    source: `source_projection(model, params)`, or None to project the first layer's inputs."""
    bucket = [bucket_of(len(x), buckets) or buckets[-1] for x in src]
    s_max = max(bucket)
    parts, k = [], 0
    while k < len(src):
        s, end = bucket[k], min(k + rows, len(src))
        n = next((i for i in range(k, end) if bucket[i] != s), end) - k  # up to the next bucket or `rows`
        batch = pad_rows(src[k : k + n], s, min(rows, 1 << (n - 1).bit_length()))
        mem = jax.tree.map(lambda x: x[:n], _encode(model, params, batch, source))
        parts.append(pad_source(mem, s_max))
        k += n
    return jax.tree.map(lambda *xs: jnp.concatenate(xs), *parts)


def queue_search_loop(
    model: Seq2Seq,
    params,
    memory: EncoderOutput,
    count: jax.Array,
    ids: jax.Array | None,
    projected: jax.Array | None,
    *,
    cfg: BeamConfig,
    max_len: int,
    slots: int,
) -> tuple:
    """`queue_beam_decode`'s loop as (initial state, cond, body)."""
    search = queue_search(model, params, memory, count, ids, projected, cfg, max_len, slots)
    return search.admit(search.empty, jnp.ones((slots,), bool)), search.cond, search.body


def queue_search(
    model: Seq2Seq,
    params,
    memory: EncoderOutput,
    count,
    ids,
    projected,
    cfg: BeamConfig,
    max_len: int,
    slots: int,
    limit=None,
    floor=None,
) -> QueueSearch:
    """The model's callbacks of a queue search (`make_queue_search`) over encoded queue rows `memory` [Q, S, ...]."""
    v = {"params": params}

    def admit(row):
        mem = jax.tree.map(lambda x: jax.lax.dynamic_slice_in_dim(x, row, 1), memory)
        dec = jax.tree.map(lambda x: x[0], model.apply(v, mem, cfg.beam, method=Seq2Seq.zero_state))
        weights = None if ids is None else model.apply(v, ids[row], method=Seq2Seq.output_weights)
        return (jax.tree.map(lambda x: x[0], mem), weights), dec

    def step_fn(ctx, dec, tokens):
        return decoder_step(model, params, *ctx, projected)(dec, tokens)

    return make_queue_search(step_fn, admit, memory.mask, count, cfg, max_len, slots, ids, limit, floor)


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len", "slots"))
def queue_beam_decode(
    model: Seq2Seq,
    params,
    memory: EncoderOutput,
    count: jax.Array,
    cfg: BeamConfig,
    max_len: int,
    slots: int,
    ids: jax.Array | None = None,
    projected: jax.Array | None = None,
) -> dict:
    """Beam search with continuous batching (`nmt.decode.continuous`) over a queue of encoded sentences.

    Args:
      memory: [Q, S, ...] from `encode_queue`; count: [] how many of its sentences to search (the rest is padding);
      slots: sentences searched at once;
      ids: [Q, N] each sentence's shortlist (`Shortlister.lists`), or None for the whole vocabulary;
      projected: as for `beam_decode`.
    Returns:
      dict(tokens [Q, K, L], scores [Q, K], logp [Q, K]) best first, as `beam_decode` gives them; steps [] the
      decoder steps run and busy [] the slot-steps that held a sentence.
    """
    init, cond, body = queue_search_loop(
        model, params, memory, count, ids, projected, cfg=cfg, max_len=max_len, slots=slots
    )
    st = jax.lax.while_loop(cond, body, init)
    return {"tokens": st.tokens, "scores": st.scores, "logp": st.logp, "steps": st.steps, "busy": st.busy}


def queue_translate(
    model: Seq2Seq,
    params,
    src: list[list[int]],
    buckets: tuple,
    cfg: BeamConfig,
    slots: int,
    shortlister=None,
    projected: jax.Array | None = None,
    source: jax.Array | None = None,
    max_queue: int = 4096,
    search=queue_beam_decode,
) -> tuple[list, dict]:
    """Beam search over sources (id lists, no EOS) with continuous batching, longest first (so the last sentences to
    start are the short ones and the queue's tail leaves few slots empty), `max_queue` sentences per compiled call.

    Queues are padded to `slots` times a power of two (few shapes); sources longer than the largest bucket are
    truncated. projected, source: `embedding_projection` and `source_projection`, made once per parameters; None
    projects each token. `search` is `queue_beam_decode` or a function with its signature (the decode bench's
    baseline).
    Returns ([(tokens [K, L], scores [K]) per source, in order], dict(steps, busy) summed over the calls).
    """
    order = np.argsort([-len(x) for x in src], kind="stable")
    out, stats = [None] * len(src), {"steps": 0, "busy": 0}
    for start in range(0, len(src), max_queue):
        idx = order[start : start + max_queue]
        rows = [np.asarray(list(src[i][: max(buckets) - 1]) + [EOS], np.int32) for i in idx]
        memory = encode_queue(model, params, rows, buckets, source=source)
        q, s = memory.mask.shape
        width = slots << max(0, (-(-q // slots) - 1).bit_length())
        memory = jax.tree.map(lambda x: jnp.pad(x, [(0, width - q)] + [(0, 0)] * (x.ndim - 1)), memory)
        ids = None
        if shortlister is not None:
            ids = shortlister.lists(pad_rows(rows, s, width))
        res = jax.device_get(search(model, params, memory, q, cfg, max_output_len(s, cfg), slots, ids, projected))
        for r, i in enumerate(idx):
            out[i] = (res["tokens"][r], res["scores"][r])
        stats = {k: stats[k] + int(res[k]) for k in stats}
    return out, stats
