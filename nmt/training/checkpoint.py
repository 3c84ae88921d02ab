"""Orbax checkpoints of the latest and the best-BLEU state, each with JSON metadata (config, data position)."""
from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp


class Checkpoints:
    """`<workdir>/checkpoints/{latest,best}`; Orbax writes each step to a temporary folder and renames it when
    complete, so an interrupted save never leaves a checkpoint that looks whole."""

    def __init__(self, workdir: str):
        root = os.path.join(os.path.abspath(workdir), "checkpoints")
        opts = ocp.CheckpointManagerOptions(max_to_keep=1, enable_async_checkpointing=False, create=True)
        self.latest = ocp.CheckpointManager(os.path.join(root, "latest"), options=opts)
        self.best = ocp.CheckpointManager(os.path.join(root, "best"), options=opts)

    @staticmethod
    def _save(mgr, step: int, state, meta: dict) -> None:
        if mgr.latest_step() == step:
            return
        mgr.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)))
        mgr.wait_until_finished()

    def save_latest(self, step: int, state, meta: dict) -> None:
        self._save(self.latest, step, state, meta)

    def save_best(self, step: int, state, meta: dict) -> None:
        self._save(self.best, step, state, meta)

    @staticmethod
    def restore(mgr, abstract_state):
        """Returns (state, meta) of the manager's newest step, or None when it holds none."""
        step = mgr.latest_step()
        if step is None:
            return None
        # leaves with no sharding go to this process's first device, not to the devices the checkpoint was
        # written from: a run trained on CPUs loads on a GPU
        here = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=_sharding(x) or here),
                              abstract_state)
        out = mgr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target),
                                                        meta=ocp.args.JsonRestore()))
        return out.state, out.meta

    def close(self) -> None:
        self.latest.close()
        self.best.close()


def _sharding(x):
    sharding = getattr(x, "sharding", None)
    return sharding if isinstance(sharding, jax.sharding.Sharding) else None
