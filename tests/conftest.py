"""Tiny generated corpora and configs; no test reads the real corpus."""
from __future__ import annotations

import os
import random

# The tests compile many small programs and run each a few times: compiling them without LLVM's optimisations
# (XLA's own HLO passes, so the memory analysis, are unchanged) costs about 2.5x less CPU time.
# Set before JAX is imported; subprocesses (notebooks, CLIs, the 8-device cases) inherit it.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

import pytest  # noqa: E402

from nmt.config import get_config  # noqa: E402

WORDS = ["cat", "dog", "red", "big", "runs", "sees", "the", "a", "house", "tree", "small", "blue", "man",
         "woman", "eats", "apple", "green", "car", "drives", "fast"]
LEXICON = {w: w[::-1] + "o" for w in WORDS}


def make_corpus(root, n_train=400, n_eval=30, seed=0):
    """A learnable toy task: each source word maps to one target word, order kept."""
    rng = random.Random(seed)
    os.makedirs(root, exist_ok=True)
    for split, n in (("train", n_train), ("val", n_eval), ("test", n_eval)):
        src = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9))) for _ in range(n)]
        tgt = [" ".join(LEXICON[w] for w in s.split()) for s in src]
        for lang, lines in (("src", src), ("tgt", tgt)):
            with open(os.path.join(root, f"{split}.{lang}"), "w") as f:
                f.write("\n".join(lines) + "\n")
    return str(root)


def tiny_overrides(data_dir):
    return [
        "data.corpus=files", "data.src_lang=src", "data.tgt_lang=tgt", f"data.dir={data_dir}",
        "data.test_prefix=test", "data.vocab_size=80", "data.max_len=24", "data.buckets=[8,16,24]",
        "data.batch_tokens=128", "model.emb=16", "model.hidden=24", "model.dropout=0.1",
        "train.warmup_steps=5", "train.eval_every=1000", "train.log_every=5", "train.lr=5e-3"]


def tiny_config(data_dir, *overrides):
    return get_config("tiny", tiny_overrides(data_dir) + list(overrides))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("NMT_DATA_DIR", raising=False)


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def tiny_run(corpus_dir, tmp_path_factory):
    """A run directory trained for a few steps on the toy corpus (for translation and evaluation tests)."""
    from nmt import trainer
    workdir = str(tmp_path_factory.mktemp("tiny_run"))
    trainer.run(tiny_config(corpus_dir, "train.steps=40"), workdir, progress=False, log=lambda s: None)
    return workdir
