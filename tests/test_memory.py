import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nmt.config import ConfigError, get_config
from nmt.model import Seq2Seq, make_model, policies
from nmt.model.loss import token_loss
from nmt.tools.residuals import saved_residuals
from tests.helpers import ROOT, assert_same_loss_and_grads, loss_for, random_batch

# Every named policy, and one of each family the names are parsed into.
POLICIES = [p for p in policies.REGISTRY if p != "none"] + [
    "save:dec_h,attn_probs",
    "offload:dec_h,lstm_c",
    "custom:dec_h=device,attn_context=offload,lstm_h=remat",
]


@pytest.mark.parametrize("remat", POLICIES)
def test_every_policy_gives_the_same_loss_and_gradients(remat):
    ref_fn, params = loss_for("none")
    assert_same_loss_and_grads(loss_for(remat)[0], ref_fn, params)


@pytest.mark.parametrize(
    "remat, decoder, words",
    [
        ("sqrt_t", "luong", 0.0),
        ("full", "luong", 0.0),
        ("sqrt_t", "gnmt", 0.0),
        ("full", "gnmt", 0.0),
        ("sqrt_t", "luong", 0.2),
    ],
)
def test_policies_draw_the_same_dropout_as_none(remat, decoder, words):
    layers = ("model.enc_layers=3", "model.dec_layers=3", f"model.decoder={decoder}", f"model.word_dropout={words}")
    ref_fn, params = loss_for("none", *layers, dropout=0.3, tgt_len=11)
    fn, _ = loss_for(remat, *layers, dropout=0.3, tgt_len=11)
    assert_same_loss_and_grads(fn, ref_fn, params, rtol=1e-4, atol=1e-6)


def test_the_chunked_loss_equals_the_loss_of_the_full_logits():
    fn, params = loss_for("sqrt_t", tgt_len=11)
    model = Seq2Seq(
        get_config(
            "tiny", ["model.emb=8", "model.hidden=12", "model.dropout=0.0", "model.enc_layers=2", "model.dec_layers=2"]
        ).model,
        30,
    )
    src, tgt = random_batch(np.random.default_rng(0), 3, 7, 11)
    tgt_out = jnp.roll(tgt, -1, axis=1).at[:, -1].set(0)
    np.testing.assert_allclose(
        fn(params), token_loss(model.apply({"params": params}, src, tgt), tgt_out, 0.1)[0], rtol=1e-6
    )


def test_sqrt_t_keeps_no_logits_and_grows_slower_than_none():
    """Residuals of the chunked loss: none of them is [T, B, V]-sized, and they grow sublinearly in T."""

    def kept(remat, t):
        fn, params = loss_for(remat, tgt_len=t)
        return saved_residuals(fn, params)

    vocab_sized = [r for r in kept("sqrt_t", 64) if 30 in r.shape and 64 in r.shape]
    assert not vocab_sized, vocab_sized
    total = {(p, t): sum(r.bytes for r in kept(p, t)) for p in ("none", "sqrt_t") for t in (16, 256)}
    assert total[("none", 256)] / total[("none", 16)] > 8
    assert total[("sqrt_t", 256)] / total[("sqrt_t", 16)] < 5


def shapes(residuals, on_host):
    return collections.Counter((r.shape, r.dtype) for r in residuals if r.on_host == on_host)


def test_recomputing_everything_saves_less_than_no_policy():
    none_fn, params = loss_for("none")
    full_fn, _ = loss_for("full")
    kept = lambda fn: sum(r.bytes for r in saved_residuals(fn, params))
    assert kept(full_fn) < kept(none_fn)


@pytest.mark.parametrize("names", ["dec_h", "attn_scores", "attn_probs,attn_context"])
def test_offload_puts_exactly_the_named_residuals_on_host(names):
    _, params = loss_for("none")
    full = saved_residuals(loss_for("full")[0], params)
    saved = saved_residuals(loss_for(f"save:{names}")[0], params)
    offloaded = saved_residuals(loss_for(f"offload:{names}")[0], params)
    named = shapes(saved, False) - shapes(full, False)
    assert named, "the named tensors should add residuals"
    assert shapes(offloaded, True) == named
    assert shapes(offloaded, False) == shapes(full, False)


def test_unknown_names_list_the_valid_ones():
    for spec, message in (
        ("everything", "valid: none, full, dots"),
        ("offload:keys", "tagged tensors: lstm_h"),
        ("custom:dec_h=gpu", "remat|device|offload"),
        ("auto", "must be resolved first"),
    ):
        with pytest.raises(ConfigError, match=message):
            make_model(
                get_config("tiny", [f"model.remat={spec}"] + ["model.memory_budget=1GiB"] * (spec == "auto")), 30
            )


def test_registry_entries_say_what_they_are():
    assert policies.chunked("sqrt_t") and not any(policies.chunked(p) for p in policies.REGISTRY if p != "sqrt_t")
    assert policies.AUTOFIT[0] == "none" and policies.AUTOFIT[-1] == "sqrt_t"
    assert not any(p.startswith("offload") for p in policies.AUTOFIT)  # offloading moves nothing on a CPU


