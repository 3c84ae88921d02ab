"""Checkpoint averaging (nmt.release --average, train.final_average) and the moving average of the parameters
(train.ema_decay)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nmt.checkpoints import mean_tree
from nmt.config import ConfigError
from nmt.model import make_model
from nmt.run import load_run
from tests.helpers import one_line_error, run_cli, tiny_config


def leaves_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_the_mean_of_identical_trees_is_that_tree_exactly():
    rng = np.random.default_rng(0)
    tree = {"w": rng.normal(size=(7, 5)).astype(np.float32), "b": {"c": rng.normal(size=3).astype(np.float32)}}
    for n in (1, 3, 7):
        assert leaves_equal(mean_tree([tree] * n), tree)
    other = jax.tree.map(lambda x: x + 1.0, tree)
    np.testing.assert_allclose(mean_tree([tree, other])["w"], tree["w"] + 0.5, rtol=1e-6)
    assert mean_tree([tree, other])["w"].dtype == np.float32


def test_release_averages_the_last_evaluations(tiny_run, tmp_path):
    out = tmp_path / "averaged"
    r = run_cli("nmt.release", "--checkpoint", tiny_run, "--out", str(out), "--average", "2")
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    first, last = load_run(tiny_run, "evaluated", step=20), load_run(tiny_run, "evaluated", step=40)
    averaged = load_run(str(out))
    expected = jax.tree.map(
        lambda a, b: (np.asarray(a, np.float64) + np.asarray(b, np.float64)) / 2, first.params, last.params
    )
    for a, b in zip(jax.tree.leaves(averaged.params), jax.tree.leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert averaged.step == 40
    err = one_line_error(
        run_cli("nmt.release", "--checkpoint", tiny_run, "--out", str(tmp_path / "x"), "--average", "3")
    )
    assert "2 evaluated checkpoint(s) kept, 3 asked to average" in err, err
    assert not (tmp_path / "x").exists()


def test_the_moving_average_follows_the_parameters_with_a_ramped_decay(corpus_dir):
    from nmt.training import step as step_lib

    config = tiny_config(corpus_dir, "train.ema_decay=0.99")
    model = make_model(config, 80)
    opt = step_lib.make_optimizer(config.train)
    state = step_lib.init_train_state(model, opt, jax.random.key(0), ema=True)
    assert leaves_equal(state.ema, state.params)
    step = step_lib.compile_train_step(config, model, opt)
    batch = {
        k: jnp.asarray(np.random.default_rng(1).integers(3, 80, (4, 8)), jnp.int32)
        for k in ("src", "tgt_in", "tgt_out")
    }
    expected = jax.tree.map(np.asarray, state.params)  # the step donates the state it reads
    for t in range(3):  # decay min(0.99, (1 + t) / (10 + t))
        state, _ = step(state, batch, jax.random.key(2))
        d = min(0.99, (1 + t) / (10 + t))
        expected = jax.tree.map(lambda e, p: d * e + (1 - d) * np.asarray(p), expected, state.params)
        for a, b in zip(jax.tree.leaves(state.ema), jax.tree.leaves(expected)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not leaves_equal(state.ema, state.params)


def test_a_run_with_a_moving_average_evaluates_keeps_and_loads_it(corpus_dir, tmp_path):
    from nmt.training import trainer

    config = tiny_config(
        corpus_dir,
        "train.steps=10",
        "train.eval_every=5",
        "train.eval_bleu_max=10",
        "train.final_beam=1",
        "train.ema_decay=0.9",
        "train.keep_evaluated=2",
        "train.final_average=2",
    )
    res = trainer.run(config, str(tmp_path), progress=False)
    assert res["averaged_steps"] == [5, 10]
    ema = res["state"].ema
    latest, evaluated = load_run(str(tmp_path), "latest"), load_run(str(tmp_path), "evaluated")
    assert leaves_equal(latest.params, ema) and leaves_equal(evaluated.params, ema)
    assert not leaves_equal(latest.params, res["state"].params)


def test_averaging_options_are_checked():
    with pytest.raises(ConfigError, match="train.keep_evaluated >= 3"):
        tiny_config("x", "train.final_average=3", "train.keep_evaluated=2")
    with pytest.raises(ConfigError, match="parallel.method=none"):
        tiny_config("x", "train.ema_decay=0.9", "parallel.method=sync", "parallel.workers=2")
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        tiny_config("x", "train.ema_decay=1.0")
