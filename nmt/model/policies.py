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

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from nmt.config import ConfigError

TENSOR_NAMES = (
    "lstm_h",
    "lstm_c",  # encoder LSTM state per step
    "dec_h",
    "dec_c",  # decoder LSTM state per step (all layers)
    "attn_scores",
    "attn_probs",
    "attn_context",
    "attn_hidden",  # attention per decoder step
)
DECODER_STATE = ("dec_h", "dec_c", "attn_context", "attn_hidden")  # what a decoder step carries and hands on

_cp = jax.checkpoint_policies


@dataclasses.dataclass(frozen=True)
class Policy:
    spec: str
    make: Callable[[], Any]  # -> the jax.checkpoint policy; None: no jax.checkpoint at all
    chunked: bool = False  # checkpoint chunks of ~√T steps instead of each step (see `chunked_scan`)
    recompute: int | None = None  # rank by recomputation, least first: auto-fit's candidates; None: not one


def save(names) -> str:
    return "save:" + ",".join(names)


def offload(names) -> str:
    return "offload:" + ",".join(names)


def _offload(saved: list[str], offloaded: list[str]):
    return _cp.save_and_offload_only_these_names(
        names_which_can_be_saved=saved,
        names_which_can_be_offloaded=offloaded,
        offload_src="device",
        offload_dst="pinned_host",
    )


# The named policies. Offloading ones are no auto-fit candidates: on the CPU backend they move nothing.
REGISTRY = {
    p.spec: p
    for p in (
        Policy("none", lambda: None, recompute=0),
        Policy("full", lambda: _cp.nothing_saveable, recompute=4),
        Policy("dots", lambda: _cp.dots_saveable, recompute=1),
        Policy("dots_no_batch", lambda: _cp.dots_with_no_batch_dims_saveable, recompute=2),
        Policy("offload_dots_no_batch", lambda: _cp.offload_dot_with_no_batch_dims("device", "pinned_host")),
        Policy("sqrt_t", lambda: _cp.nothing_saveable, chunked=True, recompute=5),
        Policy(save(DECODER_STATE), lambda: _cp.save_only_these_names(*DECODER_STATE), recompute=3),
        Policy(offload(DECODER_STATE), lambda: _offload([], list(DECODER_STATE))),
    )
}
SIMPLE = tuple(spec for spec in REGISTRY if ":" not in spec)
AUTOFIT = tuple(
    sorted((p.spec for p in REGISTRY.values() if p.recompute is not None), key=lambda spec: REGISTRY[spec].recompute)
)
VALID = SIMPLE + (
    "save:<names>",
    "offload:<names>",
    "custom:<name>=remat|device|offload,...",
    "auto (with model.memory_budget)",
)


def _names(spec: str, text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in TENSOR_NAMES]
    if not names or bad:
        raise ConfigError(
            f"model.remat={spec!r}: unknown tensor name(s) {bad or '(none given)'}; "
            f"tagged tensors: {', '.join(TENSOR_NAMES)}"
        )
    return names


def _custom(spec: str, rest: str):
    where = {}
    for item in rest.split(","):
        name, _, place = item.partition("=")
        if place not in ("remat", "device", "offload"):
            raise ConfigError(f"model.remat={spec!r}: {item!r} must be name=remat|device|offload")
        where[_names(spec, name)[0]] = place
    return _offload([n for n, p in where.items() if p == "device"], [n for n, p in where.items() if p == "offload"])


def policy(spec: str) -> Policy:
    """The policy a spec names: a registry entry, or one of the save:/offload:/custom: families.

    Raises:
      ConfigError listing the valid names.
    """
    if spec in REGISTRY:
        return REGISTRY[spec]
    if spec == "auto":
        raise ConfigError("model.remat=auto must be resolved first (nmt.training.autofit.autofit)")
    kind, _, rest = spec.partition(":")
    if kind == "save" and rest:
        names = _names(spec, rest)
        return Policy(spec, lambda: _cp.save_only_these_names(*names))
    if kind == "offload" and rest:
        names = _names(spec, rest)
        return Policy(spec, lambda: _offload([], names))
    if kind == "custom" and rest:
        made = _custom(spec, rest)
        return Policy(spec, lambda: made)
    raise ConfigError(f"model.remat: unknown policy {spec!r}; valid: {', '.join(VALID)}")


def check(spec: str) -> None:
    """Raises ConfigError unless `spec` names a policy or is `auto` (resolved against a budget before training)."""
    if spec != "auto":
        policy(spec)


def resolve(spec: str):
    """The `jax.checkpoint` policy of a spec, or None for `none` (no checkpointing at all)."""
    return policy(spec).make()


def chunked(spec: str) -> bool:
    return policy(spec).chunked


def checkpointed(fn, spec: str):
    """`fn` under jax.checkpoint with the named policy (unchanged for `none`)."""
    made = resolve(spec)
    return fn if made is None else jax.checkpoint(fn, policy=made, prevent_cse=False)


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


def scan(body, carry, xs, spec: str, reverse: bool = False, unroll: int = 1):
    """`lax.scan` of a per-step body under a policy: per-step `jax.checkpoint`, or √T chunks for `sqrt_t`; `unroll`
    steps of the body in each loop iteration."""
    if not chunked(spec):
        return jax.lax.scan(checkpointed(body, spec), carry, xs, reverse=reverse, unroll=unroll)
    return chunked_scan(
        lambda c, x: jax.lax.scan(body, c, x, reverse=reverse, unroll=unroll), carry, xs, reverse=reverse
    )
