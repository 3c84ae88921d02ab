"""Orbax checkpoints of the latest and the best-BLEU state, each with JSON metadata (config, data position), and the
parameters of the last few evaluations."""
from __future__ import annotations

import logging
import os
import shutil

import jax
import orbax.checkpoint as ocp

logger = logging.getLogger(__name__)


class Checkpoints:
    """`<workdir>/checkpoints/{latest,best}`, and `evaluated/` with {"step", "params"} of the last `keep_evaluated`
    evaluations (their scores as metadata) when asked. Orbax writes each step to a temporary folder and renames it
    when complete, so an interrupted save never leaves a checkpoint that looks whole."""

    def __init__(self, workdir: str, keep_evaluated: int = 0):
        root = os.path.join(os.path.abspath(workdir), "checkpoints")
        opts = lambda keep: ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=False,
                                                         create=True)
        self.latest = ocp.CheckpointManager(os.path.join(root, "latest"), options=opts(2))  # one to fall back to
        self.best = ocp.CheckpointManager(os.path.join(root, "best"), options=opts(1))
        evaluated = os.path.join(root, "evaluated")
        self.evaluated = ocp.CheckpointManager(evaluated, options=opts(keep_evaluated or None)) \
            if keep_evaluated or os.path.isdir(evaluated) else None

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

    def save_evaluated(self, step: int, state, meta: dict) -> None:
        self._save(self.evaluated, step, state, meta)

    @staticmethod
    def restore(mgr, abstract_state, step: int | None = None, partial: bool = False):
        """Returns (state, meta) of `step` (default: the manager's newest), or None when it holds none. partial:
        `abstract_state` is a dict of some of the saved state's fields (`{"step", "params"}` of a training state),
        and only those are read."""
        step = mgr.latest_step() if step is None else step
        if step is None:
            return None
        # leaves with no sharding go to this process's first device, not to the devices the checkpoint was
        # written from: a run trained on CPUs loads on a GPU
        here = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=_sharding(x) or here),
                              abstract_state)
        if partial:
            args = ocp.args.PyTreeRestore(target, restore_args=ocp.checkpoint_utils.construct_restore_args(target),
                                          partial_restore=True)
        else:
            args = ocp.args.StandardRestore(target)
        out = mgr.restore(step, args=ocp.args.Composite(state=args, meta=ocp.args.JsonRestore()))
        return out.state, out.meta

    @staticmethod
    def remove_partial(workdir: str) -> list[str]:
        """Deletes the temporary folders of saves that never finished (a kill during a save); only the trainer that
        holds the workdir's lock may call it. Returns what it removed."""
        root, removed = os.path.join(os.path.abspath(workdir), "checkpoints"), []
        for kind in os.listdir(root) if os.path.isdir(root) else ():
            for name in os.listdir(os.path.join(root, kind)):
                if ".orbax-checkpoint-tmp" in name:
                    shutil.rmtree(os.path.join(root, kind, name), ignore_errors=True)
                    removed.append(os.path.join(kind, name))
        return removed

    @classmethod
    def restore_readable(cls, mgr, abstract_state):
        """`restore` of the newest step that reads back whole: an unreadable one is reported in one line and the one
        before it is tried. None when the manager holds none."""
        for step in sorted(mgr.all_steps(), reverse=True):
            try:
                return cls.restore(mgr, abstract_state, step)
            except Exception as e:  # noqa: BLE001 - a damaged checkpoint fails in many ways
                logger.warning(f"checkpoint {os.path.join(str(mgr.directory), str(step))} is unreadable "
                               f"({str(e).splitlines()[0][:160] if str(e) else type(e).__name__}); trying an older one")
        return None

    def close(self) -> None:
        for mgr in (self.latest, self.best, self.evaluated):
            if mgr is not None:
                mgr.close()


def _sharding(x):
    sharding = getattr(x, "sharding", None)
    return sharding if isinstance(sharding, jax.sharding.Sharding) else None
