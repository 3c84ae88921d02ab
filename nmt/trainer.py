"""The training loop as a library function: `run(config, workdir)` from a notebook or `python -m nmt.train`."""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import threading
import time

import jax
import numpy as np
from tqdm.auto import tqdm

from nmt import step as step_lib
from nmt.bleu import bleu
from nmt.checkpoint import Checkpoints
from nmt.config import Config, ConfigError, from_dict, to_dict, to_yaml
from nmt.data import BatchIterator, Examples, eval_batches, load_data
from nmt.decode import BeamConfig, translate_examples
from nmt.metrics import MetricWriter

RESUMABLE_CHANGES = {"train.steps", "train.eval_every", "train.log_every", "train.patience", "train.eval_bleu_max",
                     "parallel.devices"}  # where the workers run, not what they compute (tested equal)


def compiled_programs(jitted) -> int:
    """How many programs a jitted function has compiled (one per distinct input shape)."""
    return jitted._cache_size()


def _diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for k in a:
        if isinstance(a[k], dict):
            out += _diff(a[k], b.get(k, {}), f"{prefix}{k}.")
        elif a[k] != b.get(k) and not (isinstance(a[k], (list, tuple)) and list(a[k]) == list(b.get(k, []))):
            out.append(f"{prefix}{k}")
    return out


def _check_resume(config: Config, workdir: str) -> None:
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        saved = from_dict(json.load(f))
    changed = [k for k in _diff(to_dict(saved), to_dict(config)) if k not in RESUMABLE_CHANGES]
    if changed:
        raise ConfigError(f"{workdir} holds a run with a different configuration ({', '.join(changed)}); "
                          "resume it with the same settings or choose another --workdir")


class _Interrupt:
    """Turns SIGINT/SIGTERM into a flag the loop checks between steps, so the state is saved whole."""

    def __init__(self):
        self.signal = None
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def evaluate(model, params, split, sp, cfg: Config, eval_fn, max_sentences: int = 0) -> dict:
    """Validation loss/perplexity over a split, and greedy BLEU over its first `max_sentences` (0 = all)."""
    nll = tokens = 0.0
    for batch in eval_batches(split.examples, cfg.data.buckets, cfg.data.batch_tokens):
        m = jax.device_get(eval_fn(params, step_lib.model_batch(batch)))
        nll, tokens = nll + float(m["nll_sum"]), tokens + float(m["tokens"])
    n = len(split.examples) if not max_sentences else min(max_sentences, len(split.examples))
    ex = split.examples if n == len(split.examples) else Examples(
        split.examples.src[:n], split.examples.tgt[:n], np.arange(n))
    hyps = translate_examples(model, params, ex, sp, cfg.data.buckets, cfg.data.batch_tokens)
    scores = bleu(hyps, split.ref_text[:n])
    return {"loss": nll / max(tokens, 1), "ppl": math.exp(min(nll / max(tokens, 1), 50)), "sentences": n,
            **scores, "hyps": hyps}


