"""The convergence study script (experiments/bmuf_convergence.py) on a toy corpus."""

import os
import subprocess
import sys

from tests.helpers import ROOT


def test_convergence_study_runs_on_a_toy_corpus(corpus_dir, tmp_path):
    import json

    r = subprocess.run(
        [
            sys.executable,
            "experiments/bmuf_convergence.py",
            "--quick",
            "--data-dir",
            corpus_dir,
            "--eval-every",
            "4",
            "--warmup",
            "2",
            "--tau",
            "2",
            "--baseline",
            "train.lr=0.03",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.load(open(tmp_path / "bmuf_convergence.json"))
    assert set(res) == {"sync", "average", "bmuf"} and all(set(v) == {"1", "2"} for v in res.values())
    assert res["bmuf"]["2"]["bytes_per_step"] < res["sync"]["2"]["bytes_per_step"]
    assert (tmp_path / "bmuf_convergence.png").exists()
    k1 = json.load(open(tmp_path / "k1_baselines.json"))["steps"]
    saved = json.load(open(tmp_path / "curves.json"))
    target, curve1 = saved["target_val_loss"], saved["curves"]["1"]
    assert curve1[-1] == [8, target]  # K = 1 after --steps (8 with --quick) sets the target ...
    assert set(k1) == {"default", "train.lr=0.03"}  # ... and is credited with its first evaluation at it
    assert k1["default"] == next(s for s, loss in curve1 if loss <= target)
    fastest = min(n for n in k1.values() if n)
    assert all(v["1"]["steps"] == fastest for v in res.values())
    for v in res.values():
        assert v["2"]["speedup"] is None or abs(v["2"]["speedup"] - fastest / v["2"]["steps"]) < 1e-9


def test_the_study_of_the_real_model_runs_the_train_command(corpus_dir, tmp_path):
    """experiments/bmuf_real.py with the tiny preset on the toy corpus: K = 1 sets the target, K = 2 with a named
    bmuf configuration, both workers on one device, is credited with its first evaluation at it (or none within its
    budget of ceil(2 * 4 / 2) steps)."""
    import json

    from tests.helpers import tiny_overrides

    r = subprocess.run(
        [
            sys.executable,
            "experiments/bmuf_real.py",
            "--preset",
            "tiny",
            "--set",
            " ".join(tiny_overrides(corpus_dir) + ["train.final_beam=1"]),
            "--steps",
            "4",
            "--eval-every",
            "2",
            "--workers",
            "1,2",
            "--methods",
            "bmuf",
            "--bmuf",
            "parallel.block_momentum=0",
            "--bmuf-name",
            "bmuf_eta0",
            "--devices",
            "1",
            "--tau",
            "2",
            "--runs",
            str(tmp_path / "runs"),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.load(open(tmp_path / "out" / "bmuf_real.json"))
    k1 = res["k1"]["curve"]
    assert [s for s, _ in k1] == [2, 4] and res["target_bleu"] == k1[-1][1]
    two = res["bmuf_eta0"]["2"]
    assert {"parallel.block_momentum=0", "parallel.devices=1", "parallel.method=bmuf"} <= set(two["overrides"])
    assert two["budget"] == 4 and [s for s, _ in two["curve"]][0] == 1
    reached = next((s for s, b in two["curve"] if b >= res["target_bleu"]), None)
    assert two["steps"] == reached and two["curve"][-1][0] <= 4
    assert two["speedup"] is None or abs(two["speedup"] - res["k1_first_step"] / reached) < 1e-9
    assert two["bytes_per_step"] < two["sync_bytes_per_step"]
    assert (tmp_path / "out" / "bmuf_real.png").exists()
