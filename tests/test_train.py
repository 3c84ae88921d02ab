import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from nmt.config import ConfigError, get_config
from nmt.data import BatchIterator, load_data
from nmt.model import make_model
from nmt.training import step as step_lib
from nmt.training import trainer
from tests.helpers import ROOT, tiny_config, tiny_overrides


def test_thirty_steps_lower_the_loss(corpus_dir):
    config = tiny_config(corpus_dir, "model.dropout=0.0")
    data = load_data(config.data)
    model = make_model(config, data.sp.vocab_size())
    opt = step_lib.make_optimizer(config.train)
    state = step_lib.init_train_state(model, opt, jax.random.key(0))
    train_fn = step_lib.compile_train_step(config, model, opt)
    it = BatchIterator(data.train.examples, config.data.buckets, config.data.batch_tokens, 0)
    probe = [next(it) for _ in range(4)]
    before = step_lib.mean_loss(state.params, model, probe)
    for _ in range(30):
        state, _ = train_fn(state, step_lib.model_batch(next(it)), jax.random.key(1))
    after = step_lib.mean_loss(state.params, model, probe)
    assert int(state.step) == 30 and after < 0.8 * before, (before, after)


def test_one_epoch_compiles_at_most_one_program_per_bucket(corpus_dir, tmp_path):
    config = tiny_config(corpus_dir)
    data = load_data(config.data)
    epoch = BatchIterator(data.train.examples, config.data.buckets, config.data.batch_tokens, 0).steps_per_epoch()
    res = trainer.run(
        tiny_config(corpus_dir, f"train.steps={epoch}", "train.final_beam=3"), str(tmp_path), progress=False
    )
    assert res["train_programs"] <= len(config.data.buckets) and res["train_programs"] == res["train_shapes"]
    saved = json.load(open(tmp_path / "results.json"))
    assert set(saved["test"]) >= {"bleu", "bleu_lc", "loss", "signature"} and saved["step"] == epoch
    assert saved["test"]["beam"]["beam"] == 3 and 0 <= saved["test"]["beam"]["bleu_lc"] <= 100
    rows = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
    assert {r["kind"] for r in rows} == {"train", "val", "final"}
    assert os.listdir(tmp_path / "tb") and len(open(tmp_path / "test.hyp").read().splitlines()) == 30


