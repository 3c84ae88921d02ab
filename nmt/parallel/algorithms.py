"""Synchronous data parallelism, model averaging and BMUF as jitted functions over a 1-D device mesh.

`sync` keeps one replicated model and splits every batch over the workers: XLA (GSPMD) all-reduces the gradients.
`average` and `bmuf` keep one model per worker, stacked on a leading axis that is split over the mesh, so a local
step runs each worker on its own device with no communication; every `sync_every` (τ) steps one block update
all-reduces the models:
  average:  W ← mean_k W_k
  bmuf:     G = mean_k W_k − W_start;  Δ ← η·Δ + ζ·G;  W_g ← W_g + Δ;
            workers restart from W_start = W_g + η·Δ (Nesterov) or W_g          (Chen & Huo 2016)
with η = block_momentum, ζ = block_lr. The first `warmup_steps` steps average gradients every step (as `sync`).

Learning-rate rule: K workers that average their models every τ steps progress per step like one worker with a K
times larger batch, so the local rate is scaled with K. For Adam the square-root rule (lr·√K, Malladi et al. 2022,
"On the SDEs and scaling rules for adaptive gradient algorithms") keeps the update noise of the small-batch run;
`linear` (lr·K, Goyal et al. 2017) is the rule for SGD. On a validation plateau (no better val loss at an
evaluation) the rate is multiplied by `plateau_decay`, as fairseq's and OpenNMT's reduce-on-plateau schedulers do.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import multihost_utils

from nmt.config import Config, ParallelConfig
from nmt.parallel.mesh import global_array, place, replicated, sharded


class ParallelState(flax.struct.PyTreeNode):
    step: jax.Array  # []  steps each worker has taken
    params: Any  # sync: the model; average/bmuf: [K, ...] one model per worker
    opt_state: Any  # as params
    global_params: Any  # the model after the last block update (average/bmuf; sync: unused, same as params)
    momentum: Any  # BMUF block momentum Δ, like global_params
    lr_scale: jax.Array  # []  product of the plateau decays so far


@dataclasses.dataclass(frozen=True)
class LocalStep:
    """What one worker computes, given by the training layer (`nmt.training.workers.local_step`): the methods here
    only decide where and when it runs and how the workers' models meet.

      init(rng) -> (params, opt_state)
      gradients(params, batch, rng) -> (grads, metrics {"nll_sum", "tokens", "grad_norm", "skipped"})
      apply(grads, opt_state, params, scale, keep) -> (params, opt_state): the optimizer's update, its step scaled
        by `scale`; `keep` (a boolean scalar, or None) returns params and opt_state unchanged where set
    """

    init: Callable
    gradients: Callable
    apply: Callable


def lr_multiplier(rule: str, workers: int) -> float:
    return {"sqrt": math.sqrt(workers), "linear": float(workers), "none": 1.0}[rule]


def block_momentum(pc: ParallelConfig, workers: int) -> float:
    """η for K workers: `parallel.block_momentum`, or Chen & Huo's 1 − 1/K (the block update amplifies the averaged
    displacement K times, as a K times larger step would), 1 − 1/√K (√K times: the square-root rule of Adam), or
    SlowMo's slow momentum as fairseq sets it by the number of workers for Adam on WMT En-De (0 up to 16, 0.2 up to
    32, 0.5 up to 64, 0.6 beyond; with the block learning rate 1, SlowMo's update is BMUF's, save that SlowMo divides
    the block's displacement by the current learning rate)."""
    slowmo = next(eta for limit, eta in ((16, 0.0), (32, 0.2), (64, 0.5), (math.inf, 0.6)) if workers <= limit)
    return {
        "fixed": pc.block_momentum,
        "inverse_k": 1.0 - 1.0 / workers,
        "inverse_sqrt_k": 1.0 - workers**-0.5,
        "slowmo": slowmo,
    }[pc.momentum_rule]


def restart_moments(opt_state):
    """Adam's moments and their step count (so its bias correction starts again), and SGD's momentum, set to zero;
    the learning-rate schedule's own count and everything else are kept."""
    moments = (optax.ScaleByAdamState, optax.TraceState)
    return jax.tree.map(
        lambda s: jax.tree.map(jnp.zeros_like, s) if isinstance(s, moments) else s,
        opt_state,
        is_leaf=lambda s: isinstance(s, moments),
    )


