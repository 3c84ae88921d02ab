"""Each process of a multi-process run under a small supervisor, so that losing a process ends the others in one line.

When JAX's distributed runtime loses a process, it ends every survivor itself from C++ (`LOG(FATAL)`: a page of log
and a stack trace, no Python exception to catch). So `python -m nmt.train` with several processes runs the training as
its child and passes the child's stderr through: from the runtime's first error line on, the text is held back; if the
runtime then ends the child, the supervisor prints one line that names the lost process and where the full log is
kept; otherwise the held text follows unchanged. Signals reach the child, and the child dies with the supervisor.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile

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


class _Passthrough:
    """Copies bytes to `out` as they come (progress bars redraw in place), holding back the runtime's log: from its
    first error line on, all of it; a warning, until the child writes something else."""

    def __init__(self, out):
        self.out, self.held, self.line, self.error = out, b"", b"", False

    def feed(self, chunk: bytes) -> None:
        if self.error:
            self.held += chunk
            return
        text = self.line + chunk
        tail = text[text.rfind(b"\n") + 1:]
        self.line = tail if _START.match(tail) else b""  # an unfinished line that may become a runtime line waits
        text = text[:len(text) - len(self.line)]
        if not text:
            return
        if self.held and not _RUNTIME_LINE.match(text):  # the warning was all there was
            self._write(self.held)
            self.held = b""
        found = _RUNTIME_LINE.search(text)
        if not found:
            self._write(text)
            return
        self._write(text[:found.start()])
        self.held += text[found.start():]
        self.error = any(m.group(1) in b"EF" for m in _RUNTIME_LINE.finditer(text))
        if self.error:
            self.held, self.line = self.held + self.line, b""

    def _write(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.out.flush()


def _die_with_parent() -> None:
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: a killed supervisor takes its child along
    except (OSError, AttributeError):
        pass


def supervise(module: str, argv: list[str], prog: str) -> int:
    """Runs `python -m module argv` as a supervised child; returns the exit status to end with."""
    child = subprocess.Popen([sys.executable, "-m", module, *argv], stderr=subprocess.PIPE,
                             env=dict(os.environ, **{SUPERVISED: "1"}), preexec_fn=_die_with_parent)
    for sig in (signal.SIGINT, signal.SIGTERM):  # the child saves and stops on either
        signal.signal(sig, lambda s, _: child.send_signal(s))
    passthrough = _Passthrough(sys.stderr.buffer)
    for chunk in iter(lambda: os.read(child.stderr.fileno(), 1 << 16), b""):
        passthrough.feed(chunk)
    code = child.wait()
    held = passthrough.held + passthrough.line
    me = f"process {os.environ.get('NMT_PROCESS_ID', '?')} of {os.environ.get('NMT_NUM_PROCESSES', '?')}"
    if held and (code < 0 or any(m in held for m in _FATAL)):
        fd, path = tempfile.mkstemp(prefix="nmt-runtime-", suffix=".log")
        with os.fdopen(fd, "wb") as f:
            f.write(held)
        who = lost_process(held.decode(errors="replace"))
        print(f"{prog}: error: {me} lost {who}; JAX's distributed runtime ended this one (its log: {path}); the last "
              "checkpoint is kept: start every process again to resume", file=sys.stderr)
        return 1
    passthrough._write(held)
    if code < 0:
        print(f"{prog}: error: {me} was ended by signal {-code}", file=sys.stderr)
        return 128 - code
    return code
