"""The supervisor of multi-process runs (nmt/supervisor.py): what it passes through, holds back and says at the end."""

import io
import os
import signal
import subprocess
import sys

import pytest

from nmt import supervisor
from nmt.supervisor import _Passthrough, ending, lost_process
from tests.helpers import ROOT

ERROR = b"E1130 14:14:45.000000   30429 c.cc:1549] Task 3 heartbeat timeout\n"


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_output_passes_through_and_the_runtime_log_is_held_back():
    out, clock = io.BytesIO(), Clock()
    p = _Passthrough(out, hold_s=5, clock=clock)
    p.feed(b"step 1\r step 2\rstep")
    assert out.getvalue() == b"step 1\r step 2\rstep"  # progress bars are not held for a newline
    p.feed(b" 3\nW1130 14:14:44.149523   30429 x.cc:147] a warning\nits second line\n")
    p.feed(b"E")  # could start a runtime line: waits for the rest
    assert out.getvalue().endswith(b" 3\n")
    p.feed(b"poch 2\n")  # it did not, and the warning was all there was
    assert out.getvalue().endswith(b"a warning\nits second line\nEpoch 2\n") and not p.held
    p.feed(b"done\n" + ERROR + b"more\n")
    clock.now = 4.9
    p.feed(b"held until the error is known\n")
    assert out.getvalue().endswith(b"Epoch 2\ndone\n") and p.error
    assert p.held.endswith(b"held until the error is known\n")
    assert lost_process(p.held.decode()) == "process 3"
    assert lost_process("Failed to send RPC to coordination service") == "process 0 (the coordinator)"


def test_an_error_that_is_not_fatal_is_passed_through_after_a_few_seconds():
    out, clock = io.BytesIO(), Clock()
    p = _Passthrough(out, hold_s=5, clock=clock)
    p.feed(b"E1205 10:00:00.000000   1 slow_operation_alarm.cc:65] a slow compile\n")
    clock.now = 4.0
    p.feed(b"step 10\n")
    assert out.getvalue() == b""
    clock.now = 5.0
    p.tick()  # no fatal line within the hold: everything held so far, then everything after, goes out as it comes
    assert out.getvalue() == b"E1205 10:00:00.000000   1 slow_operation_alarm.cc:65] a slow compile\nstep 10\n"
    p.feed(b"step 11\n")
    assert out.getvalue().endswith(b"step 10\nstep 11\n") and not p.error


def test_a_fatal_error_is_held_until_the_child_ends():
    out, clock = io.BytesIO(), Clock()
    p = _Passthrough(out, hold_s=5, clock=clock)
    p.feed(ERROR + b"F1130 14:14:46.000000   30429 c.cc:9] Terminating process because the service is gone\n")
    clock.now = 500.0
    p.feed(b"*** Check failure stack trace: ***\n")
    p.tick()
    assert out.getvalue() == b"" and p.error


def test_how_a_child_ended_is_told_apart():
    line, status = ending(-6, ERROR + b"*** Check failure stack trace: ***\n", False, "process 1 of 2", "nmt.train")
    assert status == 1 and line.startswith("nmt.train: error: process 1 of 2 lost process 3;")
    # a SIGKILL is never the runtime's, whatever it logged before
    line, status = ending(-9, ERROR, True, "process 1 of 2", "nmt.train")
    assert status == 137 and "killed by the kernel for lack of memory" in line
    line, status = ending(-9, ERROR, False, "process 1 of 2", "nmt.train")
    assert status == 137 and line == "nmt.train: error: process 1 of 2 was ended by signal SIGKILL"
    assert ending(0, b"", False, "process 1 of 2", "nmt.train") == (None, 0)


def _supervised(mode: str, **popen):
    code = (
        f"import sys; from nmt.supervisor import supervise; sys.exit(supervise('tests.supervised_case', "
        f"[{mode!r}], 'case'))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def test_a_signal_while_the_child_starts_reaches_the_child(monkeypatch):
    """SIGTERM between the handlers' installation and the child's start: kept and sent on once the child exists,
    instead of killing the supervisor (and through the death signal, the child) without a save."""
    started = []
    real = subprocess.Popen

    def popen(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # caught by the supervisor's handler: no child to forward it to yet
        started.append(real(*args, **kwargs, stdout=subprocess.PIPE, text=True))
        return started[0]

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(supervisor.subprocess, "Popen", popen)
    monkeypatch.setenv("PYTHONPATH", ROOT)
    try:
        status = supervisor.supervise("tests.supervised_case", ["signal"], "case")
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    out = started[0].stdout.read()
    # the child either caught it (its handler was in place) or died of it: either way it got it, and the
    # supervisor lived to report it
    assert (status, out) in ((0, "got SIGTERM\n"), (128 + signal.SIGTERM, "")), (status, out)


def test_a_child_whose_supervisor_died_before_it_started_ends_at_once():
    alive = subprocess.run(
        [sys.executable, "-c", "print('ran')"],
        preexec_fn=supervisor._die_with(os.getpid()),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alive.returncode == 0 and alive.stdout == "ran\n"
    orphan = subprocess.run(
        [sys.executable, "-c", "print('ran')"],
        preexec_fn=supervisor._die_with(1),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert orphan.returncode == -signal.SIGKILL and orphan.stdout == ""


def test_a_child_killed_for_memory_is_reported_as_such_not_as_a_lost_process(tmp_path):
    """A real kill by the kernel's OOM killer: the supervisor and its child in a memory cgroup of 256 MiB."""
    group = f"/sys/fs/cgroup/memory/nmt-test-{os.getpid()}"
    try:
        os.mkdir(group)
    except OSError as e:
        pytest.skip(f"no memory cgroup (v1) can be made here: {e}")
    try:
        for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
            if os.path.exists(os.path.join(group, name)):
                with open(os.path.join(group, name), "w") as f:
                    f.write(str(256 << 20))

        def join():
            with open(os.path.join(group, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

        proc = _supervised("oom", preexec_fn=join)
        _, err = proc.communicate(timeout=120)
    finally:
        os.rmdir(group)
    assert proc.returncode == 128 + signal.SIGKILL, err[-2000:]
    assert err.splitlines()[-1] == (
        "case: error: process ? of ? was killed by the kernel for lack of memory "
        "(SIGKILL; the kernel counts an oom_kill); the last checkpoint is kept"
    )
    assert "an error the runtime survives" in err and "lost" not in err
