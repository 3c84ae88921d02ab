"""The threads that own the device: an engine feeds its requests' sentences into its Translator's live search and
hands back each request's translations when its last sentence is done; a `Pool` of engines shares one device.

Requests come from the HTTP event loop through a lock-protected inbox (`submit`, any thread) and go back as
`concurrent.futures.Future`s, so no device call ever runs on the event loop. Between two chunks of decoder steps the
engine takes the new requests, drops the cancelled and the overdue ones, and completes the finished ones.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from concurrent.futures import Future

from nmt.decode import Translation, Translator
from nmt.serve import metrics

logger = logging.getLogger(__name__)


class Overloaded(Exception):
    """The queue holds as many sentences as it may (`max_queue`)."""


class Overdue(Exception):
    """A request's deadline passed; `done` of its `total` lines were translated by then."""

    def __init__(self, done: int, total: int):
        super().__init__(f"deadline passed with {done} of {total} lines translated")
        self.done, self.total = done, total


@dataclasses.dataclass
class Request:
    lines: list[str]
    deadline: float | None  # time.monotonic() after which the request is dropped
    future: Future = dataclasses.field(default_factory=Future)
    arrived: float = dataclasses.field(default_factory=time.monotonic)
    started: float | None = None  # when the engine took it
    ticket: int | None = None
    cancelled: bool = False
    owner: Engine | None = None  # the engine that searches it


class Engine:
    """translator: a Translator with slots (its search is the live one); max_queue: sentences waiting or searched
    at most; chunk_steps: decoder steps between two looks at the inbox; index: its number among a `Pool`'s."""

    def __init__(self, translator: Translator, max_queue: int, chunk_steps: int = 8, index: int = 0):
        self.translator, self.max_queue, self.chunk_steps, self.index = translator, max_queue, chunk_steps, index
        self._inbox: list[Request] = []
        self._active: dict[int, Request] = {}
        self._queued = 0  # sentences of the requests in the inbox and in progress
        self._lock = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"nmt-engine-{index}", daemon=True)
        self._warm = self._ready = None

    def start(self, warm=None, ready=None) -> None:
        """Starts the engine thread; it first runs `warm()` (compiling every program) and then calls `ready()`."""
        self._warm, self._ready = warm, ready
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stop = True
            self._lock.notify()
        self._thread.join()

    def submit(self, lines: list[str], timeout_s: float | None = None) -> Request:
        """Queues a request (any thread); raises Overloaded when its sentences do not fit."""
        request = Request(list(lines), None if timeout_s is None else time.monotonic() + timeout_s, owner=self)
        with self._lock:
            if self._queued + len(lines) > self.max_queue:
                raise Overloaded()
            self._queued += len(lines)
            self._inbox.append(request)
            self._lock.notify()
        return request

    def cancel(self, request: Request) -> None:
        """Drops a request (a client that went away): its waiting sentences and its slots go at the next chunk."""
        with self._lock:
            request.cancelled = True
            self._lock.notify()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._inbox) + len(self._active)

    def queued(self) -> int:
        """Sentences of the requests in the inbox and in progress."""
        with self._lock:
            return self._queued

    def _run(self) -> None:
        if self._warm is not None:
            self._warm()
        if self._ready is not None:
            self._ready()
        while True:
            with self._lock:
                while not self._stop and not self._inbox and not self._active:
                    self._lock.wait()
                if self._stop:
                    return
                new, self._inbox = self._inbox, []
            try:
                self._step(new)
            except Exception as e:  # noqa: BLE001 - a failed search fails its requests, never the server
                logger.exception("the search failed; its requests get an error")
                for request in {id(r): r for r in [*self._active.values(), *new]}.values():
                    self._fail(request, e)

    def _step(self, new: list[Request]) -> None:
        now = time.monotonic()
        for request in new:
            request.started = now
            if not request.cancelled:
                request.ticket = self.translator.submit(request.lines)
                self._active[request.ticket] = request
            else:
                self._finish(request)
        for request in list(self._active.values()):
            if request.cancelled or (request.deadline is not None and now > request.deadline):
                done, total = self.translator.progress(request.ticket)
                self.translator.cancel(request.ticket)
                self._finish(request, error=None if request.cancelled else Overdue(done, total))
        if self._active:
            for ticket, translations in self.translator.collect(self.chunk_steps).items():
                if ticket in self._active:
                    self._finish(self._active[ticket], translations)
        metrics.set_live(self.index, *self.translator.slot_use())

    def _fail(self, request: Request, error: Exception) -> None:
        try:
            if request.ticket is not None:
                self.translator.cancel(request.ticket)
        except Exception:  # noqa: BLE001 - the search is broken already; the request still gets its answer
            logger.exception("cancelling a failed request failed too")
        self._finish(request, error=error)

    def _finish(self, request: Request, translations: list[Translation] | None = None, error=None) -> None:
        if request.ticket is not None:
            self._active.pop(request.ticket, None)
        with self._lock:
            self._queued -= len(request.lines)
        if request.future.done():
            return
        if translations is not None:
            metrics.count_done(request, translations)
            request.future.set_result(translations)
        elif error is not None:
            request.future.set_exception(error)
        else:
            request.future.cancel()


class Pool:
    """Engines on one device, each a thread with a live search of its own (`Translator.replica`); a request goes to
    the one with the fewest sentences queued. One search's programs leave cores idle on a CPU (XLA's threads share
    its small products only part of the time), and another's chunks run meanwhile (experiments/live_engines.py)."""

    def __init__(self, translator: Translator, engines: int, max_queue: int, chunk_steps: int = 8):
        translators = [translator] + [translator.replica() for _ in range(engines - 1)]
        self.engines = [Engine(t, max_queue, chunk_steps, i) for i, t in enumerate(translators)]
        self.max_queue = max_queue
        self._lock = threading.Lock()

    def start(self, ready=None) -> None:
        """Starts every engine. They warm up one after another: the first compiles every program and measures the
        lane cap, the others find the programs compiled and take its cap. The last calls `ready()`."""
        first, before = self.engines[0].translator, None
        for engine in self.engines:
            done = threading.Event()

            def warm(translator=engine.translator, before=before, done=done):
                try:
                    if before is not None:
                        before.wait()
                        if translator.lane_cap is None:
                            translator.lane_cap = first.lane_info().get("lane_cap")
                    translator.warm()
                finally:
                    done.set()

            engine.start(warm, ready if engine is self.engines[-1] else None)
            before = done

    def stop(self) -> None:
        for engine in self.engines:
            engine.stop()

    def submit(self, lines: list[str], timeout_s: float | None = None) -> Request:
        """Queues a request with the least busy engine (any thread); raises Overloaded when the engines hold
        `max_queue` sentences between them."""
        with self._lock:
            queued = [engine.queued() for engine in self.engines]
            if sum(queued) + len(lines) > self.max_queue:
                raise Overloaded()
            return self.engines[queued.index(min(queued))].submit(lines, timeout_s)

    def cancel(self, request: Request) -> None:
        request.owner.cancel(request)

    def in_flight(self) -> int:
        return sum(engine.in_flight() for engine in self.engines)
