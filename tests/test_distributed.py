"""Training with several processes through `jax.distributed`, each process a subprocess of its own."""

import os
import subprocess
import sys

import jax
import pytest

from tests.helpers import ROOT, free_port, tiny_overrides


def test_two_processes_through_jax_distributed_match_one_process_with_two_devices(tmp_path):
    import numpy as np

    port = free_port()
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("XLA_FLAGS", None)
    script = os.path.join(ROOT, "tests", "distributed_case.py")
    procs = [
        subprocess.Popen(
            [sys.executable, script, str(tmp_path / "two.npz"), "2", str(i), port],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(o[1][-2000:] for o in outs)
    one = subprocess.run(
        [sys.executable, script, str(tmp_path / "one.npz"), "1", "0", port],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two, ref = np.load(tmp_path / "two.npz"), np.load(tmp_path / "one.npz")
    assert len(two.files) == len(ref.files) > 0
    for k in ref.files:
        np.testing.assert_allclose(two[k], ref[k], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", ["sync", "average", "bmuf"])
def test_the_train_command_as_two_processes_equals_one_process_on_two_devices(corpus_dir, tmp_path, method):
    """`python -m nmt.train` started twice with NMT_COORDINATOR/NMT_NUM_PROCESSES/NMT_PROCESS_ID shares one workdir;
    its final parameters equal those of one process with two devices; only the first process writes files."""
    import numpy as np

    from nmt.run import load_run

    args = [
        "--preset",
        "tiny",
        "--no-progress",
        *tiny_overrides(corpus_dir),
        "train.steps=8",
        "train.log_every=4",
        "train.final_beam=1",
        f"parallel.method={method}",
        "parallel.workers=2",
        "parallel.warmup_steps=2",
        "parallel.sync_every=3",
    ]
    cmd = lambda workdir: [sys.executable, "-m", "nmt.train", "--workdir", str(workdir), *args]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["PYTHONPATH"] = ROOT
    port = free_port()
    procs = [
        subprocess.Popen(
            cmd(tmp_path / "two"),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env, NMT_COORDINATOR=f"localhost:{port}", NMT_NUM_PROCESSES="2", NMT_PROCESS_ID=str(i)),
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(o[1][-2000:] for o in outs)
    assert "test (" in outs[0][1] and "test (" not in outs[1][1]  # the final scores are logged by process 0 only
    one = subprocess.run(
        cmd(tmp_path / "one"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(env, XLA_FLAGS="--xla_force_host_platform_device_count=2"),
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two, ref = load_run(str(tmp_path / "two"), "latest"), load_run(str(tmp_path / "one"), "latest")
    assert two.step == ref.step == 8
    for a, b in zip(jax.tree.leaves(two.params), jax.tree.leaves(ref.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
    assert sorted(os.listdir(tmp_path / "two")) == sorted(os.listdir(tmp_path / "one"))
    if method == "sync":  # the two processes' checkpoint resumes in one process
        more = subprocess.run(
            cmd(tmp_path / "two") + ["train.steps=12"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            env=dict(env, XLA_FLAGS="--xla_force_host_platform_device_count=2"),
        )
        assert more.returncode == 0 and "resumed from step 8" in more.stderr, more.stderr[-2000:]
