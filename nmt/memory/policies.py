"""Rematerialisation and host-offload policies by name.

The model tags its activations with `checkpoint_name` (see TENSOR_NAMES); `model.remat` picks which are kept for the
backward pass, which are recomputed and which are sent to host memory. `jax.checkpoint` is applied to the body of
every time-step scan (each encoder LSTM layer and the decoder), so a policy decides per time step; `sqrt_t` instead
checkpoints chunks of about √T steps (and the training loss is then computed chunk by chunk, see `Seq2Seq.loss`).

Spec strings:
  none                   no jax.checkpoint: autodiff keeps whatever it needs
  full                   keep nothing inside a step; recompute everything
  dots                   keep matmul outputs
  dots_no_batch          keep matmul outputs without batch dimensions (weight-stationary matmuls)
  offload_dots_no_batch  as dots_no_batch, but kept in host memory
  sqrt_t                 scan over chunks of ceil(√T) steps, each chunk checkpointed: the backward pass keeps one
                         carry per chunk and recomputes a chunk's steps, so memory grows as √T, not T
  save:a,b               keep only the named tensors
  offload:a,b            keep only the named tensors, in host memory (pinned_host)
  custom:a=device,b=offload,c=remat
                         per-name choice; unnamed tensors are recomputed
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from nmt.config import ConfigError

TENSOR_NAMES = (
    "lstm_h", "lstm_c",  # encoder LSTM state per step
    "dec_h", "dec_c",  # decoder LSTM state per step (all layers)
    "attn_scores", "attn_probs", "attn_context", "attn_hidden",  # attention per decoder step
)
SIMPLE = ("none", "full", "dots", "dots_no_batch", "offload_dots_no_batch", "sqrt_t")
VALID = SIMPLE + ("save:<names>", "offload:<names>", "custom:<name>=remat|device|offload,...",
                  "auto (with model.memory_budget)")

_cp = jax.checkpoint_policies


def _names(spec: str, text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in TENSOR_NAMES]
    if not names or bad:
        raise ConfigError(f"model.remat={spec!r}: unknown tensor name(s) {bad or '(none given)'}; "
                          f"tagged tensors: {', '.join(TENSOR_NAMES)}")
    return names


def _offload(saved: list[str], offloaded: list[str]):
    return _cp.save_and_offload_only_these_names(
        names_which_can_be_saved=saved, names_which_can_be_offloaded=offloaded,
        offload_src="device", offload_dst="pinned_host")


def resolve(spec: str):
    """Returns the `jax.checkpoint` policy for a spec, or None for `none` (no checkpointing at all).

    Raises:
      ConfigError listing the valid names.
    """
    if spec == "none":
        return None
    if spec == "auto":
        raise ConfigError("model.remat=auto must be resolved first (nmt.memory.autofit.autofit)")
    simple = {"full": _cp.nothing_saveable, "sqrt_t": _cp.nothing_saveable, "dots": _cp.dots_saveable,
              "dots_no_batch": _cp.dots_with_no_batch_dims_saveable}
    if spec in simple:
        return simple[spec]
    if spec == "offload_dots_no_batch":
        return _cp.offload_dot_with_no_batch_dims("device", "pinned_host")
    kind, _, rest = spec.partition(":")
    if kind == "save" and rest:
        return _cp.save_only_these_names(*_names(spec, rest))
    if kind == "offload" and rest:
        return _offload([], _names(spec, rest))
    if kind == "custom" and rest:
        where = {}
        for item in rest.split(","):
            name, _, place = item.partition("=")
            if place not in ("remat", "device", "offload"):
                raise ConfigError(f"model.remat={spec!r}: {item!r} must be name=remat|device|offload")
            where[_names(spec, name)[0]] = place
        return _offload([n for n, p in where.items() if p == "device"],
                        [n for n, p in where.items() if p == "offload"])
    raise ConfigError(f"model.remat: unknown policy {spec!r}; valid: {', '.join(VALID)}")


def checkpointed(fn, spec: str):
    """`fn` under jax.checkpoint with the named policy (unchanged for `none`)."""
    if spec == "none":
        return fn
    return jax.checkpoint(fn, policy=resolve(spec), prevent_cse=False)


def chunk_len(t: int) -> int:
    return max(1, math.ceil(math.sqrt(t)))


def chunked_scan(chunk_fn, carry, xs, reverse: bool = False):
    """`lax.scan` over chunks of ceil(√T) steps, each chunk under `jax.checkpoint` that saves nothing.

    Args:
      chunk_fn: (carry, xs_chunk) -> (carry, ys_chunk), every leaf of xs_chunk/ys_chunk with a leading axis c.
      xs: pytree of [T, ...] arrays. T is padded with zeros to a multiple of c; the padding steps run after every
        real step in scan order (at the end, or at the front when reversed), so they can change only the final carry.
    Returns:
      (final carry, ys with leading axis T).
    """
    t = jax.tree.leaves(xs)[0].shape[0]
    c = chunk_len(t)
    n = -(-t // c)
    pad = n * c - t

    def split(x):
        x = jnp.pad(x, [(pad, 0) if reverse else (0, pad)] + [(0, 0)] * (x.ndim - 1))
        return x.reshape(n, c, *x.shape[1:])

    def join(y):
        y = y.reshape(n * c, *y.shape[2:])
        return y[pad:] if reverse else y[:t]

    body = jax.checkpoint(chunk_fn, policy=_cp.nothing_saveable, prevent_cse=False)
    carry, ys = jax.lax.scan(body, carry, jax.tree.map(split, xs), reverse=reverse)
    return carry, jax.tree.map(join, ys)


def scan(body, carry, xs, spec: str, reverse: bool = False):
    """`lax.scan` of a per-step body under a policy: per-step `jax.checkpoint`, or √T chunks for `sqrt_t`."""
    if spec != "sqrt_t":
        return jax.lax.scan(checkpointed(body, spec), carry, xs, reverse=reverse)
    return chunked_scan(lambda c, x: jax.lax.scan(body, c, x, reverse=reverse), carry, xs, reverse=reverse)
