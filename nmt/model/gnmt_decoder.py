"""The GNMT-v2 decoder (`model.decoder=gnmt`), as in NVIDIA's GNMT v2 after Wu et al. 2016.

Attention reads the first decoder layer's output and nothing is fed back into the recurrence, so in training the
first layer is a plain LSTM over the target sequence, attention runs for every target position in one batched
product after it, and each upper layer is a plain LSTM over [layer below | context] whose input projection covers
the whole sequence in one matmul. Only the recurrent products stay sequential. The output layer reads the top
layer's output (there is no combine layer).

Layer 0 reads the embedding (`dec_w_emb`, projected before any scan) and its own state (`dec_l0_w`, [H, 4H]); layer
l >= 1 reads [x | context | h] (`dec_l{l}_w`, [2H + D_enc, 4H]). `teacher_forced` (all steps) and `step` (one
decoding step) compute the same function; a test holds them equal. Dropout: of the embedding (elements and whole
words), of each layer's input above the first, and of the output.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nmt.model import policies
from nmt.model.decoder import Decoder, DecState, EncoderOutput, dropout, encoder_dim
from nmt.model.lstm import lstm_update, project, scan_directions
from nmt.utils import wide_dtype


class GNMTDecoder(Decoder):
    def setup(self):
        h = self.cfg.hidden
        self.declare(lambda l: h if l == 0 else 2 * h + encoder_dim(self.cfg))

    def step(self, memory: EncoderOutput, state: DecState, tokens: jax.Array, projected: jax.Array | None = None):
        h, c = state.h, state.c
        hs, cs = [], []
        with jax.named_scope("recurrence"):
            gates = self.token_gates(tokens, projected) + self.b[0].astype(self.dtype)
            x, c0 = lstm_update(gates + self.w[0].apply(h[..., 0, :], self.dtype), c[..., 0, :])
        hs.append(x)
        cs.append(c0)
        with jax.named_scope("attention"):
            ctx, probs = self.attend(memory, x)
        with jax.named_scope("recurrence"):
            for l in range(1, self.cfg.dec_layers):
                inputs = jnp.concatenate([x.astype(self.dtype), ctx, h[..., l, :].astype(self.dtype)], -1)
                hl, cl = lstm_update(self.w[l].apply(inputs, self.dtype) + self.b[l].astype(self.dtype), c[..., l, :])
                hs.append(hl)
                cs.append(cl)
                x = hl + x if l >= 2 else hl
        return DecState(jnp.stack(hs, -2), jnp.stack(cs, -2), state.feed), x, probs

    def teacher_forced(
        self, memory: EncoderOutput, tokens: jax.Array, train: bool = False, return_attention: bool = False
    ):
        """Every step at once: (top layer's output [T, B, H] with output dropout, attention [B, T, S])."""
        c, dtype, h = self.cfg, self.dtype, self.cfg.hidden
        emb = dropout(self, self.embed(tokens), c.dropout, train, c.word_dropout)
        with jax.named_scope("input_projection"):
            gates0 = jnp.einsum("tbe,eg->tbg", emb.astype(dtype), self.w_emb.w.astype(dtype)) + self.b[0].astype(dtype)
        x = scan_directions(self.w[0].w.astype(dtype)[None], gates0, lambda g: g[:, None], dtype, c.remat, c.unroll)[
            :, 0
        ]
        with jax.named_scope("attention"):
            ctx, probs = self.attend(memory, x.transpose(1, 0, 2))
        ctx = ctx.transpose(1, 0, 2)
        for l in range(1, c.dec_layers):
            w, d_in = self.w[l].w, h + ctx.shape[-1]
            weights = (w[:d_in], None, self.b[l])
            gates_of = lambda parts, weights=weights: project(weights, parts, dtype)[:, None]
            inputs = (dropout(self, x, c.dropout, train), ctx)
            new = scan_directions(w[d_in:].astype(dtype)[None], inputs, gates_of, dtype, c.remat, c.unroll)[:, 0]
            x = new + x if l >= 2 else new  # residual from the third layer up, as the encoder's
        return dropout(self, x, c.dropout, train), probs

    def loss_sums(self, memory: EncoderOutput, tokens: jax.Array, targets: jax.Array, train: bool, output_loss):
        """The layers run over the whole sequence; the output layer and the loss chunk by chunk under a chunked
        policy, as the Luong decoder's."""
        outputs, _ = self.teacher_forced(memory, tokens, train)

        def chunk(sums, xs):
            return tuple(a + b for a, b in zip(sums, output_loss(*xs))), None

        zeros = (jnp.zeros((), wide_dtype(self.dtype)),) * 3
        xs = (outputs, targets)
        return (policies.chunked_scan(chunk, zeros, xs) if policies.chunked(self.cfg.remat) else chunk(zeros, xs))[0]
