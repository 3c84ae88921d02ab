"""LSTM layers whose input projections run for all time steps in one matmul; only h @ W_h is sequential."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.ad_checkpoint import checkpoint_name

from nmt.model import cudnn_lstm, policies
from nmt.utils import wide_dtype

Dtype = jnp.dtype


def uniform_init(scale: float = 0.1):
    base = nn.initializers.uniform(scale=2 * scale)
    return lambda key, shape, dtype=jnp.float32: base(key, shape, dtype) - scale


def lstm_bias_init(key, shape, dtype=jnp.float32):
    """Zero bias with the forget gate (second quarter) at 1, so early gradients flow through time."""
    h = shape[-1] // 4
    return jnp.zeros(shape, dtype).at[..., h : 2 * h].set(1.0)


def lstm_update(gates: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Gate nonlinearities. gates: [B, 4H] (i, f, g, o), c: [B, H] -> (h, c), both [B, H]."""
    i, f, g, o = jnp.split(gates.astype(wide_dtype(gates.dtype)), 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return h, c


def bias_init(init: str):
    """LSTM biases: uniform(-0.1, 0.1) as every parameter under `model.init=uniform` (OpenNMT-py's param_init),
    else zero with the forget gate at 1."""
    return uniform_init() if init == "uniform" else lstm_bias_init


def lstm_params(module: nn.Module, d: int, hidden: int, init: str):
    """Declares one LSTM direction's parameters in `module`: (w_x [d, 4H], w_h [H, 4H], b [4H])."""
    return (
        module.param("w_x", uniform_init(), (d, 4 * hidden)),
        module.param("w_h", uniform_init(), (hidden, 4 * hidden)),
        module.param("b", bias_init(init), (4 * hidden,)),
    )


def reverse_within(x: jax.Array, lengths: jax.Array) -> jax.Array:
    """x: [T, B, ...] with each column's first lengths[b] steps reversed and its padding left after them (its own
    inverse): a backward direction then runs forward over right-padded input, as the forward one does."""
    t = jnp.arange(x.shape[0])[:, None]
    idx = jnp.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)
    return jnp.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=0)


@jax.named_scope("input_projection")  # the scopes name the parts of `python -m nmt.bench train --profile`
def project(weights, parts: tuple, dtype) -> jax.Array:
    """The input projection of every step at once: parts, [T, B, D_i] each, read as their concatenation (the
    directions of a bidirectional layer stay apart) -> gates [T, B, 4H], bias included."""
    w_x, _, b = weights
    w = w_x.astype(dtype)
    out, start = b.astype(dtype), 0
    for xi in parts:
        out = out + jnp.einsum("tbd,dg->tbg", xi.astype(dtype), w[start : start + xi.shape[-1]])
        start += xi.shape[-1]
    return out


def scan_directions(w_h: jax.Array, inputs, gates_of, dtype, remat: str, unroll: int = 1) -> jax.Array:
    """The recurrence of D LSTM directions in one scan, each over right-padded input: one batched product a step.

    No step is masked: padding comes after every real step in each direction's order, so it changes only states and
    outputs that nothing reads (the caller zeroes the outputs there).

    Args:
      w_h: [D, H, 4H] recurrent weights; inputs: pytree of [T, ...] arrays; gates_of: inputs (or a chunk of their
        steps) -> gates [T, D, B, 4H], the input projections.
    Returns:
      the hidden state of every step, [T, D, B, H].
    """

    @jax.named_scope("recurrence")
    def step(carry, g):
        h, c = carry
        h, c = lstm_update(g + jnp.einsum("dbh,dhg->dbg", h.astype(dtype), w_h), c)
        h, c = checkpoint_name(h, "lstm_h"), checkpoint_name(c, "lstm_c")
        return (h, c), h

    b = jax.tree.leaves(inputs)[0].shape[1]
    zeros = jnp.zeros((w_h.shape[0], b, w_h.shape[1]), wide_dtype(dtype))
    if policies.chunked(remat):
        # Projecting every step at once would keep a [T, D, B, 4H] residual: project chunk by chunk.
        chunk = lambda carry, xs: jax.lax.scan(step, carry, gates_of(xs), unroll=unroll)
        return policies.chunked_scan(chunk, (zeros, zeros), inputs)[1]
    return policies.scan(step, (zeros, zeros), gates_of(inputs), remat, unroll=unroll)[1]


class LSTMWeights(nn.Module):
    """One direction's parameters of a bidirectional layer (see `lstm_params`)."""

    hidden: int
    init: str = "default"

    @nn.compact
    def __call__(self, d: int):
        return lstm_params(self, d, self.hidden, self.init)


class LSTMLayer(nn.Module):
    """One forward LSTM layer over a right-padded batch: time-major x [T, B, D] (or a tuple of [T, B, D_i] read as
    their concatenation) -> [T, B, H], its outputs at padding undefined (the encoder zeroes them)."""

    hidden: int
    dtype: Dtype = jnp.float32
    remat: str = "none"
    init: str = "default"
    unroll: int = 1

    @nn.compact
    def __call__(self, x) -> jax.Array:
        x = x if isinstance(x, tuple) else (x,)
        weights = lstm_params(self, sum(xi.shape[-1] for xi in x), self.hidden, self.init)
        gates_of = lambda parts: project(weights, parts, self.dtype)[:, None]
        w_h = weights[1].astype(self.dtype)[None]
        return scan_directions(w_h, x, gates_of, self.dtype, self.remat, self.unroll)[:, 0]


