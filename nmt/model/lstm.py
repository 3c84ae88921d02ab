"""LSTM layers whose input projections run for all time steps in one matmul; only h @ W_h is sequential."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.ad_checkpoint import checkpoint_name

from nmt.model import policies
from nmt.utils import wide_dtype

Dtype = jnp.dtype


def uniform_init(scale: float = 0.1):
    base = nn.initializers.uniform(scale=2 * scale)
    return lambda key, shape, dtype=jnp.float32: base(key, shape, dtype) - scale


def lstm_bias_init(key, shape, dtype=jnp.float32):
    """Zero bias with the forget gate (second quarter) at 1, so early gradients flow through time."""
    h = shape[-1] // 4
    return jnp.zeros(shape, dtype).at[..., h:2 * h].set(1.0)


def lstm_update(gates: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Gate nonlinearities. gates: [B, 4H] (i, f, g, o), c: [B, H] -> (h, c), both [B, H]."""
    i, f, g, o = jnp.split(gates.astype(wide_dtype(gates.dtype)), 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return h, c


class LSTMLayer(nn.Module):
    """One unidirectional LSTM layer over a padded batch.

    Padding positions neither update the state nor produce output (zeros), so a reversed layer starts at each
    sentence's last real token even though sentences are right-padded.
    """
    hidden: int
    reverse: bool = False
    dtype: Dtype = jnp.float32
    remat: str = "none"

    @nn.compact
    def __call__(self, x, mask: jax.Array, gates: jax.Array | None = None) -> jax.Array:
        """Time-major. x: [T, B, D] or a tuple of [T, B, D_i] read as their concatenation (without building it: the
        bidirectional layer's two halves stay apart); mask: [T, B] bool -> [T, B, H].

        gates: [T, B, 4H], x's input projection (bias included) when the caller has it already (decoding looks the
        first layer's up in a table per token); then x gives only shapes."""
        x = x if isinstance(x, tuple) else (x,)
        d, h = sum(xi.shape[-1] for xi in x), self.hidden
        w_x = self.param("w_x", uniform_init(), (d, 4 * h))
        w_h = self.param("w_h", uniform_init(), (h, 4 * h))
        b = self.param("b", lstm_bias_init, (4 * h,))
        w_h = w_h.astype(self.dtype)
        offsets = [sum(xi.shape[-1] for xi in x[:i]) for i in range(len(x) + 1)]

        def project(parts):
            w = w_x.astype(self.dtype)
            return sum(jnp.einsum("tbd,dg->tbg", xi.astype(self.dtype), w[offsets[i]:offsets[i + 1]])
                       for i, xi in enumerate(parts)) + b.astype(self.dtype)

        def step(carry, inputs):
            h_prev, c_prev = carry
            g, m = inputs
            h_new, c_new = lstm_update(g + h_prev.astype(self.dtype) @ w_h, c_prev)
            h_new, c_new = checkpoint_name(h_new, "lstm_h"), checkpoint_name(c_new, "lstm_c")
            m = m[:, None]
            h_new, c_new = jnp.where(m, h_new, h_prev), jnp.where(m, c_new, c_prev)
            return (h_new, c_new), jnp.where(m, h_new, 0.0)

        zeros = jnp.zeros((mask.shape[1], h), wide_dtype(self.dtype))
        xs = (x, mask)
        if policies.chunked(self.remat) and gates is None:
            # The input projection of all steps at once would be a [T, B, 4H] residual: project chunk by chunk.
            chunk = lambda carry, xm: jax.lax.scan(step, carry, (project(xm[0]), xm[1]), reverse=self.reverse)
            _, out = policies.chunked_scan(chunk, (zeros, zeros), xs, reverse=self.reverse)
        else:
            gates = project(x) if gates is None else gates
            _, out = policies.scan(step, (zeros, zeros), (gates, mask), self.remat, reverse=self.reverse)
        return out


class Encoder(nn.Module):
    """Stacked LSTM encoder: bidirectional first layer (directions concatenated, 2H), then unidirectional H;
    residual connections from the third layer up."""
    hidden: int
    layers: int
    dropout: float
    dtype: Dtype = jnp.float32
    remat: str = "none"

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array, train: bool, gates: tuple | None = None) -> jax.Array:
        """x: [B, S, E] embedded source, mask: [B, S] -> [B, S, H] (2H when layers == 1); gates: the first layer's
        input projections of x (forward, backward), each [S, B, 4H], when the caller has them."""
        x, mask = x.transpose(1, 0, 2), mask.T
        gf, gb = gates or (None, None)
        fwd = LSTMLayer(self.hidden, dtype=self.dtype, remat=self.remat, name="l0_fwd")(x, mask, gf)
        bwd = LSTMLayer(self.hidden, reverse=True, dtype=self.dtype, remat=self.remat, name="l0_bwd")(x, mask, gb)
        out = (fwd, bwd)
        for layer in range(1, self.layers):
            inp = tuple(nn.Dropout(self.dropout, deterministic=not train)(o) for o in out)
            new = LSTMLayer(self.hidden, dtype=self.dtype, remat=self.remat, name=f"l{layer}")(inp, mask)
            out = (new + out[0] if layer >= 2 else new,)
        return jnp.concatenate(out, axis=-1).transpose(1, 0, 2)
