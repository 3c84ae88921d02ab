"""Loading a trained or released run (config, vocabulary, parameters) for translation and evaluation."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
from sentencepiece import SentencePieceProcessor

from nmt.checkpoints import Checkpoints
from nmt.config import Config, from_dict
from nmt.data import vocab
from nmt.model import Seq2Seq, init_params, make_model
from nmt.run.errors import RunError

RELEASE_FILE = "release.json"  # marks a released run: its checkpoint holds {"step", "params"} only


@dataclasses.dataclass
class LoadedRun:
    config: Config
    model: Seq2Seq
    params: Any  # the parameters' pytree, as the model declares them
    sp: SentencePieceProcessor
    step: int
    which: str  # "best", "latest" or "evaluated"
    workdir: str


def params_key(config: Config, params_only: bool) -> str:
    """Where a checkpoint keeps the model to translate with: a run of `average` or `bmuf` keeps one model per worker
    and the global model of the last block update; a run with `train.ema_decay` the moving average; a released
    checkpoint, and an evaluated one, that model alone as `params`."""
    if params_only:
        return "params"
    if config.parallel.method in ("average", "bmuf"):
        return "global_params"
    return "ema" if config.train.ema_decay > 0 else "params"


def load_run(workdir: str, which: str = "best", step: int | None = None) -> LoadedRun:
    """Loads `workdir` as written by `nmt.train`: the parameters of its best-BLEU checkpoint (or the latest if there
    is none yet), of its latest, or of an evaluation kept by `train.keep_evaluated` (`which="evaluated"`, the
    newest or `step`); or as written by `nmt.release`: its parameters alone. The optimizer's state is never read.

    Raises:
      RunError (one line) when the folder is not a run or its checkpoint does not fit its configuration.
    """
    cfg_path, vocab_path = os.path.join(workdir, "config.json"), os.path.join(workdir, "vocab.model")
    if not (os.path.isfile(cfg_path) and os.path.isfile(vocab_path)):
        raise RunError(f"{workdir}: not a run directory (expected config.json and vocab.model from nmt.train)")
    try:
        with open(cfg_path) as f:
            config = from_dict(json.load(f))
    except Exception as e:  # noqa: BLE001 - any unreadable config is one user-facing error
        raise RunError(f"{cfg_path}: unreadable configuration ({str(e).splitlines()[0]})") from None
    config = config.replace(model={"remat": "none", "memory_budget": ""})  # no gradients here
    sp = vocab.load_vocab(vocab_path)
    model = make_model(config, sp.vocab_size())
    released = os.path.isfile(os.path.join(workdir, RELEASE_FILE))
    params = jax.eval_shape(lambda: init_params(model, jax.random.key(0)))
    ckpt = Checkpoints(workdir)
    try:
        managers = [(which, getattr(ckpt, which))] + [("latest", ckpt.latest)] * (which == "best")
        for name, mgr in managers:
            if mgr is not None and mgr.latest_step() is not None:
                if step is not None and step not in mgr.all_steps():
                    raise RunError(
                        f"{workdir}: no {name} checkpoint at step {step} "
                        f"(there are {', '.join(map(str, sorted(mgr.all_steps())))})"
                    )
                key = params_key(config, released or name == "evaluated")
                abstract = {"step": jax.ShapeDtypeStruct((), jnp.int32), key: params}
                try:
                    state, _ = Checkpoints.restore(mgr, abstract, step, partial=True)
                except Exception as e:  # noqa: BLE001 - shape/structure mismatches surface in many types
                    raise RunError(
                        f"{workdir}: checkpoint does not fit its configuration ({str(e).splitlines()[0][:200]})"
                    ) from None
                if key == "global_params" and int(state["step"]) < config.parallel.warmup_steps:
                    raise RunError(
                        f"{workdir}: the {name} checkpoint (step {int(state['step'])}) was saved during "
                        "the parallel warm-up, before the first global model"
                    )
                return LoadedRun(config, model, state[key], sp, int(state["step"]), name, workdir)
        raise RunError(
            f"{workdir}: no {'' if which == 'best' else which + ' '}checkpoint yet "
            "(train first, or wait for the first evaluation)"
        )
    finally:
        ckpt.close()


def load_runs(workdirs: list[str], which: str = "best") -> list[LoadedRun]:
    """The runs of an ensemble: each as `load_run` loads it; they must share one vocabulary (RunError otherwise,
    before any other parameters are read)."""
    runs = [load_run(workdirs[0], which)]
    proto = runs[0].sp.serialized_model_proto()
    for workdir in workdirs[1:]:
        path = os.path.join(workdir, "vocab.model")
        if os.path.isfile(path) and vocab.load_vocab(path).serialized_model_proto() != proto:
            raise RunError(
                f"{workdir}: its vocabulary differs from that of {workdirs[0]}; the models of an "
                "ensemble must share one"
            )
        runs.append(load_run(workdir, which))
    return runs