def test_memory_report_follows_the_policy_and_the_batch_shape():
    from nmt.tools.memory_report import memory_report
    from nmt.training.memory import compile_for_shapes

    cfg = lambda spec: get_config("tiny", ["model.emb=8", "model.hidden=12", f"model.remat={spec}"])
    offload, save = "offload:dec_h,attn_probs", "save:dec_h,attn_probs"
    rep = {(spec, n): memory_report(cfg(spec), 40, rows=4, length=n) for spec in (save, offload) for n in (9, 18)}
    assert memory_report(cfg("none"), 40, rows=4, length=9)["residual_bytes_host"] == 0
    for n in (9, 18):
        assert rep[save, n]["residual_bytes_host"] == 0
        # offloading moves the residuals that saving them keeps, no more and no fewer
        assert 0 < rep[offload, n]["residual_bytes_host"] < rep[save, n]["residual_bytes_device"]
        assert (
            rep[offload, n]["residual_bytes_host"] + rep[offload, n]["residual_bytes_device"]
            == rep[save, n]["residual_bytes_device"]
        )
        assert {r["placement"] for r in rep[offload, n]["residuals"]} == {"host", "device"}
    for spec in (save, offload):  # twice the target length: more of everything that scales with it
        for key in ("temp_bytes", "residual_bytes_device"):
            assert rep[spec, 18][key] > rep[spec, 9][key], (spec, key)
    compiled = compile_for_shapes(cfg(offload), 40, 4, 9)
    assert [x.shape for x in jax.tree.leaves(compiled[3])] == [(4, 9)] * 3
    assert memory_report(cfg(offload), 40, rows=4, length=9, compiled=compiled) == rep[offload, 9]


def test_recomputing_attention_needs_less_temp_memory():
    from nmt.tools.bench_memory import attention_scan_loss
    from nmt.training.memory import compiled_stats

    b, t, s, h = 4, 16, 24, 32
    keys = jax.random.normal(jax.random.key(0), (b, s, h))
    p = {"w_k": jnp.ones((h, h)), "w_q": jnp.eye(h), "v": jnp.ones(h)}
    args = (p, jnp.eye(h), keys, keys, jnp.ones((b, s), bool), jnp.ones((t, b, h)))
    temp = {
        r: compiled_stats(jax.jit(jax.grad(attention_scan_loss("bahdanau", r))).lower(*args).compile())["temp_bytes"]
        for r in (False, True)
    }
    assert temp[True] * 3 < temp[False]


def test_autofit_keeps_the_least_recomputing_policy_that_fits():
    from nmt.training.autofit import autofit

    base = [
        "model.emb=8",
        "model.hidden=16",
        "model.enc_layers=2",
        "model.dec_layers=2",
        "data.buckets=[8,16]",
        "data.max_len=16",
        "data.batch_tokens=64",
        "model.remat=auto",
    ]
    chosen, table = autofit(get_config("tiny", base + ["model.memory_budget=1GiB"]), 40)
    assert chosen.model.remat == "none" and [r["remat"] for r in table] == list(policies.AUTOFIT)
    need = {r["remat"]: r["bytes"] for r in table}
    assert need["full"] < need["none"]
    budget = (need["full"] + need["none"]) // 2
    chosen, _ = autofit(get_config("tiny", base + [f"model.memory_budget={budget}B"]), 40)
    assert chosen.model.remat != "none" and need[chosen.model.remat] <= budget
    with pytest.raises(ConfigError, match="no policy fits"):
        autofit(get_config("tiny", base + ["model.memory_budget=1KiB"]), 40)
    with pytest.raises(ConfigError, match="memory_budget"):
        get_config("tiny", ["model.remat=auto"])
    with pytest.raises(ConfigError, match=r"model.memory_budget=1GiB is read only with model.remat=auto"):
        get_config("tiny", ["model.remat=full", "model.memory_budget=1GiB"])


def test_remat_sweep_runs_on_tiny_settings(tmp_path):
    import json
    import os
    import subprocess
    import sys

    r = subprocess.run(
        [
            sys.executable,
            "experiments/remat_sweep.py",
            "--tiny",
            "--time",
            "--out",
            str(tmp_path),
            "--policies",
            "none;full;offload:dec_h,attn_context",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.load(open(tmp_path / "remat_sweep.json"))
    assert len(rows) == 3 * 2 and all(r["temp_bytes"] > 0 and r["step_s"] > 0 for r in rows)
    by = {(r["policy"], r["enc_layers"], r["tgt_len"]): r for r in rows}
    assert by[("full", 2, 32)]["temp_bytes"] < by[("none", 2, 32)]["temp_bytes"]
    assert by[("offload:dec_h,attn_context", 2, 32)]["residual_bytes_host"] > 0
    assert (tmp_path / "remat_memory_vs_length.png").exists() and (tmp_path / "remat_pareto.png").exists()