class Encoder(nn.Module):
    """Stacked LSTM encoder over right-padded sources, in one of two shapes (`model.encoder`):
      gnmt: a bidirectional first layer of H units a direction (2H concatenated), then forward layers of H with
        residual connections from the third layer up;
      brnn: every layer bidirectional with H/2 units a direction (H concatenated), OpenNMT-py's `brnn`.
    The two directions of a bidirectional layer run in a scan each, or with `fuse` (`model.fuse_directions`) in one
    scan with a batched product a step (`scan_directions`); or every layer is one call of cuDNN's LSTM (`impl`,
    `model.encoder_impl=cudnn`; nmt/model/cudnn_lstm.py), over the same parameters."""

    hidden: int
    layers: int
    dropout: float
    dtype: Dtype = jnp.float32
    remat: str = "none"
    kind: str = "gnmt"
    init: str = "default"
    unroll: int = 1
    fuse: bool = False
    impl: str = "scan"

    def _bidirectional(self, name: str, parts: tuple, lengths: jax.Array, hidden: int, gates=None) -> tuple:
        """Both directions of layer `name` over parts ([T, B, D_i] each) -> (forward, backward), [T, B, H] each.
        gates: their input projections (forward, backward), [T, B, 4H] each in time order, when the caller has them.
        The backward direction runs forward over each sentence reversed within its length."""
        d = sum(p.shape[-1] for p in parts)
        weights = [LSTMWeights(hidden, self.init, name=f"{name}_{k}")(d) for k in ("fwd", "bwd")]
        if gates is not None:
            directions = [(gates[0], lambda g: g[:, None]), (reverse_within(gates[1], lengths), lambda g: g[:, None])]
        else:
            rev = tuple(reverse_within(p, lengths) for p in parts)
            directions = [
                (xs, lambda xs, w=w: project(w, xs, self.dtype)[:, None]) for xs, w in zip((parts, rev), weights)
            ]
        run = lambda w_h, inputs, gates_of: scan_directions(
            w_h.astype(self.dtype), inputs, gates_of, self.dtype, self.remat, self.unroll
        )
        if self.fuse:
            gates_of = lambda xs: jnp.concatenate([f(x) for (_, f), x in zip(directions, xs)], 1)
            out = run(jnp.stack([w[1] for w in weights]), tuple(x for x, _ in directions), gates_of)
            fwd, bwd = out[:, 0], out[:, 1]
        else:
            fwd, bwd = (run(w[1][None], x, f)[:, 0] for w, (x, f) in zip(weights, directions))
        return fwd, reverse_within(bwd, lengths)

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array, train: bool, gates: tuple | None = None) -> jax.Array:
        """x: [B, S, E] embedded source, mask: [B, S] -> [B, S, D_enc] (`encoder_dim`), zeros at padding; gates: the
        first layer's input projections of x (forward, backward), each [S, B, 4H], when the caller has them."""
        if self.impl == "cudnn":
            return self._cudnn(x, mask, train)
        x, lengths = x.transpose(1, 0, 2), mask.sum(1)
        brnn = self.kind == "brnn"
        hidden = self.hidden // 2 if brnn else self.hidden
        out = self._bidirectional("l0", (x,), lengths, hidden, gates)
        for layer in range(1, self.layers):
            with jax.named_scope("dropout"):
                inp = tuple(nn.Dropout(self.dropout, deterministic=not train)(o) for o in out)
            if brnn:
                out = self._bidirectional(f"l{layer}", inp, lengths, hidden)
                continue
            new = LSTMLayer(hidden, self.dtype, self.remat, self.init, self.unroll, name=f"l{layer}")(inp)
            out = (new + out[0] if layer >= 2 else new,)
        enc = jnp.concatenate(out, axis=-1).transpose(1, 0, 2)
        return jnp.where(mask[..., None], enc, 0.0).astype(enc.dtype)

    def source_projection(self, emb: jax.Array) -> jax.Array:
        """[2, V, 4H]: the first layer's input projection, forward and backward, bias included, of every row of the
        source embedding `emb` [V, E]; made once per parameters for decoding, it turns the projection into a lookup
        (`gates` of `__call__`)."""
        layers = [self.variables["params"][f"l0_{d}"] for d in ("fwd", "bwd")]
        return jnp.stack([emb @ p["w_x"].astype(self.dtype) + p["b"].astype(self.dtype) for p in layers])

    def _cudnn(self, x: jax.Array, mask: jax.Array, train: bool) -> jax.Array:
        """The same layers as `__call__`, batch-major, each one cuDNN call (`model.encoder_impl=cudnn`)."""
        lengths, brnn = mask.sum(1), self.kind == "brnn"
        hidden = self.hidden // 2 if brnn else self.hidden

        def directions(name: str, d: int, both: bool) -> list:
            if not both:
                return [LSTMWeights(hidden, self.init, name=name)(d)]
            return [LSTMWeights(hidden, self.init, name=f"{name}_{k}")(d) for k in ("fwd", "bwd")]

        out = cudnn_lstm.layer(directions("l0", x.shape[-1], True), x, lengths)
        for layer in range(1, self.layers):
            with jax.named_scope("dropout"):
                inp = nn.Dropout(self.dropout, deterministic=not train)(out)
            new = cudnn_lstm.layer(directions(f"l{layer}", inp.shape[-1], brnn), inp, lengths)
            out = new + out if layer >= 2 and not brnn else new
        return jnp.where(mask[..., None], out, 0.0).astype(self.dtype)
