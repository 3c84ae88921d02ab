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

from nmt.run.errors import RunError
from nmt.run.lexicon import LEXICON_FILE
from nmt.run.load import RELEASE_FILE, load_run
from nmt.training.averaging import evaluated_steps, mean_tree
from nmt.training.checkpoint import Checkpoints


def release(workdir: str, out: str, which: str = "best", average: int = 0) -> dict:
    """Writes the released copy of `workdir` to `out` (which must not exist) and returns what it wrote.

    average: > 0 releases the mean of the parameters of the run's last `average` evaluations (kept by
    `train.keep_evaluated`) instead of one checkpoint, as fairseq's average_checkpoints.py does.

    The copy is assembled in a sibling temporary folder and renamed into place, so an interrupted release leaves no
    `out` that looks whole.
    """
    out = os.path.abspath(out)
    if os.path.exists(out):
        raise RunError(f"{out}: already exists (--out must be a new folder)")
    run = load_run(workdir, which)
    info = {"released_from": os.path.abspath(workdir), "checkpoint": run.which, "step": run.step}
    if average:
        ckpt = Checkpoints(workdir)
        try:
            steps = evaluated_steps(ckpt, average, workdir)
        finally:
            ckpt.close()
        params = mean_tree([load_run(workdir, "evaluated", step).params for step in steps])
        run = dataclasses.replace(run, params=params, step=steps[-1])
        info.update(checkpoint=f"average of {average} evaluated", step=steps[-1], averaged_steps=steps)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".release-", dir=os.path.dirname(out))
    try:
        for name in ("config.json", "vocab.model", LEXICON_FILE):
            if name != LEXICON_FILE or os.path.isfile(os.path.join(workdir, name)):
                shutil.copy2(os.path.join(workdir, name), tmp)
        with open(os.path.join(tmp, RELEASE_FILE), "w") as f:
            json.dump(info, f, indent=1)
        ckpt = Checkpoints(tmp)
        try:
            ckpt.save_best(run.step, {"step": np.asarray(run.step, np.int32), "params": run.params}, info)
        finally:
            ckpt.close()
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info
