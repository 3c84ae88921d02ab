"""The convergence study script and the multi-process start-up, each in subprocesses of its own."""
import os
import subprocess
import sys

import jax
import pytest

from tests.helpers import ROOT, tiny_overrides


def test_convergence_study_runs_on_a_toy_corpus(corpus_dir, tmp_path):
    import json
    r = subprocess.run([sys.executable, "experiments/bmuf_convergence.py", "--quick", "--data-dir", corpus_dir,
                        "--eval-every", "4", "--warmup", "2", "--tau", "2", "--baseline", "train.lr=0.03",
                        "--out", str(tmp_path)],
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=600)
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


def test_two_processes_through_jax_distributed_match_one_process_with_two_devices(tmp_path):
    import socket

    import numpy as np
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = str(s.getsockname()[1])
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("XLA_FLAGS", None)
    script = os.path.join(ROOT, "tests", "distributed_case.py")
    procs = [subprocess.Popen([sys.executable, script, str(tmp_path / "two.npz"), "2", str(i), port], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(o[1][-2000:] for o in outs)
    one = subprocess.run([sys.executable, script, str(tmp_path / "one.npz"), "1", "0", port], env=env,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-2000:]
    two, ref = np.load(tmp_path / "two.npz"), np.load(tmp_path / "one.npz")
    assert len(two.files) == len(ref.files) > 0
    for k in ref.files:
        np.testing.assert_allclose(two[k], ref[k], rtol=1e-5, atol=1e-7)


def _free_port() -> str:
    import socket
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return str(s.getsockname()[1])


@pytest.mark.parametrize("method", ["sync", "average", "bmuf"])
def test_the_train_command_as_two_processes_equals_one_process_on_two_devices(corpus_dir, tmp_path, method):
    """`python -m nmt.train` started twice with NMT_COORDINATOR/NMT_NUM_PROCESSES/NMT_PROCESS_ID shares one workdir;
    its final parameters equal those of one process with two devices; only the first process writes files."""
    import numpy as np
    from nmt.run import load_run
    args = ["--preset", "tiny", "--no-progress", *tiny_overrides(corpus_dir), "train.steps=8", "train.log_every=4",
            "train.final_beam=1", f"parallel.method={method}", "parallel.workers=2", "parallel.warmup_steps=2",
            "parallel.sync_every=3"]
    cmd = lambda workdir: [sys.executable, "-m", "nmt.train", "--workdir", str(workdir), *args]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["PYTHONPATH"] = ROOT
    port = _free_port()
    procs = [subprocess.Popen(cmd(tmp_path / "two"), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=dict(env, NMT_COORDINATOR=f"localhost:{port}", NMT_NUM_PROCESSES="2",
                                                  NMT_PROCESS_ID=str(i))) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(o[1][-2000:] for o in outs)
    assert "test (" in outs[0][1] and "test (" not in outs[1][1]  # the final scores are logged by process 0 only
    one = subprocess.run(cmd(tmp_path / "one"), cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env=dict(env, XLA_FLAGS="--xla_force_host_platform_device_count=2"))
    assert one.returncode == 0, one.stderr[-2000:]
    two, ref = load_run(str(tmp_path / "two"), "latest"), load_run(str(tmp_path / "one"), "latest")
    assert two.step == ref.step == 8
    for a, b in zip(jax.tree.leaves(two.params), jax.tree.leaves(ref.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
    assert sorted(os.listdir(tmp_path / "two")) == sorted(os.listdir(tmp_path / "one"))
    if method == "sync":  # the two processes' checkpoint resumes in one process
        more = subprocess.run(cmd(tmp_path / "two") + ["train.steps=12"], cwd=ROOT, capture_output=True, text=True,
                              timeout=600, env=dict(env, XLA_FLAGS="--xla_force_host_platform_device_count=2"))
        assert more.returncode == 0 and "resumed from step 8" in more.stderr, more.stderr[-2000:]


@pytest.mark.parametrize("victim", [1, 0])
def test_a_lost_process_stops_the_other_with_one_line(corpus_dir, tmp_path, victim):
    """kill -9 of one process mid-run (the coordinator too): the other ends within 60 s with one line naming it; the
    same command, started again, resumes from the last checkpoint."""
    import re
    import signal
    import time
    args = ["--preset", "tiny", "--no-progress", *tiny_overrides(corpus_dir), "train.log_every=1",
            "train.save_every_s=1", "train.final_beam=1", "parallel.method=sync", "parallel.workers=2"]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}

    def start(steps):
        port = _free_port()
        return [subprocess.Popen([sys.executable, "-m", "nmt.train", "--workdir", str(tmp_path), *args,
                                  f"train.steps={steps}"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=dict(env, PYTHONPATH=ROOT, NMT_COORDINATOR=f"localhost:{port}",
                                                     NMT_NUM_PROCESSES="2", NMT_PROCESS_ID=str(i),
                                                     NMT_HEARTBEAT_S="10")) for i in range(2)]
    procs = start(100000)
    metrics, deadline = tmp_path / "metrics.jsonl", time.time() + 300
    while time.time() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3) \
            and all(p.poll() is None for p in procs):
        time.sleep(0.2)
    procs[victim].send_signal(signal.SIGKILL)  # the supervisor: its child goes with it
    killed, survivor = time.time(), procs[1 - victim]
    try:
        _, err = survivor.communicate(timeout=120)
    finally:
        survivor.kill()
        procs[victim].communicate()
    waited = time.time() - killed
    assert survivor.returncode == 1 and waited < 60, (survivor.returncode, waited, err[-2000:])
    errors = [line for line in err.splitlines() if re.search(r"error:|Error|@ 0x|^[EF]\d{4} ", line)]
    assert len(errors) == 1 and errors[0] == err.rstrip().splitlines()[-1], err[-3000:]
    lost = "process 0 (the coordinator)" if victim == 0 else "process 1;"
    assert errors[0].startswith(f"nmt.train: error: process {1 - victim} of 2 lost {lost}"), errors[0]
    log = errors[0].split("its log: ")[1].split(")")[0]
    assert "heartbeat" in open(log).read() or victim == 0  # the runtime's own report is kept whole
    if victim == 0:
        from nmt.run import load_run
        saved = load_run(str(tmp_path), "latest").step
        again = start(saved + 2)
        outs = [p.communicate(timeout=600) for p in again]
        assert all(p.returncode == 0 for p in again), outs[0][1][-2000:]
        assert f"resumed from step {saved}" in outs[0][1], outs[0][1][-2000:]


def test_a_failed_collective_is_told_from_other_errors():
    """A collective that fails while it is dispatched raises ValueError, not JaxRuntimeError (Gloo's all-gather when
    the other process is killed): both must be taken for a lost process, and nothing else."""
    from nmt.training.multiprocess import from_runtime
    assert from_runtime(ValueError("UNKNOWN: Gloo AllGather failed: [gloo/transport/tcp/pair.cc:538] Read error "
                                   "[127.0.0.1]:62651: Connection reset by peer"))
    assert from_runtime(RuntimeError("UNAVAILABLE: connection refused")) is True
    assert not from_runtime(ValueError("operands could not be broadcast together"))
    assert not from_runtime(KeyError("UNKNOWN: key"))  # the status must open the message
