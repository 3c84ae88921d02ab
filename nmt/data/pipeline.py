"""From configuration to ready data: located files, validated text, a vocabulary, encoded splits."""

from __future__ import annotations

import collections
import dataclasses
import logging
import os

import numpy as np
from sentencepiece import SentencePieceProcessor

from nmt.config import DataConfig
from nmt.data import batching, corpus, multi30k, vocab

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Split:
    name: str
    src_text: list[str]  # kept source lines
    ref_text: list[str]  # kept target lines, the BLEU references
    examples: batching.Examples  # index i refers to src_text[i] / ref_text[i]
    summary: str


@dataclasses.dataclass
class Data:
    vocab_path: str
    sp: SentencePieceProcessor
    train: Split
    val: Split
    test: Split


def split_paths(cfg: DataConfig, prefix: str) -> tuple[str, str]:
    return (
        multi30k.locate(prefix, cfg.src_lang, cfg.corpus, cfg.dir),
        multi30k.locate(prefix, cfg.tgt_lang, cfg.corpus, cfg.dir),
    )


def encode_split(name: str, text: corpus.ParallelText, sp, max_len: int, train: bool) -> Split:
    """max_len: training pairs longer than it (eos included) are dropped; evaluation pairs are all kept, and a side
    longer than it is truncated by the batcher (to the largest evaluation bucket, `max_len` here), counted."""
    src = sp.encode(text.src)
    tgt = sp.encode(text.tgt)
    dropped = collections.Counter(text.dropped)
    if train:
        ex = batching.filter_long(src, tgt, max_len, dropped)
        summary = corpus.ParallelText(ex.src, ex.tgt, text.read, dropped, text.replaced).summary(name)
    else:
        ex = batching.Examples(src, tgt, np.arange(len(src)))
        summary = text.summary(name)
        long_src, long_tgt = (sum(len(x) + 1 > max_len for x in side) for side in (src, tgt))
        if long_src:
            summary += f", {long_src} sources truncated to {max_len} tokens"
        if long_tgt:
            summary += f", {long_tgt} targets truncated to {max_len} tokens for the loss"
    return Split(name, text.src, text.tgt, ex, summary)


def load_data(cfg: DataConfig, vocab_cache: str | None = None, vocab_path: str | None = None) -> Data:
    """Reads and validates train/val/test, trains or reuses the vocabulary, encodes every split.

    Args:
      vocab_path: an existing sentencepiece model to use (e.g. the one saved in a run's workdir) instead of
        training or looking one up in `vocab_cache`.
    """
    texts = {}
    for name, prefix in (("train", cfg.train_prefix), ("val", cfg.val_prefix), ("test", cfg.test_prefix)):
        texts[name] = corpus.read_parallel(*split_paths(cfg, prefix), invalid_utf8=cfg.invalid_utf8)
    if vocab_path is None:
        cache = vocab_cache or os.path.join(multi30k.cache_dir(), "spm")
        vocab_path = vocab.train_vocab([texts["train"].src, texts["train"].tgt], cfg.vocab_size, cache)
    sp = vocab.load_vocab(vocab_path)
    cut = max(cfg.search_buckets())  # where evaluation batches cut a sentence
    splits = {n: encode_split(n, t, sp, cfg.max_len if n == "train" else cut, n == "train") for n, t in texts.items()}
    for s in splits.values():
        logger.info(s.summary)
    return Data(vocab_path, sp, splits["train"], splits["val"], splits["test"])
