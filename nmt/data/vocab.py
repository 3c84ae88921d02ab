"""Joint sentencepiece vocabulary, trained on the training split and cached by a hash of inputs and options."""

from __future__ import annotations

import hashlib
import io
import json
import os

import sentencepiece as spm

from nmt.utils import write_atomic

PAD, UNK, BOS, EOS = 0, 1, 2, 3


def _options(vocab_size: int) -> dict:
    return dict(
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=1.0,
        pad_id=PAD,
        unk_id=UNK,
        bos_id=BOS,
        eos_id=EOS,
        hard_vocab_limit=False,
        num_threads=os.cpu_count() or 1,
        minloglevel=2,
    )


def vocab_key(texts: list[list[str]], vocab_size: int) -> str:
    h = hashlib.sha256(json.dumps(_options(vocab_size) | {"num_threads": 0}, sort_keys=True).encode())
    h.update(spm.__version__.encode())
    for side in texts:
        for line in side:
            h.update(line.encode())
            h.update(b"\n")
        h.update(b"\x00")
    return h.hexdigest()[:16]


def train_vocab(texts: list[list[str]], vocab_size: int, cache: str) -> str:
    """Trains (or reuses from `cache`) a joint unigram model on all sides of `texts`; returns its path."""
    path = os.path.join(cache, f"spm-{vocab_key(texts, vocab_size)}.model")
    if not os.path.exists(path):
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter([line for side in texts for line in side]),
            model_writer=model,
            **_options(vocab_size),
        )
        write_atomic(path, model.getvalue())
    return path


def load_vocab(path: str) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=path)
