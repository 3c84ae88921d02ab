"""Encoder–attention–decoder with input feeding (Luong et al. 2015), written around one decoder step; or with the
GNMT-v2 decoder (`model.decoder=gnmt`, nmt/model/gnmt_decoder.py).

The same `_step` serves teacher-forced training (under `lax.scan`) and step-by-step decoding (`step`, with an
explicit `DecState`), so training and search cannot drift apart.
"""
from __future__ import annotations

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
from jax.ad_checkpoint import checkpoint_name

from nmt.config import ModelConfig
from nmt.data.vocab import PAD
from nmt.model import attention, gnmt_decoder, matrices, policies
from nmt.model.loss import token_loss
from nmt.model.lstm import Encoder, bias_init, lstm_update, uniform_init
from nmt.utils import wide_dtype


@flax.struct.dataclass
class EncoderOutput:
    """What the decoder attends to, loop-invariant during decoding."""
    keys: jax.Array  # [B, S, H]   projected for the attention score
    values: jax.Array  # [B, S, D_enc]
    mask: jax.Array  # [B, S] bool


@flax.struct.dataclass
class DecState:
    """Batch-first, so beam search can carry a beam axis after the batch: [B, K, ...]."""
    h: jax.Array  # [B, L, H]
    c: jax.Array  # [B, L, H]
    feed: jax.Array  # [B, H]   attentional hidden state of the previous step (input feeding); [B, 0] for gnmt


def encoder_dim(cfg: ModelConfig) -> int:
    return 2 * cfg.hidden if cfg.encoder == "gnmt" and cfg.enc_layers == 1 else cfg.hidden


