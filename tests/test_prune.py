"""Structured pruning: whole hidden units out of every matrix, leaving an ordinary smaller model."""

import jax
import numpy as np
import pytest

from nmt.compress.prune import choose_units, prune
from nmt.config import ConfigError
from nmt.model import Seq2Seq
from tests.helpers import model_and_params, random_batch

CASES = [("general", 2, 2), ("bahdanau", 3, 3), ("general", 1, 1)]


def _logits(model, params, batch):
    return np.asarray(model.apply({"params": params}, *batch))


@pytest.mark.parametrize("attention, enc, dec", CASES)
def test_keeping_every_unit_in_any_order_computes_the_same(attention, enc, dec):
    model, params = model_and_params(
        f"model.attention={attention}", f"model.enc_layers={enc}", f"model.dec_layers={dec}"
    )
    batch = random_batch(np.random.default_rng(0), 3, 7, 6)
    rng = np.random.default_rng(1)
    units = {k: rng.permutation(v) for k, v in choose_units(params, model.cfg, model.cfg.hidden).items()}
    assert any((u != np.sort(u)).any() for u in units.values())
    pruned, cfg = prune(params, model.cfg, model.cfg.hidden, units)
    np.testing.assert_allclose(
        _logits(Seq2Seq(cfg, 30), pruned, batch), _logits(model, params, batch), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("attention, enc, dec", CASES)
def test_a_pruned_model_has_the_shapes_of_a_smaller_model_and_runs(attention, enc, dec):
    model, params = model_and_params(
        f"model.attention={attention}", f"model.enc_layers={enc}", f"model.dec_layers={dec}"
    )
    pruned, cfg = prune(params, model.cfg, 7)
    assert cfg.hidden == 7
    small = Seq2Seq(cfg, 30)
    fresh = jax.eval_shape(
        lambda: small.init(jax.random.key(0), np.ones((2, 5), np.int32), np.ones((2, 5), np.int32))["params"]
    )
    assert jax.tree.structure(fresh) == jax.tree.structure(pruned)
    for a, b in zip(jax.tree.leaves(fresh), jax.tree.leaves(pruned)):
        assert a.shape == b.shape
    assert np.isfinite(_logits(small, pruned, random_batch(np.random.default_rng(0), 3, 7, 6))).all()


def test_magnitude_keeps_the_units_whose_weights_are_largest():
    model, params = model_and_params("model.enc_layers=2", "model.dec_layers=2")
    params = jax.tree.map(np.asarray, params)
    h = model.cfg.hidden
    big = 5  # one unit of the decoder's first layer made far larger than the rest
    w = params["dec_l0_w"].copy()
    w[:, [big + g * h for g in range(4)]] *= 50
    units = choose_units(dict(params, dec_l0_w=w), model.cfg, 3)
    assert big in units["dec_l0"] and all(len(u) == 3 for u in units.values())


def test_impossible_sizes_are_refused():
    model, params = model_and_params()
    for hidden in (0, model.cfg.hidden + 1):
        with pytest.raises(ConfigError, match="--prune-hidden"):
            prune(params, model.cfg, hidden)
    dot, dot_params = model_and_params("model.attention=dot", "model.enc_layers=2")
    with pytest.raises(ConfigError, match="attention=dot"):
        prune(dot_params, dot.cfg, 6)


def test_a_pruned_run_loads_in_every_command(tiny_run, corpus_dir, tmp_path):
    import json

    from tests.helpers import check_commands_read, one_line_error, run_cli

    out = tmp_path / "pruned"
    r = run_cli("nmt.compress", "--checkpoint", tiny_run, "--out", str(out), "--prune-hidden", "12", text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    info = json.loads((out / "release.json").read_text())
    assert info["parameters"] < info["parameters_before"]
    assert json.loads((out / "config.json").read_text())["model"]["hidden"] == 12
    check_commands_read(out, corpus_dir, tmp_path)
    for args, words in [
        (["--out", str(out), "--prune-hidden", "8"], "already exists"),
        (["--out", str(tmp_path / "big"), "--prune-hidden", "99"], "--prune-hidden 99"),
        (["--out", str(tmp_path / "x")], "not a run"),
    ]:
        checkpoint = str(tmp_path) if words == "not a run" else tiny_run
        err = one_line_error(run_cli("nmt.compress", "--checkpoint", checkpoint, *args))
        assert words in err, err
    assert not (tmp_path / "big").exists()


def test_fine_tuning_a_pruned_run_trains_it_and_keeps_its_scores(tiny_run, corpus_dir, tmp_path):
    import json

    from nmt.run import load_run
    from tests.helpers import run_cli

    out = tmp_path / "tuned"
    r = run_cli(
        "nmt.compress",
        "--checkpoint",
        tiny_run,
        "--out",
        str(out),
        "--prune-hidden",
        "12",
        "--finetune-steps",
        "6",
        "--no-progress",
        corpus=corpus_dir,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((out / "finetune_results.json").read_text())["step"] == 6
    assert not (tmp_path / "tuned.train").exists()
    untuned = tmp_path / "untuned"
    r = run_cli("nmt.compress", "--checkpoint", tiny_run, "--out", str(untuned), "--prune-hidden", "12")
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    a, b = load_run(str(out)).params, load_run(str(untuned)).params
    assert jax.tree.structure(a) == jax.tree.structure(b)
    assert any(not np.allclose(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))  # it trained


def test_training_from_given_parameters_with_a_moving_average(tiny_run, corpus_dir, tmp_path):
    """Fine-tuning starts the parameters and their moving average from the given ones (two arrays, not one twice)."""
    from nmt.run import load_run
    from nmt.training import trainer
    from tests.helpers import tiny_config

    given = load_run(tiny_run).params
    cfg = tiny_config(
        corpus_dir,
        "train.steps=2",
        "train.ema_decay=0.999",
        "train.final_beam=1",
        "train.eval_every=2",
        "train.lr=1e-9",
    )
    res = trainer.run(cfg, str(tmp_path / "ft"), progress=False, init_params=given)
    assert int(res["state"].step) == 2
    for a, b in zip(jax.tree.leaves(res["state"].ema), jax.tree.leaves(given)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)  # a rate of 1e-9 leaves them in place