def run(config: Config, workdir: str, log=print, progress: bool = True) -> dict:
    """Trains (or resumes) a model in `workdir`; returns the final metrics.

    Writes `config.json`, `vocab.model`, `metrics.jsonl`, `tb/`, `checkpoints/{latest,best}` and, when the run
    completes, `results.json` with val and test BLEU of the best checkpoint.
    """
    os.makedirs(workdir, exist_ok=True)
    _check_resume(config, workdir)
    vocab_in_workdir = os.path.join(workdir, "vocab.model")
    data = load_data(config.data, vocab_path=vocab_in_workdir if os.path.exists(vocab_in_workdir) else None, log=log)
    if not os.path.exists(vocab_in_workdir):
        shutil.copyfile(data.vocab_path, vocab_in_workdir)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(to_dict(config), f, indent=1)

    if config.model.remat == "auto":
        from nmt.memory.autofit import autofit
        config = autofit(config, data.sp.vocab_size(), log=log)[0]
    model = step_lib.make_model(config, data.sp.vocab_size())
    root = jax.random.key(config.train.seed)
    init_rng, step_rng = jax.random.split(root)
    eval_fn = step_lib.compile_eval_step(model)
    if config.parallel.method == "none":
        optimizer = step_lib.make_optimizer(config.train)
        train_fn = step_lib.compile_train_step(config, model, optimizer)
        state = step_lib.init_state(model, optimizer, init_rng)
        step_fn = lambda state, batch, step: train_fn(state, step_lib.model_batch(batch), step_rng)
        params_of = lambda state, step: state.params
        programs = lambda: compiled_programs(train_fn)
        workers = 1
    else:
        from nmt import parallel
        parallel.initialize_distributed()
        pc = config.parallel
        team = parallel.Workers(config, model, parallel.make_mesh(pc.devices or pc.workers), pc.workers)
        state, workers = team.init(init_rng), team.k
        step_fn = lambda state, batch, step: team.step(state, parallel.split_batch(batch, team.k), step_rng, step)
        params_of = team.model_params
        programs = team.programs
    n_params = sum(x.size for x in jax.tree.leaves(params_of(state, 0)))
    batches = BatchIterator(data.train.examples, config.data.buckets, config.data.batch_tokens * workers,
                            config.train.seed)
    ckpt = Checkpoints(workdir)
    meta = {"best_bleu": -1.0, "bad_evals": 0, "best_loss": None}
    restored = Checkpoints.restore(ckpt.latest, state)
    if restored is not None:
        state, meta = restored
        batches.restore(meta["data"])
        log(f"resumed from step {int(state.step)} (epoch {batches.epoch}, batch {batches.pos})")
    log(f"model: {n_params / 1e6:.2f}M parameters; {batches.steps_per_epoch()} batches per epoch in "
        f"{len(batches.shapes())} shapes" + (f"; {workers} workers ({config.parallel.method})" if workers > 1 else "")
        + "\n" + to_yaml(config).rstrip())
    lr_fn = step_lib.learning_rate(config.train)
    writer = MetricWriter(workdir)
    tc = config.train

    def save(kind="latest"):
        m = dict(meta, data=batches.position, config=to_dict(config))
        (ckpt.save_latest if kind == "latest" else ckpt.save_best)(int(state.step), state, m)

    step = int(state.step)  # counted on the host too, so the loop never waits on the device to read it
    pending, window_start, stopped = [], time.time(), None
    bar = tqdm(total=tc.steps, initial=step, disable=not progress, dynamic_ncols=True, desc="train")
    try:
        with _Interrupt() as interrupt:
            while step < tc.steps and not stopped:
                state, metrics = step_fn(state, next(batches), step)
                pending.append(metrics)
                step += 1
                bar.update(1)
                if step % tc.log_every == 0 or step == tc.steps:
                    row = _train_row(jax.device_get(pending), time.time() - window_start, float(lr_fn(step - 1)),
                                     batches.epoch, programs())
                    writer.write(step, "train", row)
                    bar.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{row['lr']:.2e}",
                                    tok_s=f"{row['tokens_per_s']:.0f}")
                    pending, window_start = [], time.time()
                if step % tc.eval_every == 0 or step == tc.steps:
                    ev = evaluate(model, params_of(state, step), data.val, data.sp, config, eval_fn,
                                  tc.eval_bleu_max)
                    del ev["hyps"]
                    writer.write(step, "val", ev)
                    bar.write(f"step {step}: val loss {ev['loss']:.3f} ppl {ev['ppl']:.2f} "
                              f"BLEU {ev['bleu']:.2f} (lc {ev['bleu_lc']:.2f}, {ev['sentences']} sentences)")
                    best_loss = meta.get("best_loss")
                    if workers > 1 and best_loss is not None and ev["loss"] >= best_loss:
                        state = team.decay_lr(state)  # the plateau rule of the parallel learning rate
                    meta["best_loss"] = ev["loss"] if best_loss is None else min(ev["loss"], best_loss)
                    improved = ev["bleu"] > meta["best_bleu"]
                    meta.update(best_bleu=max(ev["bleu"], meta["best_bleu"]),
                                bad_evals=0 if improved else meta["bad_evals"] + 1)
                    if improved:
                        save("best")
                    save("latest")
                    if tc.patience and meta["bad_evals"] >= tc.patience:
                        stopped = f"no better val BLEU in {tc.patience} evaluations"
                    window_start = time.time()
                if interrupt.signal:
                    save("latest")
                    log(f"{interrupt.signal}: saved step {step} to {workdir}; run the same command to resume")
                    return {"interrupted": True, "step": step, "state": state}
        bar.close()
        save("latest")
        if stopped:
            log(f"early stop at step {step}: {stopped}")
        best = Checkpoints.restore(ckpt.best, state)
        results = {"step": step, "best_step": ckpt.best.latest_step(), "train_programs": programs(),
                   "train_shapes": len(batches.shapes()), "parameters": int(n_params)}
        best_params = params_of(best[0], ckpt.best.latest_step()) if best else params_of(state, step)
        results.update(_final_evaluation(model, best_params, data, config, eval_fn,
                                         workdir, log))
        final = {f"{s}_{k}": results[s][k] for s in ("val", "test") for k in ("bleu", "bleu_lc", "loss")}
        final.update({f"{s}_beam_{k}": results[s]["beam"][k] for s in ("val", "test") if "beam" in results[s]
                      for k in ("bleu", "bleu_lc")})
        writer.write(step, "final", final)
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
        return dict(results, state=state, model=model, sp=data.sp)
    finally:
        bar.close()
        writer.close()
        ckpt.close()


def _train_row(window: list[dict], elapsed: float, lr: float, epoch: int, programs: int) -> dict:
    """Loss per target token, throughput and the rest over the steps since the last log line."""
    tokens = sum(float(m["tokens"]) for m in window)
    return {"loss": sum(float(m["nll_sum"]) for m in window) / max(tokens, 1), "lr": lr,
            "tokens_per_s": tokens / max(elapsed, 1e-9), "grad_norm": float(window[-1]["grad_norm"]),
            "epoch": epoch, "programs": programs}


def _final_evaluation(model, params, data, config: Config, eval_fn, workdir: str, log) -> dict:
    """Val and test scores of `params`, greedy and (train.final_beam > 1) beam search; the hypotheses of the last
    search are written to `<split>.hyp`."""
    k = config.train.final_beam
    results = {}
    for name, split in (("val", data.val), ("test", data.test)):
        ev = evaluate(model, params, split, data.sp, config, eval_fn)
        hyps = ev.pop("hyps")
        line = f"greedy BLEU {ev['bleu']:.2f} cased, {ev['bleu_lc']:.2f} lowercased"
        if k > 1:
            hyps = translate_examples(model, params, split.examples, data.sp, config.data.buckets,
                                      config.data.batch_tokens, BeamConfig(beam=k))
            ev["beam"] = {"beam": k, "alpha": BeamConfig().alpha, **bleu(hyps, split.ref_text)}
            line += f"; beam {k} BLEU {ev['beam']['bleu']:.2f} cased, {ev['beam']['bleu_lc']:.2f} lowercased"
        with open(os.path.join(workdir, f"{name}.hyp"), "w") as f:
            f.write("\n".join(hyps) + "\n")
        results[name] = ev
        log(f"{name} ({split.name}): {line}; loss {ev['loss']:.3f}, ppl {ev['ppl']:.2f}")
    log(f"sacrebleu: {results['test']['signature']} | {results['test']['signature_lc']}")
    return results
