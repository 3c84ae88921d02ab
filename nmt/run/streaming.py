"""Translating a stream of lines as they come, as `fairseq-interactive` does: each line's translation is written as
soon as it and every line before it are done, so `nmt.translate` answers interactively in a pipe. The output is the
same, byte for byte, as translating the whole input at once."""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable

from nmt.decode import Translation, Translator
from nmt.run.translation import warn_invalid_utf8

MAX_BATCH = 256  # lines submitted together at most, so that a long input starts answering early


def _reader(stream, inbox: queue.Queue, bad: list[int]) -> None:
    """Puts each decoded line of a binary stream into `inbox` (invalid UTF-8 replaced, its line number kept), then
    None."""
    for number, raw in enumerate(stream, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            bad.append(number)
        inbox.put(text.rstrip("\r\n").strip())
    inbox.put(None)


def _available(inbox: queue.Queue, wait: bool) -> tuple[list[str], bool]:
    """The lines that have arrived (waiting for the first when `wait`), and whether the input ended."""
    lines = []
    while len(lines) < MAX_BATCH:
        try:
            item = inbox.get(block=wait and not lines)
        except queue.Empty:
            break
        if item is None:
            return lines, True
        lines.append(item)
    return lines, False


def translate_stream(
    translator: Translator, stream, name: str, emit: Callable[[int, Translation], None], steps: int = 8
) -> None:
    """Translates the lines of a binary stream as they arrive, calling `emit(index, translation)` in input order;
    reports replaced invalid UTF-8 and truncated lines (with their line numbers) at the end."""
    inbox, bad = queue.Queue(), []
    threading.Thread(target=_reader, args=(stream, inbox, bad), daemon=True).start()
    order = collections.deque()  # (ticket, index of its first line)
    done, truncated, count, ended = {}, [], 0, False
    while not ended or order:
        lines, ended_now = ([], True) if ended else _available(inbox, wait=not order)
        ended = ended or ended_now
        if lines:
            order.append((translator.submit(lines), count))
            count += len(lines)
        if order:
            done.update(translator.collect(steps))
        while order and order[0][0] in done:
            ticket, first = order.popleft()
            for k, translation in enumerate(done.pop(ticket)):
                emit(first + k, translation)
                if translation.truncated:
                    truncated.append(first + k + 1)
    if bad:
        warn_invalid_utf8(name, bad)
    if truncated:
        translator.warn_truncated(truncated)
