"""Encoder–attention–decoder: the embeddings, the encoder (nmt/model/lstm.py), a decoder (`model.decoder`: Luong's
with input feeding, nmt/model/luong_decoder.py, or GNMT v2's, nmt/model/gnmt_decoder.py) and the output layer.

The decoder is chosen here and nowhere else; it shares this module's scope, so its parameters keep their flat names.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from nmt.config import ModelConfig
from nmt.data.vocab import PAD
from nmt.model import matrices
from nmt.model.decoder import DecState, EncoderOutput, dropout
from nmt.model.gnmt_decoder import GNMTDecoder
from nmt.model.loss import token_loss
from nmt.model.lstm import Encoder, uniform_init
from nmt.model.luong_decoder import LuongDecoder
from nmt.utils import wide_dtype

DECODERS = {"luong": LuongDecoder, "gnmt": GNMTDecoder}


class Seq2Seq(nn.Module):
    cfg: ModelConfig
    vocab_size: int

    def setup(self):
        c, v = self.cfg, self.vocab_size
        self.dtype = jnp.dtype(c.dtype)
        embed_init = uniform_init() if c.init == "uniform" else nn.initializers.normal(0.1)
        form = lambda name: matrices.form_of(c, name)  # full, or as nmt.compress stores it
        self.tgt_embed = matrices.Embed(v, c.emb, embed_init, *form("tgt_embed"), name="tgt_embed")
        self.src_embed = (
            self.tgt_embed if c.share_embeddings else matrices.Embed(v, c.emb, embed_init, name="src_embed")
        )
        self.encoder = Encoder(
            c.hidden,
            c.enc_layers,
            c.dropout,
            self.dtype,
            c.remat,
            c.encoder,
            c.init,
            c.unroll,
            c.fuse_directions,
            c.encoder_impl,
        )
        self.decoder = DECODERS[c.decoder](c, self.tgt_embed)
        nn.share_scope(self, self.decoder)
        self.output = OutputLayer(c, v, self.tgt_embed)
        nn.share_scope(self, self.output)

    def encode(self, src: jax.Array, train: bool = False, projected: jax.Array | None = None) -> EncoderOutput:
        """src: [B, S] token ids (0 = padding) -> EncoderOutput. projected: `source_projection()` when the caller keeps
        it (no dropout), to look the first layer's input projections up instead of computing them."""
        mask = src != PAD
        x = dropout(self, self.src_embed(src), self.cfg.dropout, train, self.cfg.word_dropout)
        gates = None if projected is None else tuple(jnp.take(projected[d], src.T, axis=0) for d in range(2))
        enc = self.encoder(x.astype(self.dtype), mask, train, gates).astype(self.dtype)
        return self.decoder.memory(enc, mask)

    def zero_state(self, memory: EncoderOutput, beam: int | None = None) -> DecState:
        """The decoder's zero state, [B, ...] or with a beam axis [B, beam, ...]."""
        return self.decoder.zero_state(memory, beam)

    def step(
        self,
        memory: EncoderOutput,
        state: DecState,
        tokens: jax.Array,
        weights: tuple[jax.Array, jax.Array] | None = None,
        projected: jax.Array | None = None,
    ) -> tuple[DecState, jax.Array, jax.Array]:
        """Decoding step (no dropout). tokens: [B] or [B, K] previous outputs -> (state, logits [B, (K,) V],
        attention [B, (K,) S]); with a shortlist's `weights` (see `output_weights`) the logits are [B, (K,) N];
        `projected` is `embedding_projection()` when the caller keeps it."""
        state, hidden, probs = self.decoder.step(memory, state, tokens, projected)
        return state, self.output(hidden, weights), probs

    def output_weights(self, ids: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self.output.weights(ids)

    def output_logits(self, hidden: jax.Array, weights: tuple[jax.Array, jax.Array] | None = None) -> jax.Array:
        return self.output(hidden, weights)

    def embedding_projection(self) -> jax.Array:
        """[V, 4H]: the decoder's input projection of every target embedding (`Decoder.embedding_projection`)."""
        return self.decoder.embedding_projection()

    def source_projection(self) -> jax.Array:
        """[2, V, 4H]: the encoder's first-layer input projection of every source embedding
        (`Encoder.source_projection`)."""
        return self.encoder.source_projection(self.src_embed.table.value(self.dtype))

    def decode_teacher(
        self, memory: EncoderOutput, tgt_in: jax.Array, train: bool = False, return_attention: bool = False
    ):
        """Teacher-forced decoder. tgt_in: [B, T] (bos + target) -> outputs [B, T, H], output dropout applied when
        training (and attention probabilities [B, T, S] when return_attention)."""
        hidden, probs = self.decoder.teacher_forced(memory, tgt_in.T, train, return_attention)
        return (hidden.transpose(1, 0, 2), probs) if return_attention else hidden.transpose(1, 0, 2)

    def __call__(self, src: jax.Array, tgt_in: jax.Array, train: bool = False) -> jax.Array:
        """src: [B, S], tgt_in: [B, T] -> logits [B, T, V] (float32)."""
        return self.output(self.decode_teacher(self.encode(src, train), tgt_in, train))

    def loss(
        self, src: jax.Array, tgt_in: jax.Array, tgt_out: jax.Array, train: bool = False, smoothing: float = 0.0
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Training loss without materialising more logits than needed (`Decoder.loss_sums`).

        Args:
          src: [B, S]; tgt_in, tgt_out: [B, T] (0 = padding).
        Returns:
          (label-smoothed loss sum, nll sum, target tokens), as `token_loss`.
        """

        @jax.named_scope("output_and_loss")
        def output_loss(hidden, targets):
            return token_loss(self.output(hidden), targets, smoothing)

        return self.decoder.loss_sums(self.encode(src, train), tgt_in.T, tgt_out.T, train, output_loss)


class OutputLayer(nn.Module):
    """Attentional states -> logits: tied to the target embedding (through `w_pre` [H, E] when H != E) or its own
    `w_out` [H, V], and the bias `b_out`. Shares the scope of the Seq2Seq that holds it."""

    cfg: ModelConfig
    vocab_size: int
    embed: nn.Module  # the target embedding (matrices.Embed), read when tied

    def setup(self):
        c, h = self.cfg, self.cfg.hidden
        matrix = lambda name, shape: matrices.declare(self, name, shape, uniform_init(), *matrices.form_of(c, name))
        self.w_pre = matrix("w_pre", (h, c.emb)) if c.tie_output and h != c.emb else None
        self.w_out = None if c.tie_output else matrix("w_out", (h, self.vocab_size))
        self.b_out = self.param(
            "b_out", uniform_init() if c.init == "uniform" else nn.initializers.zeros, (self.vocab_size,)
        )

    @property
    def dtype(self):
        return jnp.dtype(self.cfg.dtype)

    def weights(self, ids: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The output layer restricted to the tokens `ids`, [N] (a shortlist shared by a batch) or [B, N] (one per
        sentence), gathered once before a search: (weights [(B,) E', N] in the compute dtype, bias [(B,) N])."""
        w = self.embed.table if self.cfg.tie_output else self.w_out.t()
        return jnp.swapaxes(w.rows(ids, self.dtype), -1, -2), jnp.take(self.b_out, ids, axis=0)

    def __call__(self, hidden: jax.Array, weights: tuple[jax.Array, jax.Array] | None = None) -> jax.Array:
        """hidden: [B, ..., H] attentional states -> logits [B, ..., V] (float32), or [B, ..., N] over a shortlist's
        tokens with `weights` from `weights(ids)`."""
        state_dtype = wide_dtype(self.dtype)
        if self.cfg.tie_output and self.w_pre is not None:
            x = self.w_pre.apply(hidden, self.dtype)
        else:
            x = hidden.astype(self.dtype)
        if weights is not None:
            w, b = weights
            if w.ndim == 2:
                return (x @ w).astype(state_dtype) + b
            # One list per sentence: [E', N] of each sentence, the layout that its batched product reads fastest.
            logits = jnp.einsum("b...e,ben->b...n", x, w).astype(state_dtype)
            return logits + b.reshape(b.shape[:1] + (1,) * (x.ndim - 2) + b.shape[1:])
        logits = self.embed.table.apply_t(x, self.dtype) if self.cfg.tie_output else self.w_out.apply(x, self.dtype)
        return logits.astype(state_dtype) + self.b_out