def test_sigterm_then_resume_then_more_steps_equals_uninterrupted_run(corpus_dir, tmp_path):
    interrupted, ema = tmp_path / "interrupted", "train.ema_decay=0.9"
    cmd = [
        sys.executable,
        "-m",
        "nmt.train",
        "--preset",
        "tiny",
        "--workdir",
        str(interrupted),
        "--no-progress",
        *tiny_overrides(corpus_dir),
        "train.steps=100000",
        "train.log_every=1",
        ema,
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    metrics = interrupted / "metrics.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 8):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "SIGTERM: saved step" in out and "Traceback" not in out
    stopped = int(out.split("SIGTERM: saved step ")[1].split()[0])
    assert 8 <= stopped < 100000

    # resumed to a finished run, which then goes on to more steps (the rsqrt decay does not depend on train.steps)
    trainer.run(tiny_config(corpus_dir, f"train.steps={stopped + 3}", ema), str(interrupted), progress=False)
    total = f"train.steps={stopped + 7}"
    resumed = trainer.run(tiny_config(corpus_dir, total, ema), str(interrupted), progress=False)
    straight = trainer.run(tiny_config(corpus_dir, total, ema), str(tmp_path / "straight"), progress=False)
    assert resumed["step"] == straight["step"] == stopped + 7
    for a, b in zip(
        jax.tree.leaves(jax.device_get(resumed["state"])), jax.tree.leaves(jax.device_get(straight["state"]))
    ):  # parameters, moving average and optimizer state
        np.testing.assert_array_equal(a, b)
    assert resumed["test"]["bleu"] == straight["test"]["bleu"]


def test_resume_refuses_a_different_configuration(corpus_dir, tmp_path):
    trainer.run(tiny_config(corpus_dir, "train.steps=2"), str(tmp_path), progress=False)
    with pytest.raises(ConfigError, match="different configuration \\(model.hidden: 24 there, 32 now\\)"):
        trainer.run(tiny_config(corpus_dir, "model.hidden=32"), str(tmp_path), progress=False)
    cosine = str(tmp_path / "cosine")  # its decay is spread over train.steps: more steps would change the schedule
    trainer.run(tiny_config(corpus_dir, "train.steps=2", "train.decay=cosine"), cosine, progress=False)
    with pytest.raises(ConfigError, match="train.steps"):
        trainer.run(tiny_config(corpus_dir, "train.steps=4", "train.decay=cosine"), cosine, progress=False)


def test_a_run_that_fails_at_set_up_leaves_nothing_behind(tmp_path):
    from nmt.data import DataError

    missing = str(tmp_path / "no-corpus")
    for workdir in (tmp_path / "new", tmp_path / "empty"):
        if workdir.name == "empty":
            workdir.mkdir()
        with pytest.raises(DataError):
            trainer.run(tiny_config(missing), str(workdir), progress=False)
        assert workdir.exists() == (workdir.name == "empty") and not (workdir.exists() and os.listdir(workdir))


def test_sgd_momentum_is_heavy_ball_and_only_for_sgd():
    import jax.numpy as jnp

    cfg = get_config(
        "tiny",
        [
            "train.optimizer=sgd",
            "train.momentum=0.9",
            "train.lr=0.5",
            "train.clip_norm=0",
            "train.warmup_steps=0",
            "train.decay=constant",
        ],
    ).train
    opt = step_lib.make_optimizer(cfg)
    params, grad = {"w": jnp.zeros(3)}, {"w": jnp.asarray([1.0, -2.0, 0.5])}
    state = opt.init(params)
    first, state = opt.update(grad, state, params)
    second, _ = opt.update(grad, state, params)
    np.testing.assert_allclose(first["w"], -0.5 * grad["w"], rtol=1e-6)
    np.testing.assert_allclose(second["w"], -0.5 * 1.9 * grad["w"], rtol=1e-6)  # v = 0.9 v + g
    with pytest.raises(ConfigError, match="train.momentum"):
        get_config("tiny", ["train.momentum=0.9"])  # Adam has its own moments


def test_no_warmup_means_the_full_rate_from_the_first_step():
    for decay in ("constant", "cosine", "rsqrt"):
        cfg = get_config("tiny", [f"train.decay={decay}", "train.warmup_steps=0", "train.lr=0.5"]).train
        assert abs(float(step_lib.learning_rate(cfg)(0)) - 0.5) < 1e-6, decay
    cfg = get_config("tiny", ["train.decay=constant", "train.warmup_steps=10", "train.lr=0.5"]).train
    assert float(step_lib.learning_rate(cfg)(0)) == 0.0 and abs(float(step_lib.learning_rate(cfg)(10)) - 0.5) < 1e-6


def test_the_flattened_optimizer_update_equals_the_per_leaf_one():
    import jax.numpy as jnp

    params = {"a": jnp.ones((3, 4)), "b": jnp.arange(5.0)}
    grads = {"a": jnp.full((3, 4), 0.3), "b": jnp.linspace(-1, 1, 5) * 9}  # clipped: global norm > 5
    updates = []
    for flat in (False, True):
        opt = step_lib.make_optimizer(get_config("opennmt_rnn", [f"train.flat_update={flat}"]).train)
        state = opt.init(params)
        first, state = opt.update(grads, state, params)
        updates.append((first, opt.update(grads, state, params)[0]))
    for a, b in zip(jax.tree.leaves(updates[0]), jax.tree.leaves(updates[1])):
        np.testing.assert_allclose(a, b, rtol=1e-6)
