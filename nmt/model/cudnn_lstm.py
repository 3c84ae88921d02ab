"""Encoder layers through cuDNN's LSTM (`model.encoder_impl=cudnn`, `jax.experimental.rnn`).

The parameters are the scan encoder's own, packed into cuDNN's flat layout at each call, so a run trained one way
loads the other. cuDNN's LSTM computes in float32 (TF32 where the GPU allows it) over right-padded batches with their
lengths; a bfloat16 model runs its encoder in float32 on this path. Backends without cuDNN run JAX's reference
implementation of the same call (`lstm_ref`), which is how the CPU tests check the packing and the padding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.experimental import rnn


def pack(directions: list[tuple]) -> jax.Array:
    """[(w_x [D, 4H], w_h [H, 4H], b [4H]), ...] of one layer's directions -> cuDNN's flat weights: every W_ih
    [4H, D] and W_hh [4H, H] in direction order, then every b_ih and b_hh (b_hh zero). Both use the gate order
    i, f, g, o."""
    mats = [m for w_x, w_h, _ in directions for m in (w_x.T, w_h.T)]
    biases = [v for _, _, b in directions for v in (b, jnp.zeros_like(b))]
    return jnp.concatenate([x.reshape(-1).astype(jnp.float32) for x in mats + biases])


def layer(directions: list[tuple], x: jax.Array, lengths: jax.Array) -> jax.Array:
    """One LSTM layer, forward or (two directions) bidirectional. x: [B, T, D] right-padded; lengths: [B].

    Returns [B, T, H * directions] in float32; the outputs at padding are left to the caller to mask."""
    hidden, bidirectional = directions[0][1].shape[0], len(directions) == 2
    zeros = jnp.zeros((len(directions), x.shape[0], hidden), jnp.float32)
    x, lengths = x.astype(jnp.float32), lengths.astype(jnp.int32)
    weights, d = pack(directions), x.shape[-1]
    if jax.default_backend() == "gpu":
        y, _, _ = rnn.lstm(
            x,
            zeros,
            zeros,
            weights,
            lengths,
            input_size=d,
            hidden_size=hidden,
            num_layers=1,
            dropout=0.0,
            bidirectional=bidirectional,
        )
    else:
        w_ih, w_hh, b_ih, b_hh = rnn.unpack_lstm_weights(weights, d, hidden, 1, bidirectional)
        y, _, _ = rnn.lstm_ref(x, zeros, zeros, w_ih, w_hh, b_ih, b_hh, lengths, d, hidden, 1, 0.0, bidirectional)
    return y