def comm_bytes_per_step(pc: ParallelConfig, workers: int, param_bytes: int, opt_bytes: int, steps: int) -> float:
    """Bytes each worker sends per step, averaged over `steps` steps, for a ring all-reduce (2(K−1)/K × size):
    gradients every step for sync and during warm-up; the models (and Adam's moments when averaged) once a block."""
    if workers == 1:
        return 0.0
    ring = 2 * (workers - 1) / workers
    warm = steps if pc.method == "sync" else min(pc.warmup_steps, steps)
    blocks = 0 if pc.method == "sync" else (steps - warm) // pc.sync_every
    block_bytes = param_bytes + (opt_bytes if pc.average_opt_state else 0)
    return ring * (warm * param_bytes + blocks * block_bytes) / max(steps, 1)


class Workers:
    """The jitted steps of one parallel method over a mesh.

    local_step: lr multiplier -> `LocalStep`, what each worker computes with its learning rate scaled by the
    multiplier (`parallel.lr_rule` for `count` workers). Batches come as host arrays `[K, rows, len]` (one slice per
    worker; sync concatenates them). K (`count`) defaults to one worker per device; a multiple of the mesh size puts
    K / devices workers on each device (vmapped there), which simulates many workers on few devices without one
    device thread per worker.
    """

    def __init__(self, config: Config, local_step: Callable[[float], LocalStep], mesh, workers: int = 0):
        if config.parallel.method not in ("sync", "average", "bmuf"):
            raise ValueError(f"Workers: parallel.method must be sync, average or bmuf, not {config.parallel.method!r}")
        self.config, self.pc, self.mesh = config, config.parallel, mesh
        self.count = workers or mesh.size
        if self.count % mesh.size:
            raise ValueError(f"Workers: {self.count} workers do not divide evenly over {mesh.size} devices")
        self.local_step = local_step(lr_multiplier(self.pc.lr_rule, self.count))
        self.eta = block_momentum(self.pc, self.count)
        stacked = self.pc.method != "sync"
        self._shardings = ParallelState(
            replicated(mesh),
            sharded(mesh) if stacked else replicated(mesh),
            sharded(mesh) if stacked else replicated(mesh),
            replicated(mesh),
            replicated(mesh),
            replicated(mesh),
        )
        donate = dict(donate_argnums=0, out_shardings=(self._shardings, None))
        if stacked:
            self._warm = jax.jit(functools.partial(self._local_step, average_grads=True), **donate)
            self._local = jax.jit(functools.partial(self._local_step, average_grads=False), **donate)
            self._block = jax.jit(self._block_update, donate_argnums=0, out_shardings=self._shardings)
            self._begin = jax.jit(self._start_blocks, donate_argnums=0, out_shardings=self._shardings)
        else:
            self._sync = jax.jit(self._sync_step, **donate)

    def _keep(self, skipped):
        return skipped > 0 if self.config.train.nonfinite_limit else None

    def _expand(self, tree):
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (self.count,) + x.shape), tree)

    def init(self, rng: jax.Array) -> ParallelState:
        params, opt_state = self.local_step.init(rng)
        stacked = self.pc.method != "sync"
        state = ParallelState(
            jnp.zeros((), jnp.int32),
            self._expand(params) if stacked else params,
            self._expand(opt_state) if stacked else opt_state,
            jax.tree.map(jnp.copy, params),  # its own buffers: the steps donate the state
            jax.tree.map(jnp.zeros_like, params),
            jnp.ones((), jnp.float32),
        )
        return place(state, self._shardings)

    # -- steps -------------------------------------------------------------------------------------------------
    def _sync_step(self, state: ParallelState, batch: dict, rng: jax.Array):
        flat = {k: v.reshape(-1, v.shape[-1]) for k, v in batch.items()}
        flat = jax.lax.with_sharding_constraint(flat, sharded(self.mesh))
        grads, metrics = self.local_step.gradients(state.params, flat, jax.random.fold_in(rng, state.step))
        params, opt_state = self.local_step.apply(
            grads, state.opt_state, state.params, state.lr_scale, self._keep(metrics["skipped"])
        )
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics

    def _local_step(self, state: ParallelState, batch: dict, rng: jax.Array, average_grads: bool):
        step_rng = jax.random.fold_in(rng, state.step)
        rngs = jax.vmap(lambda i: jax.random.fold_in(step_rng, i))(jnp.arange(self.count))
        grads, metrics = jax.vmap(self.local_step.gradients)(state.params, batch, rngs)
        if average_grads:
            grads = jax.tree.map(lambda g: jnp.broadcast_to(g.mean(0), g.shape), grads)
        skipped = (
            jnp.broadcast_to(metrics["skipped"].max(), metrics["skipped"].shape)
            if average_grads
            else metrics["skipped"]
        )
        params, opt_state = jax.vmap(lambda g, o, p, s: self.local_step.apply(g, o, p, state.lr_scale, self._keep(s)))(
            grads, state.opt_state, state.params, skipped
        )
        metrics = {
            "nll_sum": metrics["nll_sum"].sum(),
            "tokens": metrics["tokens"].sum(),
            "grad_norm": jax.vmap(optax.tree.norm)(grads).mean(),
            "skipped": metrics["skipped"].max(),
        }
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics

    def _block_update(self, state: ParallelState) -> ParallelState:
        pc = self.pc
        avg = jax.tree.map(lambda w: w.mean(0), state.params)
        if pc.method == "average":
            glob, momentum, start = avg, state.momentum, avg
        else:
            eta, zeta = self.eta, pc.block_lr
            prev_start = (
                jax.tree.map(lambda g, d: g + eta * d, state.global_params, state.momentum)
                if pc.nesterov
                else state.global_params
            )
            momentum = jax.tree.map(lambda d, a, s: eta * d + zeta * (a - s), state.momentum, avg, prev_start)
            glob = jax.tree.map(jnp.add, state.global_params, momentum)
            start = jax.tree.map(lambda g, d: g + eta * d, glob, momentum) if pc.nesterov else glob
        opt_state = state.opt_state
        if pc.average_opt_state:
            opt_state = jax.tree.map(
                lambda x: jnp.broadcast_to(x.mean(0), x.shape) if jnp.issubdtype(x.dtype, jnp.floating) else x,
                opt_state,
            )
        elif pc.reset_opt_state:
            opt_state = restart_moments(opt_state)
        return state.replace(params=self._expand(start), opt_state=opt_state, global_params=glob, momentum=momentum)

    def _start_blocks(self, state: ParallelState) -> ParallelState:
        """End of warm-up: the workers agree (they are identical), and that is the first global model."""
        return state.replace(global_params=jax.tree.map(lambda w: w[0], state.params))

    def step(self, state: ParallelState, batch: dict, rng: jax.Array, host_step: int):
        """One step of every worker; then, at the end of warm-up or of a block, the synchronisation.

        Args:
          batch: {"src", "tgt_in", "tgt_out"}: [K, rows, len] host or global arrays; host_step: state.step, known on
            the host so the loop never reads it back from the devices.
        Returns:
          (state, metrics summed over the workers).
        """
        batch = {k: _global(self.mesh, v) for k, v in batch.items()}
        if self.pc.method == "sync":
            return self._sync(state, batch, rng)
        warm = host_step < self.pc.warmup_steps
        state, metrics = (self._warm if warm else self._local)(state, batch, rng)
        done = host_step + 1
        if done == self.pc.warmup_steps:
            state = self._begin(state)
        elif not warm and (done - self.pc.warmup_steps) % self.pc.sync_every == 0:
            state = self._block(state)
        return state, metrics

    def advance(self, state: ParallelState, batch: dict, rng: jax.Array, host_step: int):
        """`step` on a host batch `[K·rows, len]` as the batch iterator gives it, split over the workers."""
        return self.step(state, split_batch(batch, self.count), rng, host_step)

    def model_params(self, state: ParallelState, host_step: int):
        """The model to evaluate: the replicated one (sync), the workers' common one during warm-up, else the
        global model of the last block update. With several processes, each gets its own copy on its first device
        (every process must ask at the same point), so that evaluating is each process's own business."""
        if self.pc.method == "sync":
            return _local(state.params)
        if host_step < self.pc.warmup_steps:
            return jax.tree.map(lambda w: w[0], _local(state.params))
        return _local(state.global_params)

    def programs(self) -> int:
        """Compiled step programs so far (one per batch shape and step kind)."""
        fns = (self._sync,) if self.pc.method == "sync" else (self._warm, self._local)
        return sum(f._cache_size() for f in fns)

    def decay_lr(self, state: ParallelState) -> ParallelState:
        return state.replace(lr_scale=state.lr_scale * self.pc.plateau_decay)


def _local(tree):
    if jax.process_count() == 1:
        return tree
    return jax.device_put(multihost_utils.process_allgather(tree, tiled=True), jax.local_devices()[0])


def _global(mesh, x):
    if isinstance(x, jax.Array) and len(x.sharding.device_set) == mesh.size:
        return x
    return global_array(mesh, x)


def split_batch(batch: dict, k: int) -> dict:
    """A host batch `[rows, len]` as `[k, ceil(rows / k), len]`, one slice per worker; rows are padded with empty
    rows (no tokens, so no loss) to a multiple of k."""
    out = {}
    for key in ("src", "tgt_in", "tgt_out"):
        x = np.asarray(batch[key])
        rows = -(-x.shape[0] // k) * k
        out[key] = np.pad(x, ((0, rows - x.shape[0]), (0, 0))).reshape(k, rows // k, -1)
    return out
