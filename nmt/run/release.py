"""A run's parameters without the optimizer state (a third of the size with Adam), as OpenNMT-py's release_model
gives: a run directory that nmt.translate, nmt.evaluate and nmt.bench decode read like any other (with the run's
shortlist lexicon, when it has one)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile

import numpy as np

from nmt.checkpoints import Checkpoints, average_evaluated, evaluated_steps
from nmt.config import Config, to_dict
from nmt.run.errors import RunError
from nmt.run.lexicon import LEXICON_FILE
from nmt.run.load import RELEASE_FILE, load_run


def release(workdir: str, out: str, which: str = "best", average: int = 0) -> dict:
    """Writes the released copy of `workdir` to `out` (which must not exist) and returns what it wrote.

    average: > 0 releases the mean of the parameters of the run's last `average` evaluations (kept by
    `train.keep_evaluated`) instead of one checkpoint, as fairseq's average_checkpoints.py does.

    The copy is assembled in a sibling temporary folder and renamed into place, so an interrupted release leaves no
    `out` that looks whole.
    """
    check_out(out)
    if average:
        ckpt = Checkpoints(workdir)
        try:
            run = load_run(workdir, "evaluated", evaluated_steps(ckpt, average, workdir)[-1])
            params, steps = average_evaluated(ckpt, run.params, average, workdir)
        finally:
            ckpt.close()
        run = dataclasses.replace(run, params=params)
        info = {
            "released_from": os.path.abspath(workdir),
            "checkpoint": f"average of {average} evaluated",
            "step": run.step,
            "averaged_steps": steps,
        }
    else:
        run = load_run(workdir, which)
        info = {"released_from": os.path.abspath(workdir), "checkpoint": run.which, "step": run.step}
    write_run(workdir, out, run.config, run.step, run.params, info)
    return info


def check_out(out: str) -> None:
    if os.path.exists(out):
        raise RunError(f"{os.path.abspath(out)}: already exists (--out must be a new folder)")


def write_run(workdir: str, out: str, config: Config, step: int, params, info: dict) -> None:
    """Writes a released run: `config`, the vocabulary (and shortlist lexicon) of `workdir`, and `params` as its
    best checkpoint. It is assembled in a sibling temporary folder and renamed into place, so an interrupted write
    leaves no `out` that looks whole."""
    out = os.path.abspath(out)
    check_out(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".release-", dir=os.path.dirname(out))
    try:
        for name in ("vocab.model", LEXICON_FILE):
            if name != LEXICON_FILE or os.path.isfile(os.path.join(workdir, name)):
                shutil.copy2(os.path.join(workdir, name), tmp)
        for name, content in (("config.json", to_dict(config)), (RELEASE_FILE, info)):
            with open(os.path.join(tmp, name), "w") as f:
                json.dump(content, f, indent=1)
        ckpt = Checkpoints(tmp)
        try:
            ckpt.save_best(step, {"step": np.asarray(step, np.int32), "params": params}, info)
        finally:
            ckpt.close()
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
