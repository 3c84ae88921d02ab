"""`python -m nmt.release --checkpoint RUN_DIR --out DIR [--which best|latest]`

A run's parameters without the optimizer state (a third of the size with Adam), as OpenNMT-py's release_model
gives: DIR is a run directory that nmt.translate, nmt.evaluate and nmt.bench decode read like any other (with the
run's shortlist lexicon, when it has one).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

import numpy as np

from nmt import cli

RELEASE_FILE = "release.json"  # marks a released run: its checkpoint holds {"step", "params"} only


def release(workdir: str, out: str, which: str = "best") -> dict:
    """Writes the released copy of `workdir` to `out` (which must not exist) and returns what it wrote.

    The copy is assembled in a sibling temporary folder and renamed into place, so an interrupted release leaves no
    `out` that looks whole.
    """
    from nmt.checkpoint import Checkpoints
    from nmt.config import ConfigError
    from nmt.decode.shortlist import LEXICON_FILE
    from nmt.inference import load_run
    out = os.path.abspath(out)
    if os.path.exists(out):
        raise ConfigError(f"{out}: already exists (--out must be a new folder)")
    run = load_run(workdir, which)
    info = {"released_from": os.path.abspath(workdir), "checkpoint": run.which, "step": run.step}
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


def main(argv=None):
    parser = cli.Parser(prog="nmt.release", description=__doc__.split("\n\n")[1])
    parser.add_argument("--checkpoint", required=True, help="a run directory written by nmt.train")
    parser.add_argument("--out", required=True, help="the released run directory to write (must not exist)")
    parser.add_argument("--which", default="best", choices=("best", "latest"),
                        help="which checkpoint to release (default: %(default)s; best falls back to latest)")
    args = parser.parse_args(argv)

    def go():
        info = release(args.checkpoint, args.out, args.which)
        print(f"released the {info['checkpoint']} checkpoint (step {info['step']}) of {args.checkpoint} "
              f"to {args.out}")

    cli.main_guard(go, "nmt.release")


if __name__ == "__main__":
    main()
