"""Label-smoothed cross-entropy as sums over non-padding tokens."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nmt.data.vocab import PAD
from nmt.utils import widen


def token_loss(logits: jax.Array, targets: jax.Array, smoothing: float) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Label-smoothed cross-entropy over non-padding tokens.

    Args:
      logits: [B, T, V] float32; targets: [B, T] (0 = padding).
    Returns:
      (loss sum, nll sum, number of target tokens): sums, so callers normalise after any cross-device sum.
    """
    logp = jax.nn.log_softmax(widen(logits), axis=-1)
    nll = -jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    smooth = -jnp.mean(logp, axis=-1)
    weight = (targets != PAD).astype(logp.dtype)
    loss = (1.0 - smoothing) * nll + smoothing * smooth
    return jnp.sum(loss * weight), jnp.sum(nll * weight), jnp.sum(weight)
