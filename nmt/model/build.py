"""A model from a configuration, and its initial parameters."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nmt.config import Config
from nmt.model import policies
from nmt.model.seq2seq import Seq2Seq


def make_model(config: Config, vocab_size: int) -> Seq2Seq:
    """The model of a configuration; raises ConfigError for an unknown memory policy (or one still `auto`)."""
    policies.policy(config.model.remat)
    return Seq2Seq(config.model, vocab_size)


def init_params(model: Seq2Seq, rng: jax.Array, batch_shape=(2, 8)):
    dummy = jnp.ones(batch_shape, jnp.int32)
    return jax.jit(lambda r: model.init({"params": r}, dummy, dummy)["params"])(rng)
