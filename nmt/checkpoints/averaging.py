"""Checkpoint averaging, as fairseq's `scripts/average_checkpoints.py` does it: the element-wise mean of the
parameters of a run's last evaluations (kept by `train.keep_evaluated`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nmt.checkpoints.errors import CheckpointError
from nmt.checkpoints.store import Checkpoints


def mean_tree(trees: list):
    """The element-wise mean of pytrees of one structure, summed in float64 (so N copies of one tree give it back
    exactly) and cast back to each leaf's dtype."""
    n = len(trees)
    return jax.tree.map(
        lambda *xs: (sum(np.asarray(x, np.float64) for x in xs) / n).astype(np.asarray(xs[0]).dtype), *trees
    )


def evaluated_steps(ckpt: Checkpoints, last: int, where: str) -> list[int]:
    """The steps of the last `last` evaluated checkpoints, oldest first."""
    steps = sorted(ckpt.evaluated.all_steps()) if ckpt.evaluated is not None else []
    if len(steps) < last:
        raise CheckpointError(
            f"{where}: {len(steps)} evaluated checkpoint(s) kept, {last} asked to average "
            "(train.keep_evaluated keeps them)"
        )
    return steps[-last:]


def average_evaluated(ckpt: Checkpoints, abstract_params, last: int, where: str) -> tuple[object, list[int]]:
    """The mean of the parameters of the last `last` evaluations, and their steps."""
    steps = evaluated_steps(ckpt, last, where)
    abstract = {"step": jax.ShapeDtypeStruct((), jnp.int32), "params": abstract_params}  # as `save_evaluated` wrote it
    trees = [Checkpoints.restore(ckpt.evaluated, abstract, s)[0]["params"] for s in steps]
    return mean_tree(trees), steps
