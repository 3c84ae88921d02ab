"""What several test files share: tiny corpora and configs, small models and batches, a command runner."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

from nmt.config import get_config
from nmt.data.vocab import BOS, EOS
from nmt.decode.shortlist import Lexicon
from nmt.model import Seq2Seq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = [
    "cat",
    "dog",
    "red",
    "big",
    "runs",
    "sees",
    "the",
    "a",
    "house",
    "tree",
    "small",
    "blue",
    "man",
    "woman",
    "eats",
    "apple",
    "green",
    "car",
    "drives",
    "fast",
]
LEXICON = {w: w[::-1] + "o" for w in WORDS}
LINES = [b"the cat sees a dog", b"", b"red \xff car drives", b" ".join([b"big tree"] * 40), b"a man eats", b""]
SHORTLIST_VOCAB = 40


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
        "data.corpus=files",
        "data.src_lang=src",
        "data.tgt_lang=tgt",
        f"data.dir={data_dir}",
        "data.test_prefix=test",
        "data.vocab_size=80",
        "data.max_len=24",
        "data.buckets=[8,16,24]",
        "data.batch_tokens=128",
        "model.emb=16",
        "model.hidden=24",
        "model.dropout=0.1",
        "train.warmup_steps=5",
        "train.eval_every=1000",
        "train.log_every=5",
        "train.lr=5e-3",
    ]


def tiny_config(data_dir, *overrides):
    return get_config("tiny", tiny_overrides(data_dir) + list(overrides))


def run_cli(*args, stdin=None, corpus=None, text=False, env=None):
    """`python -m *args` in the repository, as a user runs it; corpus: its NMT_DATA_DIR."""
    env = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
    if corpus:
        env["NMT_DATA_DIR"] = corpus
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, input=stdin, capture_output=True, env=env, text=text, timeout=300
    )


def free_port() -> str:
    """A TCP port on localhost that nothing listens on now (for a coordinator)."""
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return str(s.getsockname()[1])


def model_and_params(*overrides, vocab=30, seed=0):
    cfg = get_config("tiny", ["model.emb=8", "model.hidden=12", "model.dropout=0.0", *overrides]).model
    model = Seq2Seq(cfg, vocab)
    dummy = jnp.ones((2, 5), jnp.int32)
    return model, model.init({"params": jax.random.key(seed)}, dummy, dummy)["params"]


def random_batch(rng, b, s, t, vocab=30):
    """Right-padded ids: src ends with EOS, tgt_in starts with BOS."""
    src = np.zeros((b, s), np.int32)
    tgt = np.zeros((b, t), np.int32)
    for i in range(b):
        ls, lt = rng.integers(2, s + 1), rng.integers(2, t + 1)
        src[i, :ls] = list(rng.integers(4, vocab, ls - 1)) + [EOS]
        tgt[i, :lt] = [BOS] + list(rng.integers(4, vocab, lt - 1))
    return jnp.asarray(src), jnp.asarray(tgt)


def loss_for(remat: str, *overrides, dropout: float = 0.0, tgt_len: int = 6):
    """A tiny model's training loss (through `Seq2Seq.loss`) as a function of its parameters, and the parameters."""
    cfg = get_config(
        "tiny",
        [
            "model.emb=8",
            "model.hidden=12",
            f"model.dropout={dropout}",
            "model.enc_layers=2",
            "model.dec_layers=2",
            f"model.remat={remat}",
            *overrides,
        ],
    ).model
    model = Seq2Seq(cfg, 30)
    src, tgt = random_batch(np.random.default_rng(0), 3, 7, tgt_len)
    tgt_out = jnp.roll(tgt, -1, axis=1).at[:, -1].set(0)
    params = model.init({"params": jax.random.key(0)}, src, tgt)["params"]
    train = dropout > 0
    return (
        lambda p: model.apply(
            {"params": p},
            src,
            tgt,
            tgt_out,
            train=train,
            smoothing=0.1,
            method=Seq2Seq.loss,
            rngs={"dropout": jax.random.key(1)} if train else None,
        )[0]
    ), params


def assert_same_loss_and_grads(fn, ref_fn, params, rtol=1e-5, atol=1e-7):
    ref_loss, ref_grads = jax.jit(jax.value_and_grad(ref_fn))(params)
    loss, grads = jax.jit(jax.value_and_grad(fn))(params)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def random_lexicon(seed=0, per_source=6):
    rng = np.random.default_rng(seed)
    v = SHORTLIST_VOCAB
    table = np.stack([rng.choice(np.arange(4, v), per_source, replace=False) for _ in range(v)])
    return Lexicon(rng.permutation(np.arange(4, v)).astype(np.int32), table.astype(np.int32))


def one_line_error(r) -> str:
    """The single stderr line of a command that failed as a user mistake should (no traceback)."""
    err = (r.stderr if isinstance(r.stderr, str) else r.stderr.decode()).strip().splitlines()
    assert r.returncode != 0 and len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def check_commands_read(run_dir, corpus_dir, tmp_path, translate_flags=([],)) -> None:
    """nmt.translate (once per entry of translate_flags), nmt.evaluate and nmt.bench decode all read `run_dir`."""
    src = tmp_path / "in.txt"
    src.write_bytes(b"\n".join(LINES) + b"\n")
    for extra in translate_flags:
        tr = run_cli(
            "nmt.translate", "--checkpoint", str(run_dir), "--input", str(src), "--beam", "3", *extra, corpus=corpus_dir
        )
        assert tr.returncode == 0 and len(tr.stdout.splitlines()) == len(LINES), tr.stderr.decode()[-2000:]
    ev = run_cli("nmt.evaluate", "--checkpoint", str(run_dir), "--split", "test", "--beam", "2", corpus=corpus_dir)
    assert ev.returncode == 0 and "bleu" in ev.stdout.decode().splitlines()[-1], ev.stderr.decode()[-2000:]
    bench = run_cli(
        "nmt.bench",
        "decode",
        "--checkpoint",
        str(run_dir),
        "--sentences",
        "8",
        "--batch1-sentences",
        "1",
        "--repeats",
        "1",
        "--beam",
        "2",
    )
    assert bench.returncode == 0, bench.stderr.decode()[-2000:]
