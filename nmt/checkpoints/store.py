"""Orbax checkpoints of the latest and the best-BLEU state, each with JSON metadata (config, data position), and the
parameters of the last few evaluations."""

from __future__ import annotations

import logging
import os
import shutil

import jax
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from nmt.checkpoints.errors import CheckpointError

logger = logging.getLogger(__name__)
ASIDE = "aside"  # checkpoints/aside/: steps a resumed run cannot use, kept for a post-mortem instead of deleted


class Checkpoints:
    """`<workdir>/checkpoints/{latest,best}`, and `evaluated/` with {"step", "params"} of the last `keep_evaluated`
    evaluations (their scores as metadata) when asked. Orbax writes each step to a temporary folder and renames it
    when complete, so an interrupted save never leaves a checkpoint that looks whole."""

    def __init__(self, workdir: str, keep_evaluated: int = 0):
        self.root = os.path.join(os.path.abspath(workdir), "checkpoints")
        opts = lambda keep: ocp.CheckpointManagerOptions(
            max_to_keep=keep, enable_async_checkpointing=False, create=True
        )
        self.latest = ocp.CheckpointManager(os.path.join(self.root, "latest"), options=opts(2))  # one to fall back to
        self.best = ocp.CheckpointManager(os.path.join(self.root, "best"), options=opts(1))
        evaluated = os.path.join(self.root, "evaluated")
        self.evaluated = (
            ocp.CheckpointManager(evaluated, options=opts(keep_evaluated or None))
            if keep_evaluated or os.path.isdir(evaluated)
            else None
        )

    @staticmethod
    def _save(mgr, step: int, state, meta: dict) -> None:
        if mgr.latest_step() == step:  # saved already (the final save right after the last evaluation's)
            return
        saved = mgr.save(
            step, args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        )
        mgr.wait_until_finished()
        if not saved:  # Orbax writes no step at or below the newest it holds
            raise CheckpointError(
                f"step {step} was not saved: {mgr.directory} already holds step {mgr.latest_step()}, a later one"
            )

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
        target = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=_sharding(x) or here), abstract_state
        )
        if partial:
            args = ocp.args.PyTreeRestore(
                target, restore_args=ocp.checkpoint_utils.construct_restore_args(target), partial_restore=True
            )
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

    def newest_readable(self, mgr, abstract_state):
        """(step, (state, meta), unreadable): the newest step of `mgr` that reads back whole, and the (step, why) of
        each newer one, which did not; step and state are None where no step is readable."""
        unreadable = []
        for step in sorted(mgr.all_steps(), reverse=True):
            try:
                return step, self.restore(mgr, abstract_state, step), unreadable
            except Exception as e:  # noqa: BLE001 - a damaged checkpoint fails in many ways
                unreadable.append((step, str(e).splitlines()[0][:160] if str(e) else type(e).__name__))
        return None, None, unreadable

    def resume(self, abstract_state):
        """(state, meta) of the newest readable `latest` step, or None where there is none. The steps it cannot use
        go to `checkpoints/aside/`, each named in one line: unreadable `latest` steps above it, and `best` and
        `evaluated` steps after it (a run replayed from an older state saves those steps again, and Orbax writes no
        step below one it holds). A workdir whose `latest` steps are all unreadable is a CheckpointError."""
        step, restored, unreadable = self.newest_readable(self.latest, abstract_state)
        if step is None and unreadable:
            raise CheckpointError(
                f"no checkpoint in {self.latest.directory} is readable (steps "
                f"{', '.join(str(s) for s, _ in unreadable)}: {unreadable[0][1]}); to start again from "
                f"step 0, remove {self.root} or choose another --workdir"
            )
        moves = [(self.latest, s, f"unreadable ({why})") for s, why in unreadable]
        for mgr in (self.best, self.evaluated) if step is not None else ():
            moves += [
                (mgr, s, f"saved after step {step}, which the run resumes from")
                for s in (mgr.all_steps() if mgr is not None else ())
                if s > step
            ]
        self._set_aside(moves)
        return restored

    def restore_best(self, abstract_state):
        """(step, (state, meta)) of the best checkpoint; (None, None) where there is none, or where it is unreadable
        (then moved to `checkpoints/aside/` and named in one line)."""
        step, restored, unreadable = self.newest_readable(self.best, abstract_state)
        self._set_aside([(self.best, s, f"unreadable ({why})") for s, why in unreadable])
        return step, restored

    def _set_aside(self, moves: list) -> None:
        """Moves each (manager, step, why) to `checkpoints/aside/<kind>-<step>` (the first process of a run does it,
        the others wait for it) and makes every manager read its folder again."""
        if not moves:
            return
        if jax.process_index() == 0:
            for mgr, step, why in moves:
                src = os.path.join(str(mgr.directory), str(step))
                dst = _free_name(os.path.join(self.root, ASIDE, f"{os.path.basename(str(mgr.directory))}-{step}"))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                os.rename(src, dst)
                logger.warning(f"moved checkpoint {src} to {dst}: {why}")
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices("nmt: checkpoints set aside")
        for mgr in {id(m): m for m, _, _ in moves}.values():
            mgr.reload()

    def close(self) -> None:
        for mgr in (self.latest, self.best, self.evaluated):
            if mgr is not None:
                mgr.close()


def _free_name(path: str) -> str:
    """`path`, or `path.1`, `path.2`, ... where it exists (a step set aside twice keeps both)."""
    name, i = path, 0
    while os.path.exists(name):
        i += 1
        name = f"{path}.{i}"
    return name


def _sharding(x):
    sharding = getattr(x, "sharding", None)
    return sharding if isinstance(sharding, jax.sharding.Sharding) else None
