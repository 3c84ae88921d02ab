"""A trained run compressed into a new run directory, fine-tuned when asked."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import jax
import numpy as np

from nmt.compress.factor import factor, to_int8
from nmt.compress.prune import prune
from nmt.config import Config, ConfigError
from nmt.run.load import load_run
from nmt.run.release import check_out, write_run
from nmt.training import trainer


@dataclasses.dataclass(frozen=True)
class Options:
    """What `compress` does, in this order: prune, factor, fine-tune, quantise."""

    prune_hidden: int = 0  # keep that many units in every layer (nmt.compress.prune); 0 keeps them all
    factor: tuple = ()  # matrices to factor (nmt.compress.factor), at `rank` or keeping `energy`
    rank: int = 0
    energy: float = 0.0
    int8: bool = False  # every other decoder matrix, the embedding and the output layer as int8 (after fine-tuning)
    finetune_steps: int = 0  # train that many steps on the run's training data (Adam at finetune_lr)
    finetune_lr: float = 5e-4


def compress(workdir: str, out: str, opts: Options, which: str = "best", progress: bool = True) -> dict:
    """Writes `workdir`'s `which` checkpoint, compressed as `opts` asks, to `out` (a new folder); returns what it
    did. Fine-tuning runs in `out`.train (Adam, constant after a warm-up of a tenth), which is removed once the
    fine-tuned run's best checkpoint is written; its scores are kept as `out`/finetune_results.json."""
    check_out(out)
    if opts.finetune_steps < 0 or opts.finetune_lr <= 0:
        raise ConfigError(
            f"--finetune-steps must be >= 0 and --finetune-lr > 0, got {opts.finetune_steps}, {opts.finetune_lr}"
        )
    run = load_run(workdir, which)
    params, config = jax.tree.map(np.asarray, run.params), run.config
    if config.model.ranks() or config.model.int8:
        raise ConfigError(f"{workdir}: already compressed (model.low_rank, model.int8); compress its source run")
    before = sum(x.size for x in jax.tree.leaves(params))
    model = config.model
    if opts.prune_hidden and opts.prune_hidden != model.hidden:
        params, model = prune(params, model, opts.prune_hidden)
    ranks = {}
    if opts.factor:
        params, model, ranks = factor(params, model, list(opts.factor), opts.rank, opts.energy)
    config = config.replace(model=dataclasses.asdict(model))
    results = None
    if opts.finetune_steps:
        params, results = _finetune(
            workdir, out + ".train", config, params, opts.finetune_steps, opts.finetune_lr, progress
        )
    if opts.int8:
        params, model = to_int8(params, config.model)
        config = config.replace(model=dataclasses.asdict(model))
    info = {
        "released_from": os.path.abspath(workdir),
        "checkpoint": run.which,
        "step": run.step,
        "compressed": {**dataclasses.asdict(opts), "ranks": ranks},
        "parameters_before": int(before),
        "parameters": int(sum(x.size for x in jax.tree.leaves(params))),
        "bytes": int(sum(np.asarray(x).nbytes for x in jax.tree.leaves(params))),
    }
    write_run(workdir, out, config, run.step, params, info)
    if results is not None:
        with open(os.path.join(out, "finetune_results.json"), "w") as f:
            json.dump(results, f, indent=1)
        shutil.rmtree(out + ".train")
    return info


def _finetune(workdir: str, train_dir: str, config: Config, params, steps: int, lr: float, progress: bool):
    """(the fine-tuned model's best parameters, its results.json)."""
    check_out(train_dir)
    config = config.replace(
        train={
            "steps": steps,
            "lr": lr,
            "warmup_steps": max(1, steps // 10),
            "decay": "constant",
            "eval_every": steps,
            "patience": 0,
            "final_average": 0,
        },
        parallel={"workers": 1},
    )
    os.makedirs(train_dir)
    shutil.copy2(os.path.join(workdir, "vocab.model"), train_dir)  # the run's vocabulary, not a new one
    trainer.run(config, train_dir, progress=progress, init_params=params)
    with open(os.path.join(train_dir, "results.json")) as f:
        results = json.load(f)
    return jax.tree.map(np.asarray, load_run(train_dir, "best").params), results
