"""Runs written by an earlier version of nmt (tests/data/runs_2026_12_05: a trained run with a moving average and a
released GNMT-v2 run, both tiny, made on 2026-12-05 before the decoders became modules of their own) still load and
translate to the same output, byte for byte, with beam search (continuous batching and fixed batches) and greedy."""

import os

import pytest

from tests.helpers import ROOT, run_cli

DATA = os.path.join(ROOT, "tests", "data", "runs_2026_12_05")
FLAGS = {
    "beam3nbest2": ["--beam", "3", "--nbest", "2"],
    "beam3nbest2slots0": ["--beam", "3", "--nbest", "2", "--slots", "0"],
    "beam1": ["--beam", "1"],
}


@pytest.mark.parametrize("run", ["luong_ema", "gnmt_released"])
def test_a_run_from_before_translates_as_it_did(run):
    for name, flags in FLAGS.items():
        r = run_cli(
            "nmt.translate", "--checkpoint", os.path.join(DATA, run), "--input", os.path.join(DATA, "input.txt"), *flags
        )
        assert r.returncode == 0, r.stderr.decode()[-2000:]
        with open(os.path.join(DATA, f"{run}.{name}.out"), "rb") as f:
            assert r.stdout == f.read(), (run, name)
