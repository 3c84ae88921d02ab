"""The decoder with input feeding (Luong et al. 2015), written around one step.

Each step's first layer reads [previous attentional state | its own h] besides the embedding, so the recurrence runs
step by step; attention reads the top layer's output, and the attentional state tanh(W [context | query]) is what the
output layer reads and what the next step is fed. The same `_step` serves teacher forcing (under `lax.scan`) and
decoding (`step`), so training and search cannot drift apart. Dropout of the embedding, between layers and of the
output is drawn per step from fold_in(key, step), so a chunked scan draws exactly what a whole-sequence pass draws.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.ad_checkpoint import checkpoint_name

from nmt.model import policies
from nmt.model.decoder import Decoder, DecState, EncoderOutput, encoder_dim
from nmt.model.lstm import lstm_update
from nmt.utils import wide_dtype


class LuongDecoder(Decoder):
    @property
    def feed_dim(self) -> int:
        return self.cfg.hidden

    def setup(self):
        h = self.cfg.hidden
        self.declare(lambda l: 2 * h)  # layer 0 reads [feed | h], the others [x | h]; the embedding comes projected
        self.w_combine = self.matrix("w_combine", (encoder_dim(self.cfg) + h, h))

    def _step(self, memory: EncoderOutput, state: DecState, gates: jax.Array, drop: jax.Array | None):
        """One step. gates: [B, (K,) 4H] the embedding's projection; drop: [L-1, B, H] dropout scales or None.

        Returns (new state, attentional state [B, (K,) H], attention probs [B, (K,) S]).
        """
        hs, cs = [], []
        x = state.feed
        with jax.named_scope("recurrence"):
            for l in range(self.cfg.dec_layers):
                g = self.w[l].apply(jnp.concatenate([x, state.h[..., l, :]], -1), self.dtype)
                g = g + self.b[l].astype(self.dtype)
                if l == 0:
                    g = g + gates
                h, c = lstm_update(g, state.c[..., l, :])
                h, c = checkpoint_name(h, "dec_h"), checkpoint_name(c, "dec_c")
                hs.append(h)
                cs.append(c)
                out = h + x if l >= 2 else h  # residual from the third layer up
                x = out if drop is None or l == self.cfg.dec_layers - 1 else out * drop[l]
        with jax.named_scope("attention"):
            query = x.astype(self.dtype)
            ctx, probs = self.attend(memory, query)
            feed = jnp.tanh(self.w_combine.apply(jnp.concatenate([ctx, query], -1), self.dtype))
            feed = checkpoint_name(feed.astype(wide_dtype(self.dtype)), "attn_hidden")
        return DecState(jnp.stack(hs, -2), jnp.stack(cs, -2), feed), feed, probs

    def step(self, memory: EncoderOutput, state: DecState, tokens: jax.Array, projected: jax.Array | None = None):
        return self._step(memory, state, self.token_gates(tokens, projected), None)

    @jax.named_scope("dropout")
    def _dropout_scales(self, key: jax.Array, steps: jax.Array, batch: int):
        """Dropout scales (0 or 1/keep) of the embedding, inner layers and output at the given steps.

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

    def _steps(
        self,
        memory: EncoderOutput,
        state: DecState,
        tokens: jax.Array,
        steps: jax.Array,
        key: jax.Array | None,
        remat: str,
        return_attention: bool = False,
    ):
        """Teacher-forced over n consecutive steps. tokens: [n, B] their inputs, steps: [n] their positions (for the
        dropout stream), key: the dropout key or None, remat: the policy of this scan over steps.

        Returns (state, attentional states [n, B, H] with output dropout, attention probs [n, B, S] or None)."""
        emb = self.embed(tokens)
        drop = out_drop = None
        if key is not None:
            emb_drop, drop, out_drop = self._dropout_scales(key, steps, emb.shape[1])
            emb = emb * emb_drop
        gates = self.input_gates(emb)

        def body(state, inputs):
            g, d = inputs
            state, hidden, probs = self._step(memory, state, g, d)
            return state, (hidden, probs if return_attention else None)

        state, (hidden, probs) = policies.scan(body, state, (gates, drop), remat, unroll=self.cfg.unroll)
        if out_drop is not None:
            hidden = hidden * out_drop
        return state, hidden, probs

    def _dropout_key(self, train: bool) -> jax.Array | None:
        return self.make_rng("dropout") if train and max(self.cfg.dropout, self.cfg.word_dropout) > 0 else None

    def teacher_forced(
        self, memory: EncoderOutput, tokens: jax.Array, train: bool = False, return_attention: bool = False
    ):
        _, hidden, probs = self._steps(
            memory,
            self.zero_state(memory),
            tokens,
            jnp.arange(tokens.shape[0]),
            self._dropout_key(train),
            self.cfg.remat,
            return_attention,
        )
        return hidden, None if probs is None else probs.transpose(1, 0, 2)

    def loss_sums(self, memory: EncoderOutput, tokens: jax.Array, targets: jax.Array, train: bool, output_loss):
        """Under a chunked policy (`sqrt_t`) the steps, the output layer and the loss run chunk by chunk inside one
        checkpointed scan, so `[T, B, V]` logits never exist at once; otherwise in one piece. output_loss(outputs
        [n, B, H], targets [n, B]) -> (loss, nll, tokens) sums."""
        chunked = policies.chunked(self.cfg.remat)
        key = self._dropout_key(train)

        def chunk(carry, xs):
            state, sums = carry
            inputs, outputs, steps = xs
            state, hidden, _ = self._steps(memory, state, inputs, steps, key, "none" if chunked else self.cfg.remat)
            return (state, tuple(a + b for a, b in zip(sums, output_loss(hidden, outputs)))), None

        zero = jnp.zeros((), wide_dtype(self.dtype))
        carry = (self.zero_state(memory), (zero, zero, zero))
        xs = (tokens, targets, jnp.arange(tokens.shape[0]))
        (_, sums), _ = policies.chunked_scan(chunk, carry, xs) if chunked else chunk(carry, xs)
        return sums
