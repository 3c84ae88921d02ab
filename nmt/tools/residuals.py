"""What a function keeps for its backward pass, and where (device or host memory)."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Residual:
    shape: tuple
    dtype: str
    on_host: bool
    source: str

    @property
    def bytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def saved_residuals(fn, *args) -> list[Residual]:
    """The residuals `jax.grad(fn)` would save, as `jax.ad_checkpoint.print_saved_residuals` shows them.

    The list form is private in jax (`jax._src.ad_checkpoint.saved_residuals`); this is the one place that uses it.
    """
    from jax._src.ad_checkpoint import saved_residuals as _saved

    out = []
    for aval, source in _saved(fn, *args):
        space = str(getattr(aval, "memory_space", "")).lower()
        out.append(Residual(tuple(aval.shape), str(aval.dtype), "host" in space, source))
    return out
