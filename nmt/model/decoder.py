"""What every decoder is: the state it carries, the encoder output it attends to, and the weights and methods that
the Luong (input feeding, nmt/model/luong_decoder.py) and GNMT-v2 (nmt/model/gnmt_decoder.py) decoders share.

A decoder is a Flax module that shares the scope of the `Seq2Seq` holding it (`nn.share_scope`): it declares and
owns its weights (`dec_w_emb`, `dec_l<l>_w`, `dec_l<l>_b`, `attn_*`, ...) and its dropout, but its parameters keep
the flat names that runs have always been saved with. It reads the target embedding it is given (`embed`, the
table the output layer may share). Its interface:

  memory(enc, mask)                  -> EncoderOutput (the attention keys projected once per sentence)
  zero_state(memory, beam)           -> DecState
  embedding_projection()             -> [V, 4H]: the first layer's input projection of every target token, made once
                                        per parameters for decoding (a row lookup then replaces the product)
  step(memory, state, tokens, projected)
                                     -> (state, output [B, (K,) H], attention [B, (K,) S]): one decoding step
  teacher_forced(memory, tokens, train, return_attention)
                                     -> (outputs [T, B, H], attention [B, T, S] or None)
  loss_sums(memory, tokens, targets, train, output_loss)
                                     -> (loss, nll, tokens) sums; chunk by chunk under a chunked policy (`sqrt_t`)

where tokens and targets are time-major [T, B] and `output` is what the output layer reads.
"""

from __future__ import annotations

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp

from nmt.config import ModelConfig
from nmt.model import attention, matrices
from nmt.model.lstm import bias_init, uniform_init
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
    feed: jax.Array  # [B, F]   what the next step reads besides its token: input feeding's attentional state, [B, 0]
    # for a decoder without it


def encoder_dim(cfg: ModelConfig) -> int:
    return 2 * cfg.hidden if cfg.encoder == "gnmt" and cfg.enc_layers == 1 else cfg.hidden


def dropout(module: nn.Module, x: jax.Array, rate: float, train: bool, word_rate: float = 0.0) -> jax.Array:
    """Dropout of x's elements, then (word_rate) of whole vectors along its last axis: word dropout."""
    for r, shape in ((rate, x.shape), (word_rate, x.shape[:-1] + (1,))):
        if train and r > 0.0:
            keep = jax.random.bernoulli(module.make_rng("dropout"), 1.0 - r, shape)
            x = jnp.where(keep, x / (1.0 - r), 0.0).astype(x.dtype)
    return x


class Decoder(nn.Module):
    """The decoders' shared weights and methods; a subclass's `setup` calls `declare` with the input widths of its
    layers (the declaration order fixes each parameter's initial value)."""

    cfg: ModelConfig
    embed: nn.Module  # the target embedding (matrices.Embed)

    @property
    def feed_dim(self) -> int:
        """DecState.feed's width."""
        return 0

    @property
    def dtype(self):
        return jnp.dtype(self.cfg.dtype)

    def declare(self, layer_rows) -> None:
        """The embedding's projection, every layer's weights [rows, 4H] and bias, and the attention's parameters."""
        c, h = self.cfg, self.cfg.hidden
        self.w_emb = self.matrix("dec_w_emb", (c.emb, 4 * h))
        self.w = [self.matrix(f"dec_l{l}_w", (layer_rows(l), 4 * h)) for l in range(c.dec_layers)]
        self.b = [self.param(f"dec_l{l}_b", bias_init(c.init), (4 * h,)) for l in range(c.dec_layers)]
        self.attn = {
            k: self.param(f"attn_{k}", uniform_init(), shape)
            for k, shape in attention.attention_param_shapes(c.attention, encoder_dim(c), h).items()
        }

    def matrix(self, name: str, shape: tuple[int, int]) -> matrices.Matrix:
        """A weight matrix in the form the configuration gives it (full, or as nmt.compress stores it)."""
        return matrices.declare(self, name, shape, uniform_init(), *matrices.form_of(self.cfg, name))

    def memory(self, enc: jax.Array, mask: jax.Array) -> EncoderOutput:
        """enc: [B, S, D_enc] encoder states, mask [B, S] -> what the attention reads, keys projected once."""
        return EncoderOutput(attention.project_keys(self.attn, self.cfg.attention, enc), enc, mask)

    def attend(self, memory: EncoderOutput, query: jax.Array) -> tuple[jax.Array, jax.Array]:
        """query [B, (K,) H] -> (context [B, (K,) D_enc], probabilities [B, (K,) S])."""
        return attention.attend(
            self.attn,
            self.cfg.attention,
            query.astype(self.dtype),
            memory.keys,
            memory.values,
            memory.mask,
            recompute=self.cfg.attention_impl == "recompute",
        )

    def zero_state(self, memory: EncoderOutput, beam: int | None = None) -> DecState:
        """Zero state, [B, ...] or with a beam axis [B, beam, ...]."""
        lead = (memory.mask.shape[0],) if beam is None else (memory.mask.shape[0], beam)
        l, h = self.cfg.dec_layers, self.cfg.hidden
        zeros = lambda *shape: jnp.zeros(lead + shape, wide_dtype(self.dtype))
        return DecState(zeros(l, h), zeros(l, h), zeros(self.feed_dim))

    @jax.named_scope("input_projection")
    def input_gates(self, emb: jax.Array) -> jax.Array:
        """emb [..., E] target embeddings -> the first layer's gates from them, [..., 4H]."""
        return self.w_emb.apply(emb, self.dtype)

    def embedding_projection(self) -> jax.Array:
        return self.input_gates(self.embed.table.value(self.dtype))

    def token_gates(self, tokens: jax.Array, projected: jax.Array | None) -> jax.Array:
        """The first layer's gates from tokens [...]: looked up in `projected` (`embedding_projection()`) when the
        caller keeps it, else embedded and projected."""
        return self.input_gates(self.embed(tokens)) if projected is None else jnp.take(projected, tokens, axis=0)
