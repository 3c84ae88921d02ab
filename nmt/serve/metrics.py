"""The server's Prometheus metrics (`GET /metrics`), in a registry of their own."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
REQUESTS = Counter("nmt_requests", "Translation requests answered, by HTTP status", ["status"], registry=REGISTRY)
LATENCY = Histogram(
    "nmt_request_seconds", "From a request's arrival to its answer", buckets=_SECONDS, registry=REGISTRY
)
QUEUE = Histogram(
    "nmt_queue_seconds", "From a request's arrival until the engine takes it", buckets=_SECONDS, registry=REGISTRY
)
SLOTS = Gauge("nmt_slots_in_use", "Slots of the live searches (every engine's) that hold a sentence", registry=REGISTRY)
LANE = Gauge(
    "nmt_lane_slots",
    "Slots the live searches run with now (each the smallest lane that holds its queue), every engine's",
    registry=REGISTRY,
)
SENTENCES = Counter("nmt_sentences", "Sentences translated (rate(): sentences a second)", registry=REGISTRY)
TOKENS = Counter(
    "nmt_output_tokens", "Target tokens of the best translations (rate(): tokens a second)", registry=REGISTRY
)


def count_done(request, translations) -> None:
    SENTENCES.inc(len(translations))
    TOKENS.inc(sum(t.hypotheses[0].tokens for t in translations))


_live: dict[int, tuple[int, int]] = {}  # each engine's (slots in use, lane)
_live_lock = threading.Lock()


def set_live(engine: int, busy: int, lane: int) -> None:
    """One engine's slots in use and lane, into the gauges' sums over the engines."""
    with _live_lock:
        _live[engine] = (busy, lane)
        SLOTS.set(sum(b for b, _ in _live.values()))
        LANE.set(sum(n for _, n in _live.values()))
