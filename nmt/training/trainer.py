"""The training loop as a library function, `run(config, workdir)`, for a notebook or `python -m nmt.train`.

It runs in named stages:
  set_up       configuration checks, data and vocabulary, model, workers, the resumed state
  train_loop   the steps, a log row every train.log_every steps and `validation` every train.eval_every steps
  validation   validation scores, the plateau and patience rules, checkpoints
  finish       the best checkpoint scored on val and test, `results.json`
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import time
from typing import Any

import jax
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from nmt import parallel
from nmt.checkpoints import Checkpoints, average_evaluated
from nmt.config import Config, ConfigError, to_dict, to_yaml
from nmt.data import BatchIterator, Data, load_data
from nmt.data.sampling import segmentation_sampler
from nmt.model import Seq2Seq, make_model, policies
from nmt.training import step as step_lib
from nmt.training.autofit import autofit
from nmt.training.errors import TrainingError
from nmt.training.evaluation import final_evaluation, validate
from nmt.training.interrupt import Interrupt
from nmt.training.lock import WorkdirLock
from nmt.training.metrics import MetricWriter, NonFinite, train_row
from nmt.training.multiprocess import any_process, from_runtime, leave_after_loss
from nmt.training.resume import check_resume
from nmt.training.workers import make_workers
from nmt.utils import copy_atomic, write_atomic

logger = logging.getLogger(__name__)
_clock = time.monotonic  # of train.save_every_s

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
            raise TrainingError(f"step {int(self.state.step)}: the parameters are not finite; not saved (the last "
                                f"checkpoint in {self.workdir} is kept)")
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
        raise ConfigError("model.int8: int8 weights are for decoding and cannot be trained; fine-tune before "
                          "quantising (nmt.compress --finetune-steps S --int8)")
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
    batches = BatchIterator(data.train.examples, config.data.buckets, config.data.batch_tokens * workers.count,
                            config.train.seed, config.data.full_batches, config.data.pair_shapes,
                            _sampler(config, data))
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
    logger.info(f"model: {parameters / 1e6:.2f}M parameters; {batches.steps_per_epoch()} batches per epoch in "
                f"{len(batches.shapes())} shapes"
                + (f"; {workers.count} workers ({config.parallel.method})" if workers.count > 1 else "")
                + "\n" + to_yaml(config).rstrip())
    writer = MetricWriter(workdir, primary, start=int(state.step))
    return Session(config, workdir, data, model, workers, state, batches, ckpt, writer, step_rng, meta, parameters,
                   lock, primary)


def _log_above_bar(progress: bool):
    """While the progress bar runs, the log lines that go to a console go above it (tqdm.write), not through it."""
    if not progress:
        return contextlib.nullcontext()
    loggers = [logger for logger in (logging.root, logging.getLogger("nmt"))
               if any(isinstance(h, logging.StreamHandler) for h in logger.handlers)]
    return logging_redirect_tqdm(loggers=loggers)


def _sampler(config: Config, data: Data):
    """Subword regularisation's sampler of each epoch's segmentation, or None."""
    data_cfg = config.data
    if data_cfg.spm_alpha <= 0:
        return None
    return segmentation_sampler(data.sp, data.train.src_text, data.train.ref_text, data.train.examples,
                                data_cfg.spm_alpha,
                                data_cfg.spm_nbest, data_cfg.max_len, config.train.seed)


def train_loop(session: Session, progress: bool) -> tuple[int, str | None, str | None]:
    """Steps until train.steps, an early stop or a signal; returns (step, why it stopped early, the signal)."""
    train_cfg = session.config.train
    lr_fn = step_lib.learning_rate(train_cfg)
    step = int(session.state.step)  # counted on the host too, so the loop never waits on the device to read it
    pending, window_start, stopped, saved_at = [], time.time(), None, _clock()
    nonfinite = NonFinite(train_cfg.nonfinite_limit)
    progress = progress and session.primary
    bar = tqdm(total=train_cfg.steps, initial=step, disable=not progress, dynamic_ncols=True, desc="train")
    with Interrupt() as interrupt, _log_above_bar(progress), bar:
        while step < train_cfg.steps and not stopped:
            session.state, metrics = session.workers.advance(session.state, next(session.batches), session.rng, step)
            pending.append(metrics)
            step += 1
            bar.update(1)
            logged = step % train_cfg.log_every == 0 or step == train_cfg.steps
            if logged:
                window = jax.device_get(pending)
                row = train_row(window, time.time() - window_start, float(lr_fn(step - 1)), session.batches.epoch,
                                 session.workers.programs())
                session.writer.write(step, "train", row)
                nonfinite.check(window, step)
                bar.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{row['lr']:.2e}", tok_s=f"{row['tokens_per_s']:.0f}",
                                **({"skipped": nonfinite.total} if nonfinite.total else {}))
                pending, window_start = [], time.time()
            if step % train_cfg.eval_every == 0 or step == train_cfg.steps:
                stopped = validation(session, step)
                window_start, saved_at = time.time(), _clock()
            elif train_cfg.save_every_s and any_process(_clock() - saved_at >= train_cfg.save_every_s, logged):
                session.save("latest")
                saved_at = _clock()
            if any_process(interrupt.signal is not None, logged):
                session.save("latest")
                why = interrupt.signal or "a signal to another process"
                logger.info(f"{why}: saved step {step} to {session.workdir}; run the same command to resume")
                return step, None, why
    return step, stopped, None


def validation(session: Session, step: int) -> str | None:
    """Scores the current model on val, applies the plateau rule, saves the checkpoints; returns why training
    should stop early (train.patience), or None."""
    train_cfg = session.config.train
    params = session.workers.model_params(session.state, step)
    scores = validate(session.model, params, session.data.val, session.data.sp, session.config,
                      train_cfg.eval_bleu_max)
    del scores["hyps"]
    session.writer.write(step, "val", scores)
    logger.info(f"step {step}: val loss {scores['loss']:.3f} ppl {scores['ppl']:.2f} BLEU {scores['bleu']:.2f} "
                f"(lc {scores['bleu_lc']:.2f}, {scores['sentences']} sentences)")
    best_loss = session.meta.get("best_loss")
    if best_loss is not None and scores["loss"] >= best_loss:
        session.state = session.workers.decay_lr(session.state)
    session.meta["best_loss"] = scores["loss"] if best_loss is None else min(scores["loss"], best_loss)
    improved = scores["bleu"] > session.meta["best_bleu"]
    session.meta.update(best_bleu=max(scores["bleu"], session.meta["best_bleu"]),
                        bad_evals=0 if improved else session.meta["bad_evals"] + 1)
    if improved:
        session.save("best")
    session.save("latest")
    if train_cfg.keep_evaluated:
        params = session.workers.model_params(session.state, step)
        session.ckpt.save_evaluated(step, {"step": session.state.step, "params": params}, dict(scores, step=step))
    if train_cfg.patience and session.meta["bad_evals"] >= train_cfg.patience:
        return f"no better val BLEU in {train_cfg.patience} evaluations"
    return None


def finish(session: Session, step: int, stopped: str | None) -> dict:
    """Saves the last state, scores the best checkpoint on val and test, writes `results.json`."""
    session.save("latest")
    if stopped:
        logger.info(f"early stop at step {step}: {stopped}")
    best_step, best = session.ckpt.restore_best(session.state)
    if best is None:
        logger.warning(f"no readable best checkpoint: scoring the latest state (step {step}) instead")
        best_step = step
    params = session.workers.model_params(best[0] if best else session.state, best_step)
    results = {"step": step, "best_step": best_step, "train_programs": session.workers.programs(),
               "train_shapes": len(session.batches.shapes()), "parameters": session.parameters}
    if session.config.train.final_average:
        params, results["averaged_steps"] = average_evaluated(session.ckpt, params, session.config.train.final_average,
                                                              session.workdir)
        logger.info(f"scoring the average of the evaluations at steps {results['averaged_steps']}")
    results.update(final_evaluation(session.model, params, session.data, session.config,
                                    session.workdir if session.primary else None))
    final = {f"{n}_{k}": results[n][k] for n in ("val", "test") for k in ("bleu", "bleu_lc", "loss")}
    final.update({f"{n}_beam_{k}": results[n]["beam"][k] for n in ("val", "test") if "beam" in results[n]
                  for k in ("bleu", "bleu_lc")})
    session.writer.write(step, "final", final)
    if session.primary:
        write_atomic(os.path.join(session.workdir, "results.json"), json.dumps(results, indent=1))
    return dict(results, state=session.state, model=session.model, sp=session.data.sp)


def run(config: Config, workdir: str, progress: bool = True, init_params=None) -> dict:
    """Trains (or resumes) a model in `workdir`; returns the final metrics (and `state`, `model`, `sp`).

    Writes `config.json`, `vocab.model`, `metrics.jsonl`, `tb/`, `checkpoints/{latest,best}` and, when the run
    completes, `results.json` with val and test BLEU of the best checkpoint. Interrupted by SIGINT or SIGTERM, it
    saves the state and returns {"interrupted": True, "step", "state"}. init_params: where `workdir` holds no
    checkpoint, the parameters to start from (fine-tuning a compressed model, nmt.compress).
    """
    session = set_up(config, workdir, init_params)
    try:
        step, stopped, interrupted = train_loop(session, progress)
        if interrupted:
            return {"interrupted": True, "step": step, "state": session.state}
        return finish(session, step, stopped)
    except Exception as e:
        if jax.process_count() == 1 or not from_runtime(e):
            raise
        leave_after_loss(e)
    finally:
        session.close()
