"""Loss, train step and eval step as pure functions: the one compiled step every entry point uses."""

from __future__ import annotations

import functools
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax

from nmt.config import Config, TrainConfig
from nmt.model import Seq2Seq, init_params


class TrainState(flax.struct.PyTreeNode):
    step: jax.Array
    params: Any
    opt_state: Any
    ema: Any = None  # the parameters' exponential moving average (train.ema_decay > 0), else None


def ema_update(ema, params, step: jax.Array, decay: float):
    """One step of the moving average, its decay ramped up as TensorFlow's ExponentialMovingAverage does with
    num_updates (min(decay, (1 + t) / (10 + t))), so that the random initialisation is soon forgotten."""
    d = jnp.minimum(decay, (1.0 + step) / (10.0 + step))
    return jax.tree.map(lambda e, p: (d * e + (1 - d) * p).astype(e.dtype), ema, params)


def learning_rate(cfg: TrainConfig) -> optax.Schedule:
    """Linear warm-up to cfg.lr, then rsqrt, cosine or constant."""
    warm = max(cfg.warmup_steps, 1)
    if cfg.decay == "cosine":
        if cfg.warmup_steps == 0:  # the first step at full rate, as asked
            return optax.cosine_decay_schedule(cfg.lr, max(cfg.steps, 1), alpha=0.01)
        return optax.warmup_cosine_decay_schedule(0.0, cfg.lr, warm, max(cfg.steps, warm + 1), cfg.lr * 0.01)
    if cfg.decay == "constant":
        if cfg.warmup_steps == 0:
            return optax.constant_schedule(cfg.lr)
        return optax.join_schedules([optax.linear_schedule(0.0, cfg.lr, warm), optax.constant_schedule(cfg.lr)], [warm])
    return lambda step: cfg.lr * jnp.minimum((step + 1) / warm, jnp.sqrt(warm / jnp.maximum(step + 1, 1)))


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    opt = (
        optax.adam(learning_rate(cfg))
        if cfg.optimizer == "adam"
        else optax.sgd(learning_rate(cfg), momentum=cfg.momentum or None)
    )
    opt = optax.chain(optax.clip_by_global_norm(cfg.clip_norm), opt) if cfg.clip_norm > 0 else opt
    return optax.flatten(opt) if cfg.flat_update else opt


def init_train_state(
    model: Seq2Seq, optimizer: optax.GradientTransformation, rng: jax.Array, batch_shape=(2, 8), ema: bool = False
) -> TrainState:
    params = init_params(model, rng, batch_shape)
    return TrainState(
        jnp.zeros((), jnp.int32), params, optimizer.init(params), jax.tree.map(jnp.copy, params) if ema else None
    )


def loss_fn(params, model: Seq2Seq, batch: dict, rng: jax.Array | None, smoothing: float):
    train = rng is not None
    loss, nll, n = model.apply(
        {"params": params},
        batch["src"],
        batch["tgt_in"],
        batch["tgt_out"],
        train=train,
        smoothing=smoothing,
        rngs={"dropout": rng} if train else None,
        method=Seq2Seq.loss,
    )
    return loss / jnp.maximum(n, 1.0), (nll, n)


def gradients(params, model: Seq2Seq, batch: dict, rng: jax.Array, smoothing: float):
    """Gradients of the mean token loss, and the metrics {"nll_sum", "tokens", "grad_norm", "skipped"}: "skipped" is
    1.0 where the loss or the gradient norm is not finite (`apply_gradients` then changes nothing)."""
    grads, (nll, n) = jax.grad(loss_fn, has_aux=True)(params, model, batch, rng, smoothing)
    norm = optax.tree.norm(grads)
    return grads, {
        "nll_sum": nll,
        "tokens": n,
        "grad_norm": norm,
        "skipped": 1.0 - (jnp.isfinite(norm) & jnp.isfinite(nll)),
    }


def apply_gradients(optimizer: optax.GradientTransformation, grads, opt_state, params, scale=1.0, keep=None):
    """One optimizer update, its step scaled by `scale` (the parallel methods' plateau decay); (params, opt_state).

    keep: a boolean scalar (a step's "skipped" metric), True to return params and opt_state unchanged. The choice is
    a select inside the update's own elementwise loops, where `optax.apply_if_finite`'s `lax.cond` around the
    update cost 3.5% of the default model's step on a CPU (experiments/train_levers.py)."""
    with jax.named_scope("optimizer"):
        updates, new_state = optimizer.update(grads, opt_state, params)
        if not (isinstance(scale, float) and scale == 1.0):
            updates = jax.tree.map(lambda u: u * scale, updates)
        return keep_old_where(keep, optax.apply_updates(params, updates), params), keep_old_where(
            keep, new_state, opt_state
        )


def keep_old_where(keep, new, old):
    """`new`, or `old` where the boolean scalar `keep` is set (None: always `new`), leaf by leaf."""
    return new if keep is None else jax.tree.map(lambda n, o: jnp.where(keep, o, n), new, old)


def train_step(
    state: TrainState,
    batch: dict,
    rng: jax.Array,
    *,
    model: Seq2Seq,
    optimizer: optax.GradientTransformation,
    smoothing: float,
    guard: bool = True,
    ema_decay: float = 0.0,
) -> tuple[TrainState, dict]:
    """One optimisation step; `rng` is the run's root key, folded with the step number here. guard: a step with a
    non-finite loss or gradient changes nothing (train.nonfinite_limit > 0). The moving average, when the state
    keeps one, follows the parameters after the update."""
    grads, metrics = gradients(state.params, model, batch, jax.random.fold_in(rng, state.step), smoothing)
    keep = metrics["skipped"] > 0 if guard else None
    params, opt_state = apply_gradients(optimizer, grads, state.opt_state, state.params, keep=keep)
    ema = state.ema
    if ema is not None:
        ema = keep_old_where(keep, ema_update(ema, params, state.step, ema_decay), state.ema)
    return TrainState(state.step + 1, params, opt_state, ema), metrics


@functools.partial(jax.jit, static_argnames="model")
def eval_step(params, batch: dict, *, model: Seq2Seq) -> dict:
    """Summed NLL and target tokens of a batch, no dropout; compiled once per model and batch shape."""
    _, (nll, n) = loss_fn(params, model, batch, None, 0.0)
    return {"nll_sum": nll, "tokens": n}


def mean_loss(params, model: Seq2Seq, batches) -> float:
    """NLL per target token over host batches (e.g. `eval_batches` of a split)."""
    nll = tokens = 0.0
    for batch in batches:
        m = jax.device_get(eval_step(params, model_batch(batch), model=model))
        nll, tokens = nll + float(m["nll_sum"]), tokens + float(m["tokens"])
    return nll / max(tokens, 1.0)


def model_batch(batch: dict) -> dict:
    """The arrays a step reads (host-side bookkeeping such as `index` stays on the host)."""
    return {k: batch[k] for k in ("src", "tgt_in", "tgt_out")}


def compile_train_step(config: Config, model: Seq2Seq, optimizer):
    """The jitted train step, donating its state: (state, batch, rng) -> (state, metrics)."""
    return jax.jit(
        lambda s, b, r: train_step(
            s,
            b,
            r,
            model=model,
            optimizer=optimizer,
            smoothing=config.train.label_smoothing,
            guard=config.train.nonfinite_limit > 0,
            ema_decay=config.train.ema_decay,
        ),
        donate_argnums=0,
    )
