"""A training run in progress (`Session`) and the stage that builds it, `set_up`: configuration checks, data and
vocabulary, model, workers, and the state resumed from the workdir's checkpoint."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from typing import Any

import jax

from nmt import parallel
from nmt.checkpoints import Checkpoints
from nmt.config import Config, ConfigError, to_dict, to_yaml
from nmt.data import BatchIterator, Data, load_data
from nmt.data.sampling import segmentation_sampler
from nmt.model import Seq2Seq, make_model, policies
from nmt.training.autofit import autofit
from nmt.training.errors import TrainingError
from nmt.training.lock import WorkdirLock
from nmt.training.metrics import MetricWriter
from nmt.training.resume import check_resume
from nmt.training.workers import make_workers
from nmt.utils import copy_atomic, write_atomic

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Session:
    """A run in progress: what `set_up` builds and the later stages share."""

    config: Config
    workdir: str
    data: Data
    model: Seq2Seq
    workers: Any  # see nmt.training.workers
    state: Any
    batches: BatchIterator
    ckpt: Checkpoints
    writer: MetricWriter
    rng: jax.Array  # the steps' root key, folded with the step number inside the step
    meta: dict  # best_bleu, bad_evals, best_loss: saved with every checkpoint
    parameters: int
    lock: WorkdirLock
    primary: bool  # the process that writes files and logs (the first of a multi-process run)

    def save(self, kind: str = "latest") -> None:
        """Saves the state as `kind`; refuses (TrainingError) a state whose parameters are not all finite."""
        params = self.workers.model_params(self.state, int(self.state.step))
        if not all(bool(jax.numpy.isfinite(x).all()) for x in jax.tree.leaves(params)):
            raise TrainingError(
                f"step {int(self.state.step)}: the parameters are not finite; not saved (the last "
                f"checkpoint in {self.workdir} is kept)"
            )
        meta = dict(self.meta, data=self.batches.position, config=to_dict(self.config))
        save = self.ckpt.save_latest if kind == "latest" else self.ckpt.save_best
        save(int(self.state.step), self.state, meta)

    def close(self) -> None:
        self.writer.close()
        self.ckpt.close()
        self.lock.release()


def set_up(config: Config, workdir: str, init_params=None) -> Session:
    """Everything before the first step; a workdir that holds a checkpoint resumes from it, else the parameters
    start as `init_params` when given (fine-tuning; one worker). With NMT_NUM_PROCESSES > 1 it first joins JAX's
    distributed runtime, before anything touches a device."""
    parallel.initialize_distributed()
    policies.check(config.model.remat)
    if config.model.int8:
        raise ConfigError(
            "model.int8: int8 weights are for decoding and cannot be trained; fine-tune before "
            "quantising (nmt.compress --finetune-steps S --int8)"
        )
    created, fresh = not os.path.exists(workdir), not os.path.isdir(workdir) or not os.listdir(workdir)
    os.makedirs(workdir, exist_ok=True)
    primary, lock = jax.process_index() == 0, WorkdirLock(workdir)
    if primary:
        lock.acquire()
        for name in Checkpoints.remove_partial(workdir):
            logger.info(f"removed {name}, a save that never finished")
    else:
        logging.getLogger("nmt").setLevel(logging.WARNING)
    try:
        return _set_up(config, workdir, lock, primary, init_params)
    except BaseException:
        if primary and fresh:  # a run that never started leaves nothing behind
            _empty(workdir, remove=created)
        lock.release()
        raise


def _empty(folder: str, remove: bool) -> None:
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)
    if remove:
        os.rmdir(folder)


def _set_up(config: Config, workdir: str, lock: WorkdirLock, primary: bool, init_params) -> Session:
    check_resume(config, workdir)
    vocab_in_workdir = os.path.join(workdir, "vocab.model")
    data = load_data(config.data, vocab_path=vocab_in_workdir if os.path.exists(vocab_in_workdir) else None)
    if primary and not os.path.exists(vocab_in_workdir):
        copy_atomic(data.vocab_path, vocab_in_workdir)
    if primary:
        write_atomic(os.path.join(workdir, "config.json"), json.dumps(to_dict(config), indent=1))
    if config.model.remat == "auto":
        config = autofit(config, data.sp.vocab_size())[0]
    model = make_model(config, data.sp.vocab_size())
    init_rng, step_rng = jax.random.split(jax.random.key(config.train.seed))
    workers = make_workers(config, model)
    state = workers.init(init_rng)
    batches = BatchIterator(
        data.train.examples,
        config.data.buckets,
        config.data.batch_tokens * workers.count,
        config.train.seed,
        config.data.full_batches,
        config.data.pair_shapes,
        _sampler(config, data),
    )
    ckpt = Checkpoints(workdir, config.train.keep_evaluated)
    meta = {"best_bleu": -1.0, "bad_evals": 0, "best_loss": None}
    restored = ckpt.resume(state)
    if restored is not None:
        state, meta = restored
        batches.restore(meta["data"])
        logger.info(f"resumed from step {int(state.step)} (epoch {batches.epoch}, batch {batches.pos})")
    elif init_params is not None:
        if workers.count > 1:
            raise ConfigError("training from given parameters takes one worker (parallel.workers=1)")
        given = lambda: jax.tree.map(lambda a, b: jax.numpy.array(b, a.dtype), state.params, init_params)
        state = state.replace(params=given(), ema=None if state.ema is None else given())  # never one buffer twice
    parameters = int(sum(x.size for x in jax.tree.leaves(workers.model_params(state, 0))))
    logger.info(
        f"model: {parameters / 1e6:.2f}M parameters; {batches.steps_per_epoch()} batches per epoch in "
        f"{len(batches.shapes())} shapes"
        + (f"; {workers.count} workers ({config.parallel.method})" if workers.count > 1 else "")
        + "\n"
        + to_yaml(config).rstrip()
    )
    writer = MetricWriter(workdir, primary, start=int(state.step))
    return Session(
        config, workdir, data, model, workers, state, batches, ckpt, writer, step_rng, meta, parameters, lock, primary
    )


def _sampler(config: Config, data: Data):
    """Subword regularisation's sampler of each epoch's segmentation, or None."""
    data_cfg = config.data
    if data_cfg.spm_alpha <= 0:
        return None
    return segmentation_sampler(
        data.sp,
        data.train.src_text,
        data.train.ref_text,
        data.train.examples,
        data_cfg.spm_alpha,
        data_cfg.spm_nbest,
        data_cfg.max_len,
        config.train.seed,
    )
