"""A trained run compressed into a new run directory, fine-tuned when asked."""
from __future__ import annotations

import json
import os
import shutil

import jax
import numpy as np

from nmt.compress.prune import prune
from nmt.config import Config, ConfigError
from nmt.run.load import load_run
from nmt.run.release import check_out, write_run
from nmt.training import trainer


def compress(workdir: str, out: str, prune_hidden: int = 0, finetune_steps: int = 0, finetune_lr: float = 5e-4,
             which: str = "best", progress: bool = True) -> dict:
    """Writes `workdir`'s `which` checkpoint, compressed, to `out` (a new folder); returns what it did.

    prune_hidden: keep that many units in every layer (`nmt.compress.prune`); 0 keeps them all.
    finetune_steps: then train the compressed model that many steps on the run's training data (Adam at
      `finetune_lr`, constant after a warm-up of a tenth), in `out`.train, and write its best checkpoint; the
      fine-tuning's scores are kept as `out`/finetune_results.json.
    """
    check_out(out)
    if finetune_steps < 0 or finetune_lr <= 0:
        raise ConfigError(f"--finetune-steps must be >= 0 and --finetune-lr > 0, got {finetune_steps}, {finetune_lr}")
    run = load_run(workdir, which)
    params, config = jax.tree.map(np.asarray, run.params), run.config
    before = sum(x.size for x in jax.tree.leaves(params))
    if prune_hidden and prune_hidden != config.model.hidden:
        params, model_cfg = prune(params, config.model, prune_hidden)
        config = config.replace(model={"hidden": model_cfg.hidden})
    info = {"released_from": os.path.abspath(workdir), "checkpoint": run.which, "step": run.step,
            "compressed": {"prune_hidden": prune_hidden, "finetune_steps": finetune_steps},
            "parameters_before": int(before), "parameters": int(sum(x.size for x in jax.tree.leaves(params)))}
    results = None
    if finetune_steps:
        params, results = _finetune(workdir, out + ".train", config, params, finetune_steps, finetune_lr, progress)
    write_run(workdir, out, config, run.step, params, info)
    if results is not None:
        with open(os.path.join(out, "finetune_results.json"), "w") as f:
            json.dump(results, f, indent=1)
        shutil.rmtree(out + ".train")
    return info


def _finetune(workdir: str, train_dir: str, config: Config, params, steps: int, lr: float, progress: bool):
    """(the fine-tuned model's best parameters, its results.json)."""
    check_out(train_dir)
    config = config.replace(train={"steps": steps, "lr": lr, "warmup_steps": max(1, steps // 10),
                                   "decay": "constant", "eval_every": steps, "patience": 0, "final_average": 0},
                            parallel={"workers": 1})
    os.makedirs(train_dir)
    shutil.copy2(os.path.join(workdir, "vocab.model"), train_dir)  # the run's vocabulary, not a new one
    trainer.run(config, train_dir, progress=progress, init_params=params)
    with open(os.path.join(train_dir, "results.json")) as f:
        results = json.load(f)
    return jax.tree.map(np.asarray, load_run(train_dir, "best").params), results
