"""Weight matrices in the forms a compressed model stores them (`model.low_rank`, `model.int8`, nmt.compress):

  full       W [n, m], the parameter `<name>` (what every model has unless told otherwise);
  low rank   W = U V, the parameters `<name>_u` [n, r] and `<name>_v` [r, m], applied as two products, never formed;
  int8       W = Q * scale, the parameters `<name>_q` [n, m] (int8) and `<name>_scale` (float32, one a row or one a
             column: an output channel of the products the matrix takes part in), de-quantised inside the product.

The int8 product quantises its input too, per row, and runs an int8 x int8 -> int32 dot: on the 2-core CPU measured
(experiments/int8_dot.py) that took the output layer's product of a beam-5 step from 80 to 63 us, where converting Q
to float inside the product gained nothing over float32 weights (81 us); the LSTM layer's product took 18 us all
three ways.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp


def form_of(cfg, name: str) -> tuple[str, int]:
    """(form, rank) of the matrix `name` under a ModelConfig: low rank where `model.low_rank` names it, else int8
    under `model.int8`, else full."""
    rank = cfg.ranks().get(name, 0)
    return ("low_rank", rank) if rank else ("int8" if cfg.int8 else "full", 0)


@dataclasses.dataclass(frozen=True)
class Matrix:
    """A weight matrix W [n, m] in one of the three forms; `rowwise`: an int8 scale per row (else per column)."""

    w: jax.Array | None = None
    u: jax.Array | None = None
    v: jax.Array | None = None
    q: jax.Array | None = None
    scale: jax.Array | None = None
    rowwise: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        if self.w is not None:
            return self.w.shape
        return (self.u.shape[0], self.v.shape[1]) if self.u is not None else self.q.shape

    def apply(self, x: jax.Array, dtype) -> jax.Array:
        """x [..., n] -> x @ W [..., m], in `dtype`."""
        x = x.astype(dtype)
        if self.w is not None:
            return x @ self.w.astype(dtype)
        if self.u is not None:
            return (x @ self.u.astype(dtype)) @ self.v.astype(dtype)
        return self._int8_product(x, 0)

    def apply_t(self, x: jax.Array, dtype) -> jax.Array:
        """x [..., m] -> x @ W.T [..., n], in `dtype` (a tied embedding as the output layer)."""
        x = x.astype(dtype)
        if self.w is not None:
            return x @ self.w.T.astype(dtype)
        if self.u is not None:
            return (x @ self.v.T.astype(dtype)) @ self.u.T.astype(dtype)
        return self._int8_product(x, 1)

    def _int8_product(self, x: jax.Array, axis: int) -> jax.Array:
        """x @ W (axis 0: x reads W's rows) or x @ W.T (axis 1) as an int8 x int8 -> int32 dot: x is quantised per
        row, its scale and W's applied to the product (W's before it where they scale what x reads)."""
        reads_scaled = self.rowwise == (axis == 0)  # W's scale runs along the axis that x reads
        if reads_scaled:
            x = x * self.scale.astype(x.dtype)
        sx = jnp.maximum(jnp.max(jnp.abs(x), -1, keepdims=True), jnp.finfo(x.dtype).tiny) / 127.0
        xq = jnp.round(x / sx).astype(jnp.int8)
        acc = jax.lax.dot_general(xq, self.q, (((x.ndim - 1,), (axis,)), ((), ())), preferred_element_type=jnp.int32)
        out = acc.astype(x.dtype) * sx
        return out if reads_scaled else out * self.scale.astype(x.dtype)

    def rows(self, ids: jax.Array, dtype=None) -> jax.Array:
        """W[ids], [..., m]: an embedding's lookup; in `dtype`, or that of the stored floats."""
        dtype = dtype or (self.w if self.w is not None else self.u if self.u is not None else self.scale).dtype
        if self.w is not None:
            return jnp.take(self.w, ids, axis=0).astype(dtype)
        if self.u is not None:
            return jnp.take(self.u, ids, axis=0).astype(dtype) @ self.v.astype(dtype)
        q = jnp.take(self.q, ids, axis=0).astype(dtype)
        return q * (
            jnp.take(self.scale, ids, axis=0).astype(dtype)[..., None] if self.rowwise else self.scale.astype(dtype)
        )

    def columns(self, ids: jax.Array, dtype=None) -> jax.Array:
        """W[:, ids] moved to the front, [..., n]: an output layer restricted to some tokens."""
        return self.t().rows(ids, dtype)

    def t(self) -> Matrix:
        """W.T in the same form."""
        if self.w is not None:
            return Matrix(w=self.w.T)
        if self.u is not None:
            return Matrix(u=self.v.T, v=self.u.T)
        return Matrix(q=self.q.T, scale=self.scale, rowwise=not self.rowwise)

    def row_slice(self, start: int, stop: int) -> Matrix:
        """W[start:stop] in the same form (the rows that read one part of a concatenated input)."""
        if self.w is not None:
            return Matrix(w=self.w[start:stop])
        if self.u is not None:
            return Matrix(u=self.u[start:stop], v=self.v)
        return Matrix(
            q=self.q[start:stop], scale=self.scale[start:stop] if self.rowwise else self.scale, rowwise=self.rowwise
        )

    def value(self, dtype=None) -> jax.Array:
        """W itself, [n, m]."""
        return self.rows(jnp.arange(self.shape[0]), dtype)


def declare(
    module: nn.Module, name: str, shape: tuple[int, int], init, form: str = "full", rank: int = 0, rowwise: bool = False
) -> Matrix:
    """Declares the parameters of the matrix `name` in `module` in the given form (see the module's docstring); a
    factored or quantised form is written by nmt.compress, so its initial values only give shapes and dtypes."""
    n, m = shape
    if form == "full":
        return Matrix(w=module.param(name, init, shape))
    if form == "low_rank":
        return Matrix(u=module.param(f"{name}_u", init, (n, rank)), v=module.param(f"{name}_v", init, (rank, m)))
    zeros = lambda key, s, dtype: jnp.zeros(s, dtype)
    return Matrix(
        q=module.param(f"{name}_q", zeros, shape, jnp.int8),
        scale=module.param(f"{name}_scale", nn.initializers.ones, (n if rowwise else m,)),
        rowwise=rowwise,
    )


class Embed(nn.Module):
    """An embedding table [vocab, features] (the parameter `embedding`, as `flax.linen.Embed` names it) in any form
    of `declare`; int8 scales are per row (one a token), so the table quantises like an output layer."""

    num_embeddings: int
    features: int
    embedding_init: Callable  # (key, shape, dtype) -> array
    form: str = "full"
    rank: int = 0

    def setup(self):
        self.table = declare(
            self,
            "embedding",
            (self.num_embeddings, self.features),
            self.embedding_init,
            self.form,
            self.rank,
            rowwise=True,
        )

    def __call__(self, ids: jax.Array) -> jax.Array:
        return self.table.rows(ids)
