"""Reading aligned parallel text with validation: nothing is dropped or altered silently."""

from __future__ import annotations

import collections
import dataclasses
import gzip
import os


class DataError(ValueError):
    """Bad input data; the message names the file (and line) at fault."""


def open_text(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def decode_lines(stream, name: str, invalid_utf8: str = "error", strip: bool = True) -> tuple[list[str], list[int]]:
    """Decodes a binary stream of one sentence per line (`strip`: without the spaces around it).

    Returns:
      (lines, replaced): the stripped lines, and the 1-based numbers of lines whose invalid UTF-8 was replaced.
    Raises:
      DataError naming `name` and the line for invalid UTF-8 when invalid_utf8 == "error".
    """
    lines, replaced = [], []
    for i, raw in enumerate(stream, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            if invalid_utf8 != "replace":
                raise DataError(
                    f"{name}:{i}: invalid UTF-8 at byte {e.start} "
                    "(set data.invalid_utf8=replace to replace and count such bytes)"
                ) from None
            text = raw.decode("utf-8", errors="replace")
            replaced.append(i)
        text = text.rstrip("\r\n")
        lines.append(text.strip() if strip else text)
    return lines, replaced


def read_lines(path: str, invalid_utf8: str = "error", strip: bool = True) -> tuple[list[str], list[int]]:
    """`decode_lines` of a plain or gzipped file."""
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    try:
        with open_text(path) as f:
            return decode_lines(f, path, invalid_utf8, strip)
    except OSError as e:
        raise DataError(f"{path}: {e.strerror or e}") from None


@dataclasses.dataclass
class ParallelText:
    src: list[str]
    tgt: list[str]
    read: int
    dropped: collections.Counter  # reason -> count
    replaced: int  # lines with invalid UTF-8 replaced

    def summary(self, name: str) -> str:
        drops = ", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items()) if v) or "none"
        extra = f", invalid UTF-8 replaced on {self.replaced} lines" if self.replaced else ""
        return f"data {name}: read {self.read}, kept {len(self.src)}, dropped: {drops}{extra}"


def read_parallel(src_path: str, tgt_path: str, invalid_utf8: str = "error", drop_empty: bool = True) -> ParallelText:
    """Reads two aligned files; pairs with an empty side are dropped and counted (when drop_empty)."""
    src, src_bad = read_lines(src_path, invalid_utf8)
    tgt, tgt_bad = read_lines(tgt_path, invalid_utf8)
    if len(src) != len(tgt):
        raise DataError(f"line counts differ: {src_path} has {len(src)} lines, {tgt_path} has {len(tgt)}")
    dropped = collections.Counter()
    keep_src, keep_tgt = [], []
    for s, t in zip(src, tgt):
        if drop_empty and (not s or not t):
            dropped["empty"] += 1
            continue
        keep_src.append(s)
        keep_tgt.append(t)
    return ParallelText(keep_src, keep_tgt, len(src), dropped, len(set(src_bad)) + len(set(tgt_bad)))
