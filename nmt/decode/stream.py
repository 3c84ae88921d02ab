"""Sentences that arrive over time, in tickets: the host side of `Translator.submit`, `collect` and `cancel`.

Each ticket's lines are encoded when it is submitted; its sentences wait in arrival order until the live queue
(`nmt.decode.live.LiveQueue`) has room, and a ticket is complete when its last sentence is. Without a live queue (an
ensemble, greedy search or fixed batches) `collect` translates everything pending at once.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable

from nmt.decode.live import LiveQueue


@dataclasses.dataclass
class _Ticket:
    results: list  # a Translation per line, None until it is done
    left: int  # lines not done yet
    numbers: list[int] = dataclasses.field(default_factory=list)  # its sentences' numbers in the live queue


class Stream:
    """live: the LiveQueue, or None to translate in one go with `translate(lines) -> [Translation]`;
    encode(lines) -> (ids, truncated); finish(tokens, scores) -> the hypotheses of a sentence; empty: an empty
    line's Translation; make(hypotheses, truncated) -> a Translation; alone(ids) -> (tokens, scores) of one sentence
    searched by itself, which a lone sentence gets when the live queue holds none (None: never)."""

    def __init__(
        self,
        live: LiveQueue | None,
        translate: Callable,
        encode: Callable,
        finish: Callable,
        empty,
        make: Callable,
        alone: Callable | None = None,
    ):
        self.live, self._translate, self._encode, self._finish = live, translate, encode, finish
        self._alone = alone
        self._empty, self._make = empty, make
        self.tickets: dict[int, _Ticket] = {}
        self.lines: dict[int, list[str]] = {}  # without a live queue: the lines of pending tickets
        self.waiting: collections.deque = collections.deque()  # (ticket, line index, ids, truncated)
        self.numbers: dict[int, tuple[int, int, bool]] = {}  # sentence number -> (ticket, line index, truncated)
        self._last = 0

    def submit(self, lines: list[str]) -> int:
        self._last += 1
        ticket = self._last
        if self.live is None:
            self.lines[ticket] = list(lines)
            self.tickets[ticket] = _Ticket([None] * len(lines), len(lines))
            return ticket
        todo = [i for i, line in enumerate(lines) if line]
        ids, cut = self._encode([lines[i] for i in todo]) if todo else ([], [])
        self.tickets[ticket] = _Ticket([self._empty] * len(lines), len(todo))
        for i, x, c in zip(todo, ids, cut):
            self.tickets[ticket].results[i] = None
            self.waiting.append((ticket, i, x, c))
        return ticket

    def cancel(self, ticket: int) -> None:
        """Forgets a ticket: its waiting sentences are dropped and the slots of those being searched freed."""
        t = self.tickets.pop(ticket, None)
        self.lines.pop(ticket, None)
        if t is None or self.live is None:
            return
        self.waiting = collections.deque(w for w in self.waiting if w[0] != ticket)
        for number in self.live.drop(t.numbers):
            self.numbers.pop(number, None)

    def idle(self) -> bool:
        return not self.tickets

    def progress(self, ticket: int) -> tuple[int, int]:
        t = self.tickets[ticket]
        return sum(r is not None for r in t.results), len(t.results)

    def collect(self, steps: int) -> dict[int, list]:
        """Advances the search (up to `steps` decoder steps with a live queue) and returns {ticket: translations}
        of the tickets that completed."""
        if self.live is None:
            pending, self.lines = self.lines, {}
            done = self._translate([line for lines in pending.values() for line in lines])
            out, start = {}, 0
            for ticket, lines in pending.items():
                out[ticket], start = done[start : start + len(lines)], start + len(lines)
                self.tickets.pop(ticket, None)
            return out
        out = {}
        if self._alone is not None and len(self.waiting) == 1 and not self.live.unread:
            ticket, i, ids, truncated = self.waiting.popleft()
            self._result(ticket, i, truncated, *self._alone(ids), out)
        else:
            n = self.live.wanted(len(self.waiting))
            if n:
                batch = [self.waiting.popleft() for _ in range(n)]
                for (ticket, i, _, c), number in zip(batch, self.live.write([b[2] for b in batch])):
                    self.numbers[number] = (ticket, i, c)
                    self.tickets[ticket].numbers.append(number)
            for number, (tokens, scores, _) in self.live.run(steps).items():
                ticket, i, truncated = self.numbers.pop(number)
                self._result(ticket, i, truncated, tokens, scores, out)
        out.update({k: self.tickets.pop(k).results for k in [k for k, t in self.tickets.items() if t.left == 0]})
        return out

    def _result(self, ticket: int, i: int, truncated: bool, tokens, scores, out: dict) -> None:
        """Line i of a ticket is done; `out` gets the ticket when it is complete."""
        t = self.tickets.get(ticket)
        if t is None:  # cancelled
            return
        t.results[i] = self._make(self._finish(tokens, scores), truncated)
        t.left -= 1
        if t.left == 0:
            out[ticket] = self.tickets.pop(ticket).results
