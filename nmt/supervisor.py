"""Each process of a multi-process run under a small supervisor, so that losing a process ends the others in one line.

When JAX's distributed runtime loses a process, it ends every survivor itself from C++ (`LOG(FATAL)`: a page of log
and a stack trace, no Python exception to catch). So `python -m nmt.train` with several processes runs the training as
its child and passes the child's stderr through: from the runtime's first error line on, the text is held back for a
few seconds; if the runtime then ends the child, the supervisor prints one line that names the lost process and where
the full log is kept; otherwise the held text follows unchanged (XLA also logs errors that are not fatal). Signals reach
the child, and the child dies with the supervisor.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

SUPERVISED = "NMT_SUPERVISED"
_RUNTIME_LINE = re.compile(rb"^([WEF])\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\] ", re.M)
_START = re.compile(rb"^[WEF]\d{0,4}( [\d:. ]*)?$")  # the start of a runtime line, cut off by the pipe
_FATAL = (b"Check failure stack trace", b"Terminating process because", b"terminate called")


def wanted() -> bool:
    """True in a process of a multi-process run that is not yet supervised."""
    several = int(os.environ.get("NMT_NUM_PROCESSES", "1") or 1) > 1 or os.environ.get("NMT_DISTRIBUTED") == "auto"
    return several and os.environ.get(SUPERVISED) != "1"


def lost_process(log: str) -> str:
    """Which process the runtime's log says was lost."""
    found = re.search(r"Task (\d+) heartbeat timeout", log) or re.search(r"stopped sending heartbeats\):\s*(\d+)", log)
    if found:
        return f"process {found.group(1)}"
    if re.search(r"leader task|Failed to send RPC to coordination service", log):
        return "process 0 (the coordinator)"
    return "another process"


def _fatal(log: bytes) -> bool:
    return any(m.group(1) == b"F" for m in _RUNTIME_LINE.finditer(log)) or any(m in log for m in _FATAL)


HOLD_S = 5.0  # how long the runtime's error lines are held back before they are taken as not fatal


class _Passthrough:
    """Copies bytes to `out` as they come (progress bars redraw in place), holding back the runtime's log: a warning
    until the child writes something else; from an error line on, everything, until the runtime's error turns out to
    be fatal (a fatal line: held until the child ends) or not (no fatal line within `hold_s`: passed through)."""

    def __init__(self, out, hold_s: float = HOLD_S, clock=time.monotonic):
        self.out, self.hold_s, self.clock = out, hold_s, clock
        self.held, self.line, self.error_at = b"", b"", None

    @property
    def error(self) -> bool:
        return self.error_at is not None

    def feed(self, chunk: bytes) -> None:
        if self.error:
            self.held += chunk
            self.tick()
            return
        text = self.line + chunk
        tail = text[text.rfind(b"\n") + 1 :]
        self.line = tail if _START.match(tail) else b""  # an unfinished line that may become a runtime line waits
        text = text[: len(text) - len(self.line)]
        if not text:
            return
        if self.held and not _RUNTIME_LINE.match(text):  # the warning was all there was
            self._write(self.held)
            self.held = b""
        found = _RUNTIME_LINE.search(text)
        if not found:
            self._write(text)
            return
        self._write(text[: found.start()])
        self.held += text[found.start() :]
        if any(m.group(1) in b"EF" for m in _RUNTIME_LINE.finditer(text)):
            self.error_at = self.clock()
            self.held, self.line = self.held + self.line, b""

    def tick(self) -> None:
        """Passes the held text through once an error has gone `hold_s` without a fatal line."""
        if self.error and not _fatal(self.held) and self.clock() - self.error_at >= self.hold_s:
            held, self.held, self.error_at = self.held, b"", None
            self._write(held)

    def _write(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.out.flush()


def _die_with(parent: int):
    """The child's first act: die when `parent` dies, or now if it already has (the child then has another)."""

    def first_act() -> None:
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: a killed supervisor takes its child along
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return first_act


def _oom_kills() -> int | None:
    """How many processes the kernel has killed for lack of memory: in this process's memory cgroup (v2 or v1), else
    on the whole machine (/proc/vmstat); None where none of these is readable."""
    try:
        with open("/proc/self/cgroup") as f:
            groups = [line.rstrip("\n").split(":", 2) for line in f]
    except OSError:
        groups = []
    paths = [f"/sys/fs/cgroup{path}/memory.events" for _, kinds, path in groups if kinds == ""]
    paths += [
        f"/sys/fs/cgroup/memory{path}/memory.oom_control" for _, kinds, path in groups if "memory" in kinds.split(",")
    ]
    for path in paths + ["/proc/vmstat"]:
        try:
            with open(path) as f:
                return next(int(line.split()[1]) for line in f if line.startswith("oom_kill "))
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    return None


def ending(code: int, held: bytes, oom_killed: bool, me: str, prog: str) -> tuple[str | None, int]:
    """The line to print about how the child ended, if any, and the status to exit with. The runtime ends a process
    that lost another with a fatal log line (and SIGABRT); a SIGKILL is the kernel's or a user's, never the runtime's."""
    if _fatal(held) or (code < 0 and code != -signal.SIGKILL and _RUNTIME_LINE.search(held)):
        fd, path = tempfile.mkstemp(prefix="nmt-runtime-", suffix=".log")
        with os.fdopen(fd, "wb") as f:
            f.write(held)
        who = lost_process(held.decode(errors="replace"))
        return (
            f"{prog}: error: {me} lost {who}; JAX's distributed runtime ended this one (its log: {path}); the last "
            "checkpoint is kept: start every process again to resume"
        ), 1
    if code == -signal.SIGKILL and oom_killed:
        return (
            f"{prog}: error: {me} was killed by the kernel for lack of memory (SIGKILL; the kernel counts an "
            "oom_kill); the last checkpoint is kept"
        ), 128 + signal.SIGKILL
    if code < 0:
        return f"{prog}: error: {me} was ended by signal {signal.Signals(-code).name}", 128 - code
    return None, code


def supervise(module: str, argv: list[str], prog: str) -> int:
    """Runs `python -m module argv` as a supervised child; returns the exit status to end with."""
    child, pending = None, []

    def forward(sig, _):  # the child saves and stops on either; one that comes before it starts, it never starts
        child.send_signal(sig) if child is not None else pending.append(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    me = f"process {os.environ.get('NMT_PROCESS_ID', '?')} of {os.environ.get('NMT_NUM_PROCESSES', '?')}"
    if pending:
        print(f"{prog}: {me} stopped by {signal.Signals(pending[0]).name} before it started", file=sys.stderr)
        return 128 + pending[0]
    oom_before = _oom_kills()
    child = subprocess.Popen(
        [sys.executable, "-m", module, *argv],
        stderr=subprocess.PIPE,
        env=dict(os.environ, **{SUPERVISED: "1"}),
        preexec_fn=_die_with(os.getpid()),
    )
    for sig in pending:  # came while the child was being started
        child.send_signal(sig)
    passthrough, fd = _Passthrough(sys.stderr.buffer), child.stderr.fileno()
    while True:
        if select.select([fd], [], [], 0.5)[0]:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            passthrough.feed(chunk)
        passthrough.tick()
    code = child.wait()
    oom_after = _oom_kills()
    held = passthrough.held + passthrough.line
    line, status = ending(code, held, None not in (oom_before, oom_after) and oom_after > oom_before, me, prog)
    if line is None or not line.startswith(f"{prog}: error: {me} lost"):
        passthrough._write(held)
    if line:
        print(line, file=sys.stderr)
    return status
