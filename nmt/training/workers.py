"""Who takes the training steps: one device, or several workers (`nmt.parallel`), behind one interface.

A worker object has `count` (the workers), `init(rng) -> state`, `advance(state, host batch, rng, host step) -> (state,
metrics)`, `model_params(state, host step)` (the model to evaluate), `programs()` (compiled step programs so far)
and `decay_lr(state)` (the plateau rule), so the training loop never asks which kind it drives.
"""

from __future__ import annotations

import functools

import jax

from nmt import parallel
from nmt.config import Config
from nmt.training import step as step_lib


class SingleWorker:
    """Plain training on one device: the train step compiled once per batch shape, its state donated."""

    count = 1

    def __init__(self, config: Config, model):
        self.model, self.ema = model, config.train.ema_decay > 0
        self.optimizer = step_lib.make_optimizer(config.train)
        self._train = step_lib.compile_train_step(config, model, self.optimizer)

    def init(self, rng: jax.Array) -> step_lib.TrainState:
        return step_lib.init_train_state(self.model, self.optimizer, rng, ema=self.ema)

    def advance(self, state, batch: dict, rng: jax.Array, host_step: int):
        return self._train(state, step_lib.model_batch(batch), rng)

    def model_params(self, state, host_step: int):
        """The model to evaluate: the moving average of the parameters when the run keeps one."""
        return state.ema if self.ema else state.params

    def programs(self) -> int:
        return self._train._cache_size()

    def decay_lr(self, state):
        return state  # one worker keeps its schedule; the plateau rule belongs to the parallel learning rate


def local_step(config: Config, model, lr_multiplier: float = 1.0) -> parallel.LocalStep:
    """What each parallel worker computes (`nmt.parallel.LocalStep`): this configuration's gradients and optimizer
    update, the learning rate multiplied by `lr_multiplier`."""
    optimizer = step_lib.make_optimizer(config.replace(train={"lr": config.train.lr * lr_multiplier}).train)
    smoothing = config.train.label_smoothing
    return parallel.LocalStep(
        init=lambda rng: (lambda s: (s.params, s.opt_state))(step_lib.init_train_state(model, optimizer, rng)),
        gradients=lambda params, batch, rng: step_lib.gradients(params, model, batch, rng, smoothing),
        apply=functools.partial(step_lib.apply_gradients, optimizer),
    )


def make_workers(config: Config, model):
    """A `SingleWorker` for `parallel.method=none`, else the parallel method's `Workers` over a device mesh."""
    if config.parallel.method == "none":
        return SingleWorker(config, model)
    pc = config.parallel
    return parallel_workers(config, model, parallel.make_mesh(pc.devices or pc.workers), pc.workers)


def parallel_workers(config: Config, model, mesh, count: int = 0) -> parallel.Workers:
    """The parallel method of `config` training `model` with `count` workers (default: one a device) on `mesh`."""
    return parallel.Workers(config, functools.partial(local_step, config, model), mesh, count)
