"""One trainer per workdir: an advisory lock on `<workdir>/train.lock`, which holds the holder's process id.

The operating system releases the lock when its holder exits in any way (kill -9 included), so a lock file left by
a dead trainer is simply taken over; a live holder makes a second trainer stop with a one-line error naming it.
"""

from __future__ import annotations

import fcntl
import logging
import os

from nmt.config import ConfigError

logger = logging.getLogger(__name__)
LOCK_FILE = "train.lock"


class WorkdirLock:
    def __init__(self, workdir: str):
        self.path = os.path.join(workdir, LOCK_FILE)
        self._fd = None

    def acquire(self) -> WorkdirLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(
                f"{os.path.dirname(self.path)} is in use by another trainer (process {holder}); "
                "stop it or choose another --workdir"
            ) from None
        previous = os.read(fd, 64).decode(errors="replace").strip()
        if previous and previous != str(os.getpid()):
            logger.info(f"took over the lock of process {previous}, which is no longer running")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
