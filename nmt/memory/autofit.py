"""`model.remat=auto`: compile candidate policies ahead of time and keep the fastest that fits a memory budget.

Speed is ranked by a stated proxy, not measured: candidates are ordered from least to most recomputation
(none < dots < dots_no_batch < save:<decoder state> < full < sqrt_t, which also recomputes the
output layer), and the first that fits wins. The compiled footprint
is temp + arguments + outputs − aliased bytes of the train step for the longest bucket's batch shape, where
activations are largest.
"""
from __future__ import annotations

import dataclasses
import functools
import re

from nmt.config import Config, ConfigError
from nmt.data.batching import rows_for

CANDIDATES = ("none", "dots", "dots_no_batch", "save:dec_h,dec_c,attn_context,attn_hidden", "full", "sqrt_t")
_UNITS = {"": 1, "B": 1, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "KB": 10**3, "MB": 10**6, "GB": 10**9}


def parse_bytes(text: str) -> int:
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text or "")
    if not m or m.group(2).upper() not in _UNITS:
        raise ConfigError(f"model.memory_budget: expected a size such as 16GiB or 512MiB, got {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


@functools.lru_cache(maxsize=8)
def _candidate_footprints(config: Config, vocab: int, rows: int, length: int) -> tuple[tuple[str, int, int], ...]:
    """(policy, footprint, temp bytes) of every candidate; cached, so trying several budgets compiles once."""
    from nmt.memory.report import footprint, memory_report
    out = []
    for spec in CANDIDATES:
        rep = memory_report(dataclasses.replace(config, model=dataclasses.replace(config.model, remat=spec)),
                            vocab, rows, length)
        out.append((spec, footprint(rep), rep["temp_bytes"]))
    return tuple(out)


def autofit(config: Config, vocab: int, log=print) -> tuple[Config, list[dict]]:
    """Resolves `model.remat=auto` against `model.memory_budget`; returns the chosen config and the table."""
    budget = parse_bytes(config.model.memory_budget)
    length = max(config.data.buckets)
    rows = rows_for(length, config.data.batch_tokens)
    unbudgeted = dataclasses.replace(config, model=dataclasses.replace(config.model, memory_budget=""))
    table, chosen = [], None
    for spec, total, temp in _candidate_footprints(unbudgeted, vocab, rows, length):
        fits = total <= budget
        table.append({"remat": spec, "bytes": total, "temp_bytes": temp, "fits": fits})
        if fits and chosen is None:
            chosen = dataclasses.replace(config, model=dataclasses.replace(config.model, remat=spec))
    log(f"remat auto: budget {budget / 2**30:.2f} GiB, batch [{rows}, {length}]")
    for row in table:
        mark = "<- chosen" if chosen is not None and row["remat"] == chosen.model.remat else ""
        log(f"  {row['remat']:<46} {row['bytes'] / 2**30:8.3f} GiB {'fits' if row['fits'] else 'too big':<8}{mark}")
    if chosen is None:
        smallest = min(table, key=lambda r: r["bytes"])
        raise ConfigError(f"model.remat=auto: no policy fits model.memory_budget={config.model.memory_budget} "
                          f"(smallest: {smallest['remat']} needs {smallest['bytes'] / 2**30:.2f} GiB)")
    return chosen, table
