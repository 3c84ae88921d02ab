"""What a training run with several processes does beyond one: decide alike, and end cleanly when one is lost."""

from __future__ import annotations

import re

import jax
import numpy as np
from jax.experimental import multihost_utils

from nmt.training.errors import TrainingError

_STATUS = re.compile(r"(UNKNOWN|INTERNAL|UNAVAILABLE|ABORTED|DEADLINE_EXCEEDED|CANCELLED|FAILED_PRECONDITION): ")


def any_process(flag: bool, logged: bool) -> bool:
    """A decision every process takes alike: one process's own; with several, any process's, at log rows only
    (the checkpoint that follows is written by all of them together)."""
    if jax.process_count() == 1:
        return flag
    return logged and bool(multihost_utils.process_allgather(np.int32(flag)).max())


def from_runtime(e: Exception) -> bool:
    """Whether an error came from the runtime under a collective: most are JaxRuntimeError, but one that fails while
    it is dispatched (Gloo's all-gather, for one) surfaces as a ValueError that carries the runtime's status."""
    return isinstance(e, jax.errors.JaxRuntimeError) or bool(_STATUS.match(str(e)))


def leave_after_loss(e: Exception) -> None:
    """After a collective failed: another process is gone. Leaving the distributed runtime lets it name that one: it
    ends this process with its report, which the supervisor (nmt/supervisor.py) turns into one line; if it lets this
    process go, the cause was other and is raised as a TrainingError."""
    jax.distributed.shutdown()
    raise TrainingError(
        f"process {jax.process_index()} of {jax.process_count()} lost the others "
        f"({str(e).strip().splitlines()[0][:300]}); the last checkpoint is kept"
    ) from None
