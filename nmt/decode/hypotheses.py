"""Searching examples a fixed batch at a time, in the input's order, and the token ids of a hypothesis."""

from __future__ import annotations

from nmt.data.batching import Examples, eval_batches
from nmt.data.vocab import EOS, PAD


def strip(ids) -> list[int]:
    ids = list(ids)
    return ids[: ids.index(EOS)] if EOS in ids else [i for i in ids if i != PAD]


def search_batches(examples: Examples, buckets: tuple, batch_tokens: int, search) -> list:
    """[(tokens [K, L], scores [K])] of every example in order, searched a fixed batch at a time by
    `search(src [B, S]) -> (tokens [B, K, L], scores [B, K])`."""
    hyps = [None] * len(examples)
    for batch in eval_batches(examples, buckets, batch_tokens):
        toks, scores = search(batch["src"])
        for row, idx in enumerate(batch["index"]):
            if idx >= 0:
                hyps[idx] = (toks[row], scores[row])
    return hyps
