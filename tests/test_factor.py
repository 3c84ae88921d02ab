"""Low-rank factors and int8 weights: exact at full rank, within a stated bound in int8, loadable by every command."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nmt.compress.factor import energy_rank, factor, located, present, quantise, svd_factors, to_int8
from nmt.decode import BeamConfig
from nmt.decode.search import beam_decode, embedding_projection
from nmt.model import Seq2Seq
from nmt.model.matrices import Matrix
from tests.helpers import model_and_params, random_batch

CASES = [("model.tie_output=true", "model.dec_layers=2"), ("model.tie_output=false", "model.dec_layers=1")]


def _full_rank(params, cfg):
    for name in present(params, cfg):
        holder, key = located(params, name)
        params, cfg, _ = factor(params, cfg, [name], rank=min(holder[key].shape))
    return params, cfg


def _outputs(model, params, batch):
    """Teacher-forced logits, a beam search's tokens and scores, and shortlisted logits of one step."""
    logits = model.apply({"params": params}, *batch)
    res = beam_decode(model, params, batch[0], BeamConfig(beam=3), 8, projected=embedding_projection(model, params))
    ids = jnp.arange(3, 17)
    v = {"params": params}
    memory = model.apply(v, batch[0], method=Seq2Seq.encode)
    weights = model.apply(v, ids, method=Seq2Seq.output_weights)
    state = model.apply(v, memory, method=Seq2Seq.zero_state)
    short = model.apply(v, memory, state, batch[1][:, 0], weights, method=Seq2Seq.step)[1]
    return logits, res["tokens"], res["scores"], short


@pytest.mark.parametrize("overrides", CASES)
def test_a_model_factored_at_full_rank_computes_what_it_did(overrides):
    model, params = model_and_params(*overrides, "model.enc_layers=2")
    params = jax.tree.map(np.asarray, params)
    factored, cfg = _full_rank(params, model.cfg)
    assert len(cfg.ranks()) == len(present(params, model.cfg)) >= 5 and not present(factored, cfg)
    batch = random_batch(np.random.default_rng(0), 3, 7, 6)
    for a, b in zip(_outputs(model, params, batch), _outputs(Seq2Seq(cfg, 30), factored, batch)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-5)


def test_truncated_factors_are_the_best_approximation_and_energy_picks_the_rank():
    rng = np.random.default_rng(0)
    s = np.array([10.0, 5.0, 1.0, 0.5])
    w = np.linalg.qr(rng.normal(size=(9, 4)))[0] @ np.diag(s) @ np.linalg.qr(rng.normal(size=(4, 4)))[0]
    u, v = svd_factors(w, 2)
    assert u.shape == (9, 2) and v.shape == (2, 4)
    np.testing.assert_allclose(np.linalg.norm(w - u @ v), np.hypot(1.0, 0.5), rtol=1e-5)  # Eckart-Young
    kept = np.cumsum(s**2) / (s**2).sum()  # 0.79, 0.99, 0.998, 1
    assert [energy_rank(s, e) for e in (0.5, kept[0], 0.9, 0.995, 1.0)] == [1, 1, 2, 3, 4]


def _int8_bound(m: Matrix, x: np.ndarray, step: np.ndarray) -> np.ndarray:
    """The largest error of m.apply(x) against x @ W: x (scaled by W's scale where that runs along what x reads) is
    quantised per row to half its largest value / 127, and each weight is off by half its own scale at most."""
    q, scale = np.asarray(m.q, np.float64), np.asarray(m.scale, np.float64)
    xs, a = (x * scale, np.abs(q)) if m.rowwise else (x, np.abs(q) * scale)
    return np.abs(xs).max(-1, keepdims=True) / 254 * a.sum(0) + np.abs(x) @ step + 1e-6


