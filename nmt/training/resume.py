"""Which configuration a run in progress may be resumed with."""

from __future__ import annotations

import json
import os
from typing import Any

from nmt.config import Config, ConfigError, from_dict, to_dict

# how long, how often and where the workers run, not what they compute (parallel.devices: tested equal)
RESUMABLE_CHANGES = {
    "train.steps",
    "train.eval_every",
    "train.log_every",
    "train.patience",
    "train.eval_bleu_max",
    "train.keep_evaluated",
    "train.save_every_s",
    "parallel.devices",
}


def _diff(a: dict, b: dict, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(field, value in a, value in b) of every field where two nested config dicts differ."""
    out = []
    for k in a:
        if isinstance(a[k], dict):
            out += _diff(a[k], b.get(k, {}), f"{prefix}{k}.")
        elif a[k] != b.get(k) and not (isinstance(a[k], (list, tuple)) and list(a[k]) == list(b.get(k, []))):
            out.append((f"{prefix}{k}", a[k], b.get(k)))
    return out


def check_resume(config: Config, workdir: str) -> None:
    """Refuses (ConfigError, naming each field with its old and new value) a configuration that differs from the one
    of the run in `workdir` in what the run computes."""
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        saved = from_dict(json.load(f))
    # a cosine decay is spread over train.steps: more of them would change the schedule already followed
    resumable = RESUMABLE_CHANGES - ({"train.steps"} if config.train.decay == "cosine" else set())
    changed = [
        f"{k}: {old!r} there, {new!r} now"
        for k, old, new in _diff(to_dict(saved), to_dict(config))
        if k not in resumable
    ]
    if changed:
        raise ConfigError(
            f"{workdir} holds a run with a different configuration ({'; '.join(changed)}); "
            "resume it with the same settings or choose another --workdir"
        )
