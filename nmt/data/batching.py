"""Length-bucketed, token-based batches with a fixed, small set of padded shapes.

Every batch of a bucket has the same shape `[rows(bucket), bucket]`, so XLA compiles one program per bucket.
Shuffling is a pure function of (seed, epoch); the iterator position is two integers saved with checkpoints.
"""
from __future__ import annotations

import collections
import dataclasses

import numpy as np

from nmt.data.vocab import BOS, EOS, PAD


def bucket_of(length: int, buckets: tuple) -> int | None:
    return next((b for b in buckets if length <= b), None)


def rows_for(bucket: int, batch_tokens: int) -> int:
    return max(1, batch_tokens // bucket)


@dataclasses.dataclass
class Examples:
    """Token ids without special symbols; `index` is each pair's line in the kept corpus."""
    src: list[list[int]]
    tgt: list[list[int]]
    index: np.ndarray

    def __len__(self):
        return len(self.src)


def filter_long(src: list[list[int]], tgt: list[list[int]], max_len: int, dropped: collections.Counter) -> Examples:
    """Drops (and counts under 'too_long') training pairs whose either side exceeds max_len with eos."""
    keep = [i for i in range(len(src)) if max(len(src[i]), len(tgt[i])) + 1 <= max_len]
    dropped["too_long"] += len(src) - len(keep)
    return Examples([src[i] for i in keep], [tgt[i] for i in keep], np.asarray(keep, np.int64))


def make_batch(ex: Examples, idx: np.ndarray, bucket: int, rows: int) -> dict:
    """Pads pairs `idx` into `[rows, bucket]` arrays; rows beyond len(idx) are all padding (weight 0).

    Returns a dict with `src` (ids + eos), `tgt_in` (bos + ids), `tgt_out` (ids + eos), `index` (-1 for filler).
    Sequences longer than the bucket are truncated (eos kept last), which only happens for eval data.
    """
    src = np.full((rows, bucket), PAD, np.int32)
    tgt_in = np.full((rows, bucket), PAD, np.int32)
    tgt_out = np.full((rows, bucket), PAD, np.int32)
    index = np.full((rows,), -1, np.int64)
    for r, i in enumerate(idx):
        s = list(ex.src[i][:bucket - 1]) + [EOS]
        t = list(ex.tgt[i][:bucket - 1])
        src[r, :len(s)] = s
        tgt_in[r, :len(t) + 1] = [BOS] + t
        tgt_out[r, :len(t) + 1] = t + [EOS]
        index[r] = ex.index[i]
    return dict(src=src, tgt_in=tgt_in, tgt_out=tgt_out, index=index)


def group_by_bucket(ex: Examples, buckets: tuple) -> dict[int, np.ndarray]:
    groups = collections.defaultdict(list)
    for i in range(len(ex)):
        b = bucket_of(max(len(ex.src[i]), len(ex.tgt[i])) + 1, buckets)
        groups[b if b is not None else buckets[-1]].append(i)
    return {b: np.asarray(v, np.int64) for b, v in sorted(groups.items())}


class BatchIterator:
    """Endless training batches. `position` = (epoch, batch index in that epoch); `restore` seeks to it."""

    def __init__(self, ex: Examples, buckets: tuple, batch_tokens: int, seed: int):
        self.ex, self.buckets, self.batch_tokens, self.seed = ex, tuple(buckets), batch_tokens, seed
        self.groups = group_by_bucket(ex, self.buckets)
        if not self.groups:
            raise ValueError("no training examples left after filtering")
        self.epoch, self.pos = 0, 0
        self._plan = self.plan(0)

    def plan(self, epoch: int) -> list[tuple[int, np.ndarray]]:
        """The epoch's batches as (bucket, example indices), a pure function of (seed, epoch)."""
        rng = np.random.default_rng([self.seed, epoch])
        batches = []
        for b, idx in self.groups.items():
            idx = rng.permutation(idx)
            rows = rows_for(b, self.batch_tokens)
            batches += [(b, idx[k:k + rows]) for k in range(0, len(idx), rows)]
        order = rng.permutation(len(batches))
        return [batches[k] for k in order]

    @property
    def position(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos}

    def restore(self, position: dict) -> None:
        self.epoch, self.pos = int(position["epoch"]), int(position["pos"])
        self._plan = self.plan(self.epoch)

    def steps_per_epoch(self) -> int:
        return len(self._plan)

    def shapes(self) -> set[tuple[int, int]]:
        return {(rows_for(b, self.batch_tokens), b) for b in self.groups}

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        if self.pos >= len(self._plan):
            self.epoch, self.pos = self.epoch + 1, 0
            self._plan = self.plan(self.epoch)
        b, idx = self._plan[self.pos]
        self.pos += 1
        return make_batch(self.ex, idx, b, rows_for(b, self.batch_tokens))


def eval_batches(ex: Examples, buckets: tuple, batch_tokens: int) -> list[dict]:
    """All pairs once, in bucket order, with padded filler rows; `index` maps rows back to input lines."""
    out = []
    for b, idx in group_by_bucket(ex, buckets).items():
        rows = rows_for(b, batch_tokens)
        out += [make_batch(ex, idx[k:k + rows], b, rows) for k in range(0, len(idx), rows)]
    return out
