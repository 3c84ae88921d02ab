"""Encoder–attention–decoder with input feeding (Luong et al. 2015), written around one decoder step.

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
from nmt.model import attention
from nmt.memory.policies import checkpointed
from nmt.model.lstm import Encoder, lstm_bias_init, lstm_update, state_dtype, uniform_init


@flax.struct.dataclass
class Memory:
    """Encoder output, loop-invariant during decoding."""
    keys: jax.Array  # [B, S, H]   projected for the attention score
    values: jax.Array  # [B, S, D_enc]
    mask: jax.Array  # [B, S] bool


@flax.struct.dataclass
class DecState:
    """Batch-first, so beam search can carry a beam axis after the batch: [B, K, ...]."""
    h: jax.Array  # [B, L, H]
    c: jax.Array  # [B, L, H]
    feed: jax.Array  # [B, H]   attentional hidden state of the previous step (input feeding)


def encoder_dim(cfg: ModelConfig) -> int:
    return 2 * cfg.hidden if cfg.enc_layers == 1 else cfg.hidden


class Seq2Seq(nn.Module):
    cfg: ModelConfig
    vocab_size: int

    def setup(self):
        c, v = self.cfg, self.vocab_size
        h, e, d_enc = c.hidden, c.emb, encoder_dim(c)
        self.dtype = jnp.dtype(c.dtype)
        self.state_dtype = state_dtype(self.dtype)
        self.src_embed = nn.Embed(v, e, embedding_init=nn.initializers.normal(0.1), name="src_embed")
        self.tgt_embed = nn.Embed(v, e, embedding_init=nn.initializers.normal(0.1), name="tgt_embed")
        self.encoder = Encoder(h, c.enc_layers, c.dropout, self.dtype, c.remat)
        # Layer 0 reads [embedding | feed | h]; the embedding part is projected for all steps before the scan.
        self.dec_w_emb = self.param("dec_w_emb", uniform_init(), (e, 4 * h))
        self.dec_w = [self.param(f"dec_l{l}_w", uniform_init(), (2 * h, 4 * h)) for l in range(c.dec_layers)]
        self.dec_b = [self.param(f"dec_l{l}_b", lstm_bias_init, (4 * h,)) for l in range(c.dec_layers)]
        self.attn = {k: self.param(f"attn_{k}", uniform_init(), shape)
                     for k, shape in attention.attention_param_shapes(c.attention, d_enc, h).items()}
        self.w_combine = self.param("w_combine", uniform_init(), (d_enc + h, h))
        if c.tie_output:
            self.w_pre = self.param("w_pre", uniform_init(), (h, e)) if h != e else None
        else:
            self.w_out = self.param("w_out", uniform_init(), (h, v))
        self.b_out = self.param("b_out", nn.initializers.zeros, (v,))

    def _mm(self, x, w):
        return x.astype(self.dtype) @ w.astype(self.dtype)

    def _dropout(self, x, train: bool):
        rate = self.cfg.dropout
        if not train or rate == 0.0:
            return x
        keep = jax.random.bernoulli(self.make_rng("dropout"), 1.0 - rate, x.shape)
        return jnp.where(keep, x / (1.0 - rate), 0.0).astype(x.dtype)

    def encode(self, src: jax.Array, train: bool = False) -> Memory:
        """src: [B, S] token ids (0 = padding) -> Memory."""
        mask = src != PAD
        x = self._dropout(self.src_embed(src), train)
        enc = self.encoder(x.astype(self.dtype), mask, train).astype(self.dtype)
        return Memory(attention.project_keys(self.attn, self.cfg.attention, enc), enc, mask)

    def init_state(self, memory: Memory, beam: int | None = None) -> DecState:
        """Zero state, [B, ...] or with a beam axis [B, beam, ...]."""
        lead = (memory.mask.shape[0],) if beam is None else (memory.mask.shape[0], beam)
        l, h = self.cfg.dec_layers, self.cfg.hidden
        zeros = lambda *shape: jnp.zeros(lead + shape, self.state_dtype)
        return DecState(zeros(l, h), zeros(l, h), zeros(h))

    def _step(self, memory: Memory, state: DecState, gx0: jax.Array, drop: jax.Array | None):
        """One decoder step. gx0: [B, (K,) 4H] projected embedding; drop: [L-1, B, H] dropout scales or None.

        Returns (new state, attentional hidden [B, (K,) H], attention probs [B, (K,) S]).
        """
        hs, cs = [], []
        x = state.feed
        for l in range(self.cfg.dec_layers):
            gates = self._mm(jnp.concatenate([x, state.h[..., l, :]], -1), self.dec_w[l])
            gates = gates + self.dec_b[l].astype(self.dtype)
            if l == 0:
                gates = gates + gx0
            h, c = lstm_update(gates, state.c[..., l, :])
            h, c = checkpoint_name(h, "dec_h"), checkpoint_name(c, "dec_c")
            hs.append(h)
            cs.append(c)
            out = h + x if l >= 2 else h  # residual from the third layer up
            x = out if drop is None or l == self.cfg.dec_layers - 1 else out * drop[l]
        query = x.astype(self.dtype)
        ctx, probs = attention.attend(self.attn, self.cfg.attention, query, memory.keys, memory.values, memory.mask,
                                      recompute=self.cfg.attention_impl == "recompute")
        feed = jnp.tanh(self._mm(jnp.concatenate([ctx, query], -1), self.w_combine)).astype(self.state_dtype)
        feed = checkpoint_name(feed, "attn_hidden")
        return DecState(jnp.stack(hs, -2), jnp.stack(cs, -2), feed), feed, probs

    def output_logits(self, hidden: jax.Array) -> jax.Array:
        """hidden: [..., H] attentional states -> logits [..., V] (float32)."""
        if self.cfg.tie_output:
            x = self._mm(hidden, self.w_pre) if self.w_pre is not None else hidden.astype(self.dtype)
            logits = self._mm(x, self.tgt_embed.embedding.T)
        else:
            logits = self._mm(hidden, self.w_out)
        return logits.astype(self.state_dtype) + self.b_out

    def step(self, memory: Memory, state: DecState, tokens: jax.Array) -> tuple[DecState, jax.Array, jax.Array]:
        """Decoding step (no dropout). tokens: [B] or [B, K] previous outputs -> (state, logits [B, (K,) V],
        attention [B, (K,) S])."""
        gx0 = self._mm(self.tgt_embed(tokens), self.dec_w_emb)
        state, hidden, probs = self._step(memory, state, gx0, None)
        return state, self.output_logits(hidden), probs

    def decode_teacher(self, memory: Memory, tgt_in: jax.Array, train: bool = False,
                       return_attention: bool = False):
        """Teacher-forced decoder. tgt_in: [B, T] (bos + target) -> attentional states [B, T, H]
        (and attention probabilities [B, T, S] when return_attention)."""
        b, t = tgt_in.shape
        emb = self._dropout(self.tgt_embed(tgt_in), train)
        gx0 = jnp.einsum("bte,eg->tbg", emb.astype(self.dtype), self.dec_w_emb.astype(self.dtype))
        l, h = self.cfg.dec_layers, self.cfg.hidden
        if train and self.cfg.dropout > 0 and l > 1:
            keep = 1.0 - self.cfg.dropout
            drop = jax.random.bernoulli(self.make_rng("dropout"), keep, (t, l - 1, b, h)) / keep
        else:
            drop = None

        def body(state, inputs):
            g, d = inputs
            state, hidden, probs = self._step(memory, state, g, d)
            return state, (hidden, probs) if return_attention else hidden

        _, out = jax.lax.scan(checkpointed(body, self.cfg.remat), self.init_state(memory), (gx0, drop))
        if return_attention:
            return out[0].transpose(1, 0, 2), out[1].transpose(1, 0, 2)
        return out.transpose(1, 0, 2)

    def __call__(self, src: jax.Array, tgt_in: jax.Array, train: bool = False) -> jax.Array:
        """src: [B, S], tgt_in: [B, T] -> logits [B, T, V] (float32)."""
        memory = self.encode(src, train)
        hidden = self.decode_teacher(memory, tgt_in, train)
        return self.output_logits(self._dropout(hidden, train))
