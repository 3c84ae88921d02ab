"""Loading a trained or released run (config, vocabulary, parameters) for translation and evaluation."""
from __future__ import annotations

import dataclasses
import json
import os

import jax

from nmt.config import Config, from_dict
from nmt.data import vocab
from nmt.run.errors import RunError
from nmt.training import step as step_lib
from nmt.training.checkpoint import Checkpoints

RELEASE_FILE = "release.json"  # marks a released run: its checkpoint holds {"step", "params"} only


@dataclasses.dataclass
class LoadedRun:
    config: Config
    model: object
    params: object
    sp: object
    step: int
    which: str  # "best" or "latest"
    workdir: str


def load_run(workdir: str, which: str = "best") -> LoadedRun:
    """Loads `workdir` as written by `nmt.train`: the best-BLEU checkpoint (or the latest if there is none yet); or
    as written by `nmt.release`: its parameters alone.

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
    model = step_lib.make_model(config, sp.vocab_size())
    opt = step_lib.make_optimizer(config.train)
    abstract = jax.eval_shape(lambda: step_lib.init_train_state(model, opt, jax.random.key(0)))
    released = os.path.isfile(os.path.join(workdir, RELEASE_FILE))
    if released:
        abstract = {"step": abstract.step, "params": abstract.params}
    ckpt = Checkpoints(workdir)
    try:
        managers = [(which, getattr(ckpt, which))] + [("latest", ckpt.latest)] * (which == "best")
        for name, mgr in managers:
            if mgr.latest_step() is not None:
                try:
                    state, _ = Checkpoints.restore(mgr, abstract)
                except Exception as e:  # noqa: BLE001 - shape/structure mismatches surface in many types
                    raise RunError(f"{workdir}: checkpoint does not fit its configuration "
                                      f"({str(e).splitlines()[0][:200]})") from None
                if not released:
                    state = {"step": state.step, "params": state.params}
                return LoadedRun(config, model, state["params"], sp, int(state["step"]), name, workdir)
        raise RunError(f"{workdir}: no checkpoint yet (train first, or wait for the first evaluation)")
    finally:
        ckpt.close()