def test_int8_products_stay_within_the_quantisation_bound():
    rng = np.random.default_rng(1)
    w, x = rng.normal(0, 0.1, (24, 40)).astype(np.float32), rng.normal(0, 1, (5, 24)).astype(np.float32)
    y = rng.normal(0, 1, (5, 40)).astype(np.float32)
    for rowwise in (False, True):
        q, scale = quantise(w, rowwise)
        m = Matrix(q=jnp.asarray(q), scale=jnp.asarray(scale), rowwise=rowwise)
        step = np.broadcast_to((scale[:, None] if rowwise else scale[None, :]) / 2 * (1 + 1e-5), w.shape)
        assert (np.abs(np.asarray(m.value()) - w) <= step).all()
        np.testing.assert_array_less(np.abs(np.asarray(m.apply(x, jnp.float32)) - x @ w), _int8_bound(m, x, step))
        np.testing.assert_array_less(
            np.abs(np.asarray(m.apply_t(y, jnp.float32)) - y @ w.T), _int8_bound(m.t(), y, step.T)
        )
        assert np.abs(np.asarray(m.apply(x, jnp.float32)) - x @ w).max() < 0.02 * np.abs(x @ w).max()
        np.testing.assert_allclose(np.asarray(m.columns(jnp.array([3, 7]))), np.asarray(m.value())[:, [3, 7]].T)


@pytest.mark.parametrize("overrides", CASES)
def test_an_int8_model_stays_close_and_takes_a_quarter_of_the_bytes(overrides):
    model, params = model_and_params(*overrides, "model.enc_layers=2", "model.emb=16", "model.hidden=24", seed=3)
    params = jax.tree.map(np.asarray, params)
    small, cfg = to_int8(params, model.cfg)
    names = present(params, model.cfg)
    nbytes = lambda p: sum(located(p, n)[0][located(p, n)[1] + k].nbytes for n in names for k in ("_q", "_scale"))
    assert nbytes(small) < 0.3 * sum(located(params, n)[0][located(params, n)[1]].nbytes for n in names)
    batch = random_batch(np.random.default_rng(0), 3, 7, 6)
    a = np.asarray(model.apply({"params": params}, *batch))
    b = np.asarray(Seq2Seq(cfg, 30).apply({"params": small}, *batch))
    assert np.abs(a - b).max() <= 0.02 * np.abs(a).max()


def test_a_compressed_run_loads_in_every_command_and_bad_arguments_give_one_line(tiny_run, corpus_dir, tmp_path):
    from tests.helpers import check_commands_read, one_line_error, run_cli

    out = tmp_path / "small"
    r = run_cli(
        "nmt.compress",
        "--checkpoint",
        tiny_run,
        "--out",
        str(out),
        "--prune-hidden",
        "12",
        "--factor",
        "tgt_embed,w_combine",
        "--rank",
        "6",
        "--int8",
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    info = json.loads((out / "release.json").read_text())
    assert info["compressed"]["ranks"] == {"tgt_embed": 6, "w_combine": 6}
    model = json.loads((out / "config.json").read_text())["model"]
    assert model["int8"] and model["low_rank"] == ["tgt_embed:6", "w_combine:6"] and model["hidden"] == 12
    check_commands_read(out, corpus_dir, tmp_path, ([], ["--shortlist", "20"]))
    for args, words in [
        (["--factor", "w_combine", "--rank", "999"], "--rank 999: larger than w_combine"),
        (["--factor", "w_out", "--rank", "4"], "--factor w_out: not a full matrix"),
        (["--factor", "all", "--rank", "4", "--energy", "0.9"], "either --rank"),
        (["--rank", "4"], "need --factor"),
    ]:
        err = one_line_error(run_cli("nmt.compress", "--checkpoint", tiny_run, "--out", str(tmp_path / "x"), *args))
        assert words in err, err
    err = one_line_error(run_cli("nmt.compress", "--checkpoint", str(out), "--out", str(tmp_path / "x"), "--int8"))
    assert "already compressed" in err, err
    assert not (tmp_path / "x").exists()


def test_an_int8_model_cannot_be_trained(tmp_path):
    from tests.helpers import one_line_error, run_cli

    err = one_line_error(run_cli("nmt.train", "--workdir", str(tmp_path / "w"), "model.int8=true"))
    assert "cannot be trained" in err, err
