"""Metrics as JSON lines and TensorBoard event files in the run's workdir."""
from __future__ import annotations

import json
import os
import time

from tensorboardX import SummaryWriter


class MetricWriter:
    def __init__(self, workdir: str):
        self.path = os.path.join(workdir, "metrics.jsonl")
        self.tb = SummaryWriter(os.path.join(workdir, "tb"))

    def write(self, step: int, kind: str, values: dict) -> None:
        row = {"step": int(step), "kind": kind, "time": time.time(), **values}
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        for k, v in values.items():
            if isinstance(v, (int, float)):
                self.tb.add_scalar(f"{kind}/{k}", v, step)
        self.tb.flush()

    def close(self) -> None:
        self.tb.close()
