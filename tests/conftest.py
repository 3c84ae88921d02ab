"""Fixtures: tiny generated corpora and a tiny trained run; no test reads the real corpus."""

from __future__ import annotations

import os

# The tests compile many small programs and run each a few times: compiling them without LLVM's optimisations
# (XLA's own HLO passes, so the memory analysis, are unchanged) costs about 2.5x less CPU time.
# Set before JAX is imported; subprocesses (notebooks, CLIs, the 8-device cases) inherit it.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

import jax  # noqa: E402
import pytest  # noqa: E402

from tests.helpers import make_corpus, tiny_config  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("NMT_DATA_DIR", raising=False)


@pytest.fixture(autouse=True)
def _isolated_logging():
    """A command run in-process gives the package's logger its own stderr handler and stops it propagating
    (`cli.setup_logging`): undone after each test, so later tests' caplog sees the records and no handler writes
    to a captured stream that is gone."""
    import logging

    logger = logging.getLogger("nmt")
    saved = logger.handlers[:], logger.propagate, logger.level
    yield
    logger.handlers[:], logger.propagate = saved[0], saved[1]
    logger.setLevel(saved[2])


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def tiny_run(corpus_dir, tmp_path_factory):
    """A run directory trained for a few steps on the toy corpus (for translation and evaluation tests)."""
    from nmt.training import trainer

    workdir = str(tmp_path_factory.mktemp("tiny_run"))
    trainer.run(
        tiny_config(corpus_dir, "train.steps=40", "train.eval_every=20", "train.keep_evaluated=2"),
        workdir,
        progress=False,
    )
    return workdir


@pytest.fixture
def x64():
    """float64 for gradient checks, for one test."""
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", False)
