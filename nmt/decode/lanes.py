"""How many slots the live search (`nmt.decode.live`) searches with: its lanes, and the cap a server's latency needs.

A decoder step costs about as much as its slots hold rows, busy or not. Where it costs in proportion to them (a CPU
past a dozen slots) a wider lane buys no throughput, only a slower step for every sentence in it: 40 sentences
sharing 64 slots each take a step of 64 slot-steps, while 16 slots and a short wait for one search each sentence at
the same cost a slot-step and a quarter of the step time. Where a wider step costs little more (a GPU) every slot
pays. So the cap is measured: the widest lane whose step stays within a budget (STEP_BUDGET_MS, or twice the
one-slot step where that is longer). A rule on the cost a slot-step (the narrowest lane within 10% of the cheapest)
was tried first: on a noisy 2-core machine it gave 16 in one process and 48 in another, as slower steps flatten the
curve, and the server did worse with 48 (experiments/serve_load.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nmt.decode.continuous import QueueState

# a 50-step sentence searched in 400 ms. 6 ms until two sittings of experiments/serve_load.py on a slowed machine
# (serve_load_levers*.json): there 6 ms gave a cap of 12, and the servers with 12 sustained less than with 16 or 24
STEP_BUDGET_MS = 8.0


def default_lanes(slots: int) -> tuple[int, ...]:
    """1, 2, 3, 4, 6, 8, 12, 16, ... (powers of two and the midpoints above 2) below `slots`, and `slots`: a lane
    is at most a third idle when it holds more than 2 sentences."""
    lanes, k = [], 1
    while k < slots:
        lanes += [k] if k < 2 or k + k // 2 >= slots else [k, k + k // 2]
        k *= 2
    return (*lanes, slots)


def pick_lane(lanes: tuple[int, ...], unread: int, busy: int, cap: int) -> int:
    """The smallest lane that holds the `unread` sentences (searched or waiting), at most `cap` of them, and never
    fewer than the `busy` slots: a search already running is never dropped to shrink the lane."""
    want = max(min(unread, cap), busy)
    return next((lane for lane in lanes if lane >= want), lanes[-1])


def lane_cap(ms_per_step: dict[int, float], budget_ms: float = STEP_BUDGET_MS) -> int:
    """The widest lane whose step takes at most `budget_ms`, or twice the narrowest lane's step where that is
    longer (a wider step that costs little more is always worth it)."""
    bound = max(budget_ms, 2 * ms_per_step[min(ms_per_step)])
    return max((lane for lane, ms in ms_per_step.items() if ms <= bound), default=min(ms_per_step))


@jax.jit
def resize(state: QueueState, target: QueueState) -> QueueState:
    """`state` moved into the slots of `target` (an empty state of another lane): growing keeps every slot where it
    is; shrinking keeps the busy slots first (the caller shrinks only to a lane that holds them all). The leaves with
    one slot a row are those whose shapes differ between the two lanes."""
    n, m = state.sentence.shape[0], target.sentence.shape[0]
    order = jnp.argsort(state.sentence < 0, stable=True)

    def move(a, b):
        if a.shape == b.shape:
            return a
        return b.at[:n].set(a) if m > n else a[order[:m]]

    return jax.tree.map(move, state, target)
