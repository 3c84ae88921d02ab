"""The training loop as a library function, `run(config, workdir)`, for a notebook or `python -m nmt.train`.

It runs in named stages:
  set_up       configuration checks, data and vocabulary, model, workers, the resumed state (nmt/training/session.py)
  train_loop   the steps, a log row every train.log_every steps and `validation` every train.eval_every steps
  validation   validation scores, the plateau and patience rules, checkpoints
  finish       the best checkpoint scored on val and test, `results.json`
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time

import jax
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from nmt.checkpoints import average_evaluated
from nmt.config import Config
from nmt.training import step as step_lib
from nmt.training.evaluation import final_evaluation, validate
from nmt.training.interrupt import Interrupt
from nmt.training.metrics import NonFinite, train_row
from nmt.training.multiprocess import any_process, from_runtime, leave_after_loss
from nmt.training.session import Session, set_up
from nmt.utils import write_atomic

logger = logging.getLogger(__name__)
_clock = time.monotonic  # of train.save_every_s


def _log_above_bar(progress: bool):
    """While the progress bar runs, the log lines that go to a console go above it (tqdm.write), not through it."""
    if not progress:
        return contextlib.nullcontext()
    loggers = [
        logger
        for logger in (logging.root, logging.getLogger("nmt"))
        if any(isinstance(h, logging.StreamHandler) for h in logger.handlers)
    ]
    return logging_redirect_tqdm(loggers=loggers)


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
                row = train_row(
                    window,
                    time.time() - window_start,
                    float(lr_fn(step - 1)),
                    session.batches.epoch,
                    session.workers.programs(),
                )
                session.writer.write(step, "train", row)
                nonfinite.check(window, step)
                bar.set_postfix(
                    loss=f"{row['loss']:.3f}",
                    lr=f"{row['lr']:.2e}",
                    tok_s=f"{row['tokens_per_s']:.0f}",
                    **({"skipped": nonfinite.total} if nonfinite.total else {}),
                )
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
    scores = validate(session.model, params, session.data.val, session.data.sp, session.config, train_cfg.eval_bleu_max)
    del scores["hyps"]
    session.writer.write(step, "val", scores)
    logger.info(
        f"step {step}: val loss {scores['loss']:.3f} ppl {scores['ppl']:.2f} BLEU {scores['bleu']:.2f} "
        f"(lc {scores['bleu_lc']:.2f}, {scores['sentences']} sentences)"
    )
    best_loss = session.meta.get("best_loss")
    if best_loss is not None and scores["loss"] >= best_loss:
        session.state = session.workers.decay_lr(session.state)
    session.meta["best_loss"] = scores["loss"] if best_loss is None else min(scores["loss"], best_loss)
    improved = scores["bleu"] > session.meta["best_bleu"]
    session.meta.update(
        best_bleu=max(scores["bleu"], session.meta["best_bleu"]),
        bad_evals=0 if improved else session.meta["bad_evals"] + 1,
    )
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
    results = {
        "step": step,
        "best_step": best_step,
        "train_programs": session.workers.programs(),
        "train_shapes": len(session.batches.shapes()),
        "parameters": session.parameters,
    }
    if session.config.train.final_average:
        params, results["averaged_steps"] = average_evaluated(
            session.ckpt, params, session.config.train.final_average, session.workdir
        )
        logger.info(f"scoring the average of the evaluations at steps {results['averaged_steps']}")
    results.update(
        final_evaluation(
            session.model, params, session.data, session.config, session.workdir if session.primary else None
        )
    )
    final = {f"{n}_{k}": results[n][k] for n in ("val", "test") for k in ("bleu", "bleu_lc", "loss")}
    final.update(
        {
            f"{n}_beam_{k}": results[n]["beam"][k]
            for n in ("val", "test")
            if "beam" in results[n]
            for k in ("bleu", "bleu_lc")
        }
    )
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