class Seq2Seq(nn.Module):
    cfg: ModelConfig
    vocab_size: int

    def setup(self):
        c, v = self.cfg, self.vocab_size
        h, e, d_enc = c.hidden, c.emb, encoder_dim(c)
        self.dtype = jnp.dtype(c.dtype)
        self.state_dtype = wide_dtype(self.dtype)
        embed_init = uniform_init() if c.init == "uniform" else nn.initializers.normal(0.1)
        form = lambda name: matrices.form_of(c, name)  # full, or as nmt.compress stores it
        self.tgt_embed = matrices.Embed(v, e, embed_init, *form("tgt_embed"), name="tgt_embed")
        self.src_embed = self.tgt_embed if c.share_embeddings else matrices.Embed(v, e, embed_init, name="src_embed")
        matrix = lambda name, shape: matrices.declare(self, name, shape, uniform_init(), *form(name))
        self.encoder = Encoder(h, c.enc_layers, c.dropout, self.dtype, c.remat, c.encoder, c.init, c.unroll,
                               c.fuse_directions, c.encoder_impl)
        # Layer 0 reads [embedding | feed | h]; the embedding part is projected for all steps before the scan. The
        # gnmt decoder's layer 0 reads [embedding | h], its upper layers [x | context | h].
        self.dec_w_emb = matrix("dec_w_emb", (e, 4 * h))
        gnmt = c.decoder == "gnmt"
        rows = lambda l: (h if l == 0 else 2 * h + d_enc) if gnmt else 2 * h
        self.dec_w = [matrix(f"dec_l{l}_w", (rows(l), 4 * h)) for l in range(c.dec_layers)]
        self.dec_b = [self.param(f"dec_l{l}_b", bias_init(c.init), (4 * h,)) for l in range(c.dec_layers)]
        self.attn = {k: self.param(f"attn_{k}", uniform_init(), shape)
                     for k, shape in attention.attention_param_shapes(c.attention, d_enc, h).items()}
        if not gnmt:
            self.w_combine = matrix("w_combine", (d_enc + h, h))
        self.w_pre = matrix("w_pre", (h, e)) if c.tie_output and h != e else None
        self.w_out = None if c.tie_output else matrix("w_out", (h, v))
        self.b_out = self.param("b_out", uniform_init() if c.init == "uniform" else nn.initializers.zeros, (v,))

    def _mm(self, x, w: matrices.Matrix):
        return w.apply(x, self.dtype)

    @jax.named_scope("dropout")
    def _dropout(self, x, train: bool, words: bool = False):
        """Dropout of x's elements; with `words`, then of whole vectors along its last axis (word dropout)."""
        for rate, shape in ((self.cfg.dropout, x.shape), (self.cfg.word_dropout * words, x.shape[:-1] + (1,))):
            if train and rate > 0.0:
                keep = jax.random.bernoulli(self.make_rng("dropout"), 1.0 - rate, shape)
                x = jnp.where(keep, x / (1.0 - rate), 0.0).astype(x.dtype)
        return x

    def encode(self, src: jax.Array, train: bool = False, projected: jax.Array | None = None) -> EncoderOutput:
        """src: [B, S] token ids (0 = padding) -> EncoderOutput. projected: `source_projection()` when the caller keeps
        it (no dropout), to look the first layer's input projections up instead of computing them."""
        mask = src != PAD
        x = self._dropout(self.src_embed(src), train, words=True)
        gates = None if projected is None else tuple(jnp.take(projected[d], src.T, axis=0) for d in range(2))
        enc = self.encoder(x.astype(self.dtype), mask, train, gates).astype(self.dtype)
        return EncoderOutput(attention.project_keys(self.attn, self.cfg.attention, enc), enc, mask)

    def zero_state(self, memory: EncoderOutput, beam: int | None = None) -> DecState:
        """Zero state, [B, ...] or with a beam axis [B, beam, ...]."""
        lead = (memory.mask.shape[0],) if beam is None else (memory.mask.shape[0], beam)
        l, h = self.cfg.dec_layers, self.cfg.hidden
        zeros = lambda *shape: jnp.zeros(lead + shape, self.state_dtype)
        return DecState(zeros(l, h), zeros(l, h), zeros(h if self.cfg.decoder == "luong" else 0))

    def _step(self, memory: EncoderOutput, state: DecState, emb_gates: jax.Array, drop: jax.Array | None):
        """One decoder step. emb_gates: [B, (K,) 4H] projected embedding; drop: [L-1, B, H] dropout scales or None.

        Returns (new state, attentional hidden [B, (K,) H], attention probs [B, (K,) S]).
        """
        hs, cs = [], []
        x = state.feed
        with jax.named_scope("recurrence"):
            for l in range(self.cfg.dec_layers):
                gates = self._mm(jnp.concatenate([x, state.h[..., l, :]], -1), self.dec_w[l])
                gates = gates + self.dec_b[l].astype(self.dtype)
                if l == 0:
                    gates = gates + emb_gates
                h, c = lstm_update(gates, state.c[..., l, :])
                h, c = checkpoint_name(h, "dec_h"), checkpoint_name(c, "dec_c")
                hs.append(h)
                cs.append(c)
                out = h + x if l >= 2 else h  # residual from the third layer up
                x = out if drop is None or l == self.cfg.dec_layers - 1 else out * drop[l]
        with jax.named_scope("attention"):
            query = x.astype(self.dtype)
            ctx, probs = attention.attend(self.attn, self.cfg.attention, query, memory.keys, memory.values,
                                          memory.mask, recompute=self.cfg.attention_impl == "recompute")
            feed = jnp.tanh(self._mm(jnp.concatenate([ctx, query], -1), self.w_combine)).astype(self.state_dtype)
            feed = checkpoint_name(feed, "attn_hidden")
        return DecState(jnp.stack(hs, -2), jnp.stack(cs, -2), feed), feed, probs

    def output_weights(self, ids: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The output layer restricted to the tokens `ids`, [N] (a shortlist shared by a batch) or [B, N] (one per
        sentence), gathered once before a search: (weights [(B,) E', N] in the compute dtype, bias [(B,) N])."""
        w = self.tgt_embed.table if self.cfg.tie_output else self.w_out.t()
        return jnp.swapaxes(w.rows(ids, self.dtype), -1, -2), jnp.take(self.b_out, ids, axis=0)

    def output_logits(self, hidden: jax.Array, weights: tuple[jax.Array, jax.Array] | None = None) -> jax.Array:
        """hidden: [B, ..., H] attentional states -> logits [B, ..., V] (float32), or [B, ..., N] over a shortlist's
        tokens with `weights` from `output_weights`."""
        if self.cfg.tie_output:
            x = self._mm(hidden, self.w_pre) if self.w_pre is not None else hidden.astype(self.dtype)
        else:
            x = hidden.astype(self.dtype)
        if weights is not None:
            w, b = weights
            if w.ndim == 2:
                return (x @ w).astype(self.state_dtype) + b
            # One list per sentence: [E', N] of each sentence, the layout that its batched product reads fastest.
            logits = jnp.einsum("b...e,ben->b...n", x, w).astype(self.state_dtype)
            return logits + b.reshape(b.shape[:1] + (1,) * (x.ndim - 2) + b.shape[1:])
        logits = self.tgt_embed.table.apply_t(x, self.dtype) if self.cfg.tie_output else self._mm(x, self.w_out)
        return logits.astype(self.state_dtype) + self.b_out

    def embedding_projection(self) -> jax.Array:
        """Every target embedding projected for the first decoder layer, [V, 4H]: made once per parameters, it
        turns a decoding step's input projection into a row lookup."""
        return self._mm(self.tgt_embed.table.value(self.dtype), self.dec_w_emb)

    def source_projection(self) -> jax.Array:
        """[2, V, 4H]: every source embedding projected for the encoder's first layer, forward and backward, bias
        included; made once per parameters like `embedding_projection`."""
        emb = self.src_embed.table.value(self.dtype)
        layers = [self.encoder.variables["params"][f"l0_{d}"] for d in ("fwd", "bwd")]
        return jnp.stack([emb @ p["w_x"].astype(self.dtype) + p["b"].astype(self.dtype) for p in layers])

    def step(self, memory: EncoderOutput, state: DecState, tokens: jax.Array,
             weights: tuple[jax.Array, jax.Array] | None = None,
             projected: jax.Array | None = None) -> tuple[DecState, jax.Array, jax.Array]:
        """Decoding step (no dropout). tokens: [B] or [B, K] previous outputs -> (state, logits [B, (K,) V],
        attention [B, (K,) S]); with a shortlist's `weights` (see `output_weights`) the logits are [B, (K,) N];
        `projected` is `embedding_projection()` when the caller keeps it."""
        if projected is None:
            emb_gates = self._mm(self.tgt_embed(tokens), self.dec_w_emb)
        else:
            emb_gates = jnp.take(projected, tokens, axis=0)
        if self.cfg.decoder == "gnmt":
            h, c, hidden, probs = gnmt_decoder.step(self, memory, state.h, state.c, emb_gates)
            state = DecState(h, c, state.feed)
        else:
            state, hidden, probs = self._step(memory, state, emb_gates, None)
        return state, self.output_logits(hidden, weights), probs

    @jax.named_scope("dropout")
    def _dropout_scales(self, key: jax.Array, steps: jax.Array, batch: int):
        """Dropout scales (0 or 1/keep) of the decoder's embedding, inner layers and output at the given steps.

        Drawn from fold_in(key, step), so a chunked scan draws exactly what a whole-sequence pass draws.
        steps: [n] -> ([n, B, E], [n, L-1, B, H], [n, B, H]).
        """
        c, keep = self.cfg, 1.0 - self.cfg.dropout

        def one(step):
            k_emb, k_layers, k_out = jax.random.split(jax.random.fold_in(key, step), 3)
            scale = lambda k, shape, keep=keep: jax.random.bernoulli(k, keep, shape).astype(self.dtype) / keep
            emb = scale(k_emb, (batch, c.emb))
            if c.word_dropout > 0:  # a key of its own, so that the other draws stay what they are without it
                emb = emb * scale(jax.random.fold_in(k_emb, 1), (batch, 1), 1.0 - c.word_dropout)
            return emb, scale(k_layers, (c.dec_layers - 1, batch, c.hidden)), scale(k_out, (batch, c.hidden))
        return jax.vmap(one)(steps)

    def _teacher_steps(self, memory: EncoderOutput, state: DecState, tokens: jax.Array, steps: jax.Array,
                       key: jax.Array | None, remat: str, return_attention: bool = False):
        """Teacher-forced decoder over n consecutive steps.

        Args:
          tokens: [n, B] decoder inputs, step-major; steps: [n] their positions (for the dropout stream);
          key: dropout key, None without dropout; remat: the policy for this scan over steps.
        Returns:
          (state, attentional states [n, B, H] with output dropout applied, attention probs [n, B, S] or None).
        """
        emb = self.tgt_embed(tokens)
        drop = out_drop = None
        if key is not None:
            emb_drop, drop, out_drop = self._dropout_scales(key, steps, tokens.shape[1])
            emb = emb * emb_drop
        with jax.named_scope("input_projection"):
            emb_gates = self._mm(emb, self.dec_w_emb)

        def body(state, inputs):
            g, d = inputs
            state, hidden, probs = self._step(memory, state, g, d)
            return state, (hidden, probs if return_attention else None)

        state, (hidden, probs) = policies.scan(body, state, (emb_gates, drop), remat, unroll=self.cfg.unroll)
        if out_drop is not None:
            hidden = hidden * out_drop
        return state, hidden, probs

    def _dropout_key(self, train: bool) -> jax.Array | None:
        return self.make_rng("dropout") if train and max(self.cfg.dropout, self.cfg.word_dropout) > 0 else None

    def decode_teacher(self, memory: EncoderOutput, tgt_in: jax.Array, train: bool = False,
                       return_attention: bool = False):
        """Teacher-forced decoder. tgt_in: [B, T] (bos + target) -> attentional states [B, T, H], output dropout
        applied when training (and attention probabilities [B, T, S] when return_attention)."""
        if self.cfg.decoder == "gnmt":
            hidden, probs = self._gnmt_teacher(memory, tgt_in, train)
            return (hidden.transpose(1, 0, 2), probs) if return_attention else hidden.transpose(1, 0, 2)
        steps = jnp.arange(tgt_in.shape[1])
        _, hidden, probs = self._teacher_steps(memory, self.zero_state(memory), tgt_in.T, steps,
                                               self._dropout_key(train), self.cfg.remat, return_attention)
        if return_attention:
            return hidden.transpose(1, 0, 2), probs.transpose(1, 0, 2)
        return hidden.transpose(1, 0, 2)

    def _gnmt_teacher(self, memory: EncoderOutput, tgt_in: jax.Array, train: bool):
        """The gnmt decoder over all steps: (top layer's output [T, B, H] with output dropout, probs [B, T, S])."""
        emb = self._dropout(self.tgt_embed(tgt_in.T), train, words=True)
        hidden, probs = gnmt_decoder.teacher(self, memory, emb, lambda x: self._dropout(x, train), self.cfg.remat,
                                             self.cfg.unroll)
        return self._dropout(hidden, train), probs

    def __call__(self, src: jax.Array, tgt_in: jax.Array, train: bool = False) -> jax.Array:
        """src: [B, S], tgt_in: [B, T] -> logits [B, T, V] (float32)."""
        return self.output_logits(self.decode_teacher(self.encode(src, train), tgt_in, train))

    def loss(self, src: jax.Array, tgt_in: jax.Array, tgt_out: jax.Array, train: bool = False,
             smoothing: float = 0.0) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Training loss without materialising more logits than needed.

        Under `remat=sqrt_t` the decoder, the output layer and the loss run chunk by chunk inside one checkpointed
        scan, so `[T, B, V]` logits never exist at once (forward or backward); otherwise in one piece.

        Args:
          src: [B, S]; tgt_in, tgt_out: [B, T] (0 = padding).
        Returns:
          (label-smoothed loss sum, nll sum, target tokens), as `token_loss`.
        """
        memory = self.encode(src, train)
        chunked = policies.chunked(self.cfg.remat)
        if self.cfg.decoder == "gnmt":
            return self._gnmt_loss(memory, tgt_in, tgt_out, train, smoothing, chunked)
        key = self._dropout_key(train)

        def chunk(carry, xs):
            state, sums = carry
            tokens, targets, steps = xs
            state, hidden, _ = self._teacher_steps(memory, state, tokens, steps, key,
                                                   "none" if chunked else self.cfg.remat)
            with jax.named_scope("output_and_loss"):
                part = token_loss(self.output_logits(hidden), targets, smoothing)
            return (state, tuple(a + b for a, b in zip(sums, part))), None

        zero = jnp.zeros((), self.state_dtype)
        carry = (self.zero_state(memory), (zero, zero, zero))
        xs = (tgt_in.T, tgt_out.T, jnp.arange(tgt_in.shape[1]))
        (_, sums), _ = policies.chunked_scan(chunk, carry, xs) if chunked else chunk(carry, xs)
        return sums

    def _gnmt_loss(self, memory, tgt_in, tgt_out, train, smoothing, chunked):
        """The gnmt decoder's loss: its layers run over the whole sequence; the output layer and the loss chunk by
        chunk under a chunked policy, as the Luong decoder's."""
        hidden, _ = self._gnmt_teacher(memory, tgt_in, train)

        def chunk(sums, xs):
            with jax.named_scope("output_and_loss"):
                part = token_loss(self.output_logits(xs[0]), xs[1], smoothing)
            return tuple(a + b for a, b in zip(sums, part)), None

        zero = jnp.zeros((), self.state_dtype)
        xs = (hidden, tgt_out.T)
        return (policies.chunked_scan(chunk, (zero,) * 3, xs) if chunked else chunk((zero,) * 3, xs))[0]
