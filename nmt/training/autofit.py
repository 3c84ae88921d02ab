"""`model.remat=auto`: compile candidate policies ahead of time and keep the fastest that fits a memory budget.

Speed is ranked by a stated proxy, not measured: candidates are the registry's auto-fit policies, ordered from least
to most recomputation (`nmt.model.policies.AUTOFIT`: none < dots < dots_no_batch < save:<decoder state> < full <
sqrt_t, which also recomputes the output layer), and the first that fits wins. The compiled footprint is temp +
arguments + outputs − aliased bytes of the train step for the longest bucket's batch shape, where activations are
largest.
"""

from __future__ import annotations

import functools
import logging

from nmt.config import Config, ConfigError, parse_bytes
from nmt.data.batching import rows_for
from nmt.model.policies import AUTOFIT
from nmt.training.memory import compile_for_shapes, compiled_stats, footprint

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8)
def _candidate_footprints(config: Config, vocab: int, rows: int, length: int) -> tuple[tuple[str, int, int], ...]:
    """(policy, footprint, temp bytes) of every candidate; cached, so trying several budgets compiles once."""
    out = []
    for spec in AUTOFIT:
        stats = compiled_stats(compile_for_shapes(config.replace(model={"remat": spec}), vocab, rows, length)[0])
        out.append((spec, footprint(stats), stats["temp_bytes"]))
    return tuple(out)


def autofit(config: Config, vocab: int) -> tuple[Config, list[dict]]:
    """Resolves `model.remat=auto` against `model.memory_budget`; returns the chosen config and the table."""
    budget = parse_bytes(config.model.memory_budget)
    length = max(config.data.buckets)
    rows = rows_for(length, config.data.batch_tokens)
    unbudgeted = config.replace(model={"remat": AUTOFIT[0], "memory_budget": ""})  # the cache's key
    table, chosen = [], None
    for spec, total, temp in _candidate_footprints(unbudgeted, vocab, rows, length):
        fits = total <= budget
        table.append({"remat": spec, "bytes": total, "temp_bytes": temp, "fits": fits})
        if fits and chosen is None:
            chosen = config.replace(model={"remat": spec, "memory_budget": ""})  # resolved: the budget is spent
    logger.info(f"remat auto: budget {budget / 2**30:.2f} GiB, batch [{rows}, {length}]")
    for row in table:
        mark = "<- chosen" if chosen is not None and row["remat"] == chosen.model.remat else ""
        logger.info(
            f"  {row['remat']:<46} {row['bytes'] / 2**30:8.3f} GiB {'fits' if row['fits'] else 'too big':<8}{mark}"
        )
    if chosen is None:
        smallest = min(table, key=lambda r: r["bytes"])
        raise ConfigError(
            f"model.remat=auto: no policy fits model.memory_budget={config.model.memory_budget} "
            f"(smallest: {smallest['remat']} needs {smallest['bytes'] / 2**30:.2f} GiB)"
        )
    return chosen, table
