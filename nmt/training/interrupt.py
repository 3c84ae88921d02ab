"""SIGINT and SIGTERM as a flag the training loop reads between steps."""

from __future__ import annotations

import signal
import threading


class Interrupt:
    """Turns SIGINT/SIGTERM into a flag the loop checks between steps, so the state is saved whole."""

    def __init__(self):
        self.signal = None
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
