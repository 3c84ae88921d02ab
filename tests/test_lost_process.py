"""A multi-process run that loses a process: the survivor ends in one line and the run resumes."""

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT, free_port, tiny_overrides


@pytest.mark.parametrize("victim", [1, 0])
def test_a_lost_process_stops_the_other_with_one_line(corpus_dir, tmp_path, victim):
    """kill -9 of one process mid-run (the coordinator too): the other ends within 60 s with one line naming it; the
    same command, started again, resumes from the last checkpoint."""
    import re
    import signal
    import time

    args = [
        "--preset",
        "tiny",
        "--no-progress",
        *tiny_overrides(corpus_dir),
        "train.log_every=1",
        "train.save_every_s=1",
        "train.final_beam=1",
        "parallel.method=sync",
        "parallel.workers=2",
    ]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}

    def start(steps):
        port = free_port()
        return [
            subprocess.Popen(
                [sys.executable, "-m", "nmt.train", "--workdir", str(tmp_path), *args, f"train.steps={steps}"],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=dict(
                    env,
                    PYTHONPATH=ROOT,
                    NMT_COORDINATOR=f"localhost:{port}",
                    NMT_NUM_PROCESSES="2",
                    NMT_PROCESS_ID=str(i),
                    NMT_HEARTBEAT_S="10",
                ),
            )
            for i in range(2)
        ]

    procs = start(100000)
    metrics, deadline = tmp_path / "metrics.jsonl", time.time() + 300
    while (
        time.time() < deadline
        and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3)
        and all(p.poll() is None for p in procs)
    ):
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

    assert from_runtime(
        ValueError(
            "UNKNOWN: Gloo AllGather failed: [gloo/transport/tcp/pair.cc:538] Read error "
            "[127.0.0.1]:62651: Connection reset by peer"
        )
    )
    assert from_runtime(RuntimeError("UNAVAILABLE: connection refused")) is True
    assert not from_runtime(ValueError("operands could not be broadcast together"))
    assert not from_runtime(KeyError("UNKNOWN: key"))  # the status must open the message
