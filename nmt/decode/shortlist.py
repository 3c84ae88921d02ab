"""Lexical vocabulary shortlists (Marian's `--shortlist`): the output layer of each sentence scores only N target
tokens, chosen from its source words, instead of the whole vocabulary.

A sentence's shortlist is EOS, the `frequent` most frequent target tokens, and for each source token its
`per_source` most probable translations under IBM Model 1 p(t|s) (Brown et al. 1993) trained on the training corpus,
filled up to exactly N with the next most frequent tokens. It depends on that sentence's source alone, so a
translation does not depend on its batch. The search's softmax is normalised over the shortlist.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np

from nmt.data.vocab import BOS, EOS, PAD
from nmt.utils import write_atomic

NULL = 0  # IBM Model 1's empty source word takes PAD's id (PAD never occurs inside a sentence)


@dataclasses.dataclass(frozen=True)
class Lexicon:
    frequent: np.ndarray  # [V']     target token ids, most frequent first (specials excluded)
    table: np.ndarray  # [V, M]   per source id: target ids by p(t|s), most probable first; -1 pads


def train_lexicon(
    src: list[list[int]], tgt: list[list[int]], vocab_size: int, iterations: int = 5, per_source: int = 100
) -> Lexicon:
    """IBM Model 1 by EM over the (source, target) token pairs that co-occur in a sentence pair.

    Args:
      src, tgt: token ids of the parallel training sentences (no BOS/EOS).
    """
    specials = np.asarray([PAD, BOS, EOS])
    s_rows, t_rows, pos = [], [], []
    n_pos = 0
    for s, t in zip(src, tgt):
        s = np.asarray([NULL] + [x for x in s if x not in specials], np.int64)
        t = np.asarray([x for x in t if x not in specials], np.int64)
        s_rows.append(np.tile(s, len(t)))
        t_rows.append(np.repeat(t, len(s)))
        pos.append(np.repeat(np.arange(n_pos, n_pos + len(t)), len(s)))  # one id per target position
        n_pos += len(t)
    s_all, t_all, pos = (np.concatenate(x) if x else np.zeros(0, np.int64) for x in (s_rows, t_rows, pos))
    pairs, inv = np.unique(s_all * vocab_size + t_all, return_inverse=True)
    pair_src, pair_tgt = pairs // vocab_size, pairs % vocab_size
    prob = np.ones(len(pairs))  # uniform start: p(t|s) equal for every co-occurring t
    for _ in range(iterations):
        p = prob[inv]
        post = p / np.bincount(pos, weights=p, minlength=n_pos)[pos]  # alignment posterior of each source token
        counts = np.bincount(inv, weights=post, minlength=len(pairs))
        prob = counts / np.bincount(pair_src, weights=counts, minlength=vocab_size)[pair_src]

    table = np.full((vocab_size, per_source), -1, np.int32)
    order = np.lexsort((-prob, pair_src))  # by source id, then most probable first
    src_sorted = pair_src[order]
    rank = np.arange(len(order)) - np.searchsorted(src_sorted, src_sorted)
    keep = (rank < per_source) & (src_sorted != NULL)
    table[src_sorted[keep], rank[keep]] = pair_tgt[order][keep]

    counts = np.bincount(
        np.concatenate([np.asarray(t, np.int64) for t in tgt] + [np.zeros(0, np.int64)]), minlength=vocab_size
    )
    counts[specials] = 0
    frequent = np.argsort(-counts, kind="stable")[: int((counts > 0).sum())].astype(np.int32)
    return Lexicon(frequent, table)


def save_lexicon(lex: Lexicon, path: str) -> None:
    buf = io.BytesIO()
    np.savez(buf, frequent=lex.frequent, table=lex.table)
    write_atomic(path, buf.getvalue())


def load_lexicon(path: str) -> Lexicon:
    with np.load(path) as z:
        return Lexicon(z["frequent"], z["table"])


@dataclasses.dataclass(frozen=True)
class Shortlister:
    """Per-sentence shortlists of exactly `size` distinct token ids (never PAD or BOS; always EOS)."""

    lexicon: Lexicon
    size: int
    frequent: int = 100
    per_source: int = 50

    def __post_init__(self):
        vocab = self.lexicon.table.shape[0]
        if not 1 <= self.size <= len(self.lexicon.frequent) + 1:
            raise ValueError(
                f"size must be between 1 and {len(self.lexicon.frequent) + 1} (the tokens that the "
                f"training targets use, and EOS, of this vocabulary of {vocab})"
            )
        if self.frequent < 0 or not 0 <= self.per_source <= self.lexicon.table.shape[1]:
            raise ValueError(f"frequent must be >= 0 and per_source between 0 and {self.lexicon.table.shape[1]}")

    def sentence(self, src: np.ndarray) -> np.ndarray:
        """src: [S] source ids (PAD ignored) -> [size] target ids, sorted."""
        ids, listed = self(np.asarray(src)[None])
        return ids[listed[0]]

    def lists(self, src: np.ndarray) -> np.ndarray:
        """src: [B, S] -> [B, size]: each sentence's own shortlist, sorted (for searches that give each sentence its
        own output weights, as `queue_beam_decode` does)."""
        ids, listed = self(src)
        return np.broadcast_to(ids, listed.shape)[listed].reshape(len(listed), self.size)

    def __call__(self, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """src: [B, S] -> (ids [U], listed [B, U]): the union of the batch's shortlists (PAD-padded) and which of
        its tokens each sentence's own shortlist holds. The output layer runs over the union, one matrix product,
        and the search masks each sentence to its own list, so nothing depends on the other sentences."""
        src = np.sort(np.asarray(src), axis=1)
        b, s = src.shape
        lex, f, m = self.lexicon, self.frequent, self.per_source
        # Each candidate's priority, lowest first: EOS; the f most frequent; the translations rank-major over the
        # source tokens (so a cut at `size` drops the least probable translations first); then the rest by frequency.
        prio = np.full((b, lex.table.shape[0]), np.iinfo(np.int64).max, np.int64)
        prio[:, lex.frequent] = 1 + f + m * s + np.arange(len(lex.frequent))
        prio[:, lex.frequent[:f]] = 1 + np.arange(len(lex.frequent[:f]))
        cand = lex.table[src, :m]  # [B, S, M]
        value = 1 + f + np.arange(m)[None, None, :] * s + np.arange(s)[None, :, None]
        rows = np.broadcast_to(np.arange(b)[:, None, None], cand.shape)
        ok = (cand >= 0) & (src != PAD)[:, :, None]
        np.minimum.at(prio, (rows[ok], cand[ok]), np.broadcast_to(value, cand.shape)[ok])
        prio[:, EOS] = 0
        chosen = np.zeros(prio.shape, bool)
        np.put_along_axis(chosen, np.argpartition(prio, self.size - 1, axis=1)[:, : self.size], True, axis=1)
        union = np.flatnonzero(chosen.any(0))
        # Padded to a multiple of `size` (at most the vocabulary), so that few shapes compile.
        width = min(-(-len(union) // self.size) * self.size, prio.shape[1])
        ids = np.full(width, PAD, np.int32)
        ids[: len(union)] = union
        listed = np.zeros((b, width), bool)
        listed[:, : len(union)] = chosen[:, union]
        return ids, listed
