"""Metrics as JSON lines and TensorBoard event files in the run's workdir; the training log rows and the count of
skipped (non-finite) steps."""

from __future__ import annotations

import json
import os
import time

from tensorboardX import SummaryWriter

from nmt.training.errors import TrainingError
from nmt.utils import write_atomic


class MetricWriter:
    """Writes nothing when not `enabled` (the processes of a multi-process run other than the first). A run resumed
    from step `start` redoes the steps after it: their rows of an earlier attempt are dropped from `metrics.jsonl`,
    and TensorBoard purges their events, so that each step is recorded once."""

    def __init__(self, workdir: str, enabled: bool = True, start: int = 0):
        self.path = os.path.join(workdir, "metrics.jsonl")
        self.tb = None
        if enabled:
            redone = _drop_rows_after(self.path, start)
            self.tb = SummaryWriter(os.path.join(workdir, "tb"), purge_step=start + 1 if redone else None)

    def write(self, step: int, kind: str, values: dict) -> None:
        if self.tb is None:
            return
        row = {"step": int(step), "kind": kind, "time": time.time(), **values}
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        for k, v in values.items():
            if isinstance(v, (int, float)):
                self.tb.add_scalar(f"{kind}/{k}", v, step)
        self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _drop_rows_after(path: str, step: int) -> bool:
    """Rewrites `path` without its rows after `step`; whether there were any."""
    if not os.path.exists(path):
        return False
    with open(path) as f:
        lines = f.readlines()
    kept = [line for line in lines if _step_of(line) <= step]
    if len(kept) == len(lines):
        return False
    write_atomic(path, "".join(kept))
    return True


def _step_of(line: str) -> float:
    """A row's step; infinite for a line cut short by a kill during its write, which is dropped with the rows after."""
    try:
        return json.loads(line)["step"]
    except (ValueError, KeyError, TypeError):
        return float("inf")


def train_row(window: list[dict], elapsed: float, lr: float, epoch: int, programs: int) -> dict:
    """Loss per target token (of the steps not skipped), throughput and the rest over the steps since the last log
    line."""
    tokens = sum(float(m["tokens"]) for m in window)
    kept = [m for m in window if not m["skipped"]]
    return {
        "loss": sum(float(m["nll_sum"]) for m in kept) / max(sum(float(m["tokens"]) for m in kept), 1),
        "lr": lr,
        "tokens_per_s": tokens / max(elapsed, 1e-9),
        "grad_norm": float(window[-1]["grad_norm"]),
        "skipped": int(sum(m["skipped"] > 0 for m in window)),
        "epoch": epoch,
        "programs": programs,
    }


class NonFinite:
    """Counts skipped (non-finite) steps in a row, read from the metrics of each log window."""

    def __init__(self, limit: int):
        self.limit, self.run, self.total = limit, 0, 0

    def check(self, window: list[dict], last_step: int) -> None:
        for m in window:
            self.run = self.run + 1 if m["skipped"] else 0
            self.total += bool(m["skipped"])
            if self.limit and self.run >= self.limit:
                raise TrainingError(
                    f"{self.run} steps in a row up to step {last_step} had a non-finite loss or "
                    f"gradient and were skipped (train.nonfinite_limit={self.limit}); the last "
                    "checkpoint is kept"
                )
