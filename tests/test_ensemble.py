"""Ensemble decoding: several runs searched as one, their log-probabilities (or probabilities) averaged at each step."""

import dataclasses
import shutil

import jax.numpy as jnp
import numpy as np
import pytest

from nmt.decode import BeamConfig, beam_decode
from nmt.decode.ensemble import ensemble_beam_decode
from nmt.decode.scoring import score_outputs
from nmt.run import load_run
from tests.helpers import LINES, one_line_error, run_cli

SRC = np.array([[5, 9, 12, 7, 3, 0, 0, 0], [11, 4, 3, 0, 0, 0, 0, 0], [6, 8, 10, 13, 15, 17, 3, 0]], np.int32)


@pytest.fixture(scope="module")
def two_models(tiny_run):
    a, b = load_run(tiny_run, "evaluated", step=20), load_run(tiny_run, "evaluated", step=40)
    return (a.model, b.model), (a.params, b.params)


@pytest.mark.parametrize("mean", ["log", "prob"])
def test_an_ensemble_of_one_is_that_models_search(two_models, mean):
    (model, _), (params, _) = two_models
    cfg = BeamConfig(beam=4, nbest=4, topk="plain")
    alone = beam_decode(model, params, jnp.asarray(SRC), cfg, 14)
    one = ensemble_beam_decode((model,), (params,), jnp.asarray(SRC), dataclasses.replace(cfg, ensemble_mean=mean), 14)
    np.testing.assert_array_equal(one["tokens"], alone["tokens"])
    np.testing.assert_array_equal(one["scores"], alone["scores"])


def test_ensemble_scores_are_the_mean_of_the_models_teacher_forced_log_probs(two_models):
    models, params = two_models
    cfg = BeamConfig(beam=3, nbest=3, alpha=0.0)
    res = ensemble_beam_decode(models, params, jnp.asarray(SRC), cfg, 14)
    for j in range(3):
        each = [score_outputs(m, p, jnp.asarray(SRC), res["tokens"][:, j], cfg)["logp"] for m, p in zip(models, params)]
        assert not np.allclose(each[0], each[1], atol=1e-2)  # two different models, so the mean is a real test
        forced = (each[0] + each[1]) / 2
        np.testing.assert_allclose(res["logp"][:, j], forced, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(res["scores"][:, j], forced, rtol=1e-4, atol=1e-4)  # alpha 0: no length penalty


def test_a_probability_mean_ensemble_scores_the_log_of_the_models_mean_probability(two_models):
    models, params = two_models
    cfg = BeamConfig(beam=3, nbest=3, alpha=0.0, ensemble_mean="prob")
    res = ensemble_beam_decode(models, params, jnp.asarray(SRC), cfg, 14)
    log_mean = ensemble_beam_decode(models, params, jnp.asarray(SRC), BeamConfig(beam=3, nbest=3, alpha=0.0), 14)
    assert not np.array_equal(res["scores"], log_mean["scores"])
    for j in range(3):
        each = [
            np.asarray(score_outputs(m, p, jnp.asarray(SRC), res["tokens"][:, j], cfg)["token_logp"])
            for m, p in zip(models, params)
        ]
        forced = np.log((np.exp(each[0]) + np.exp(each[1])) / 2).sum(-1)
        np.testing.assert_allclose(res["logp"][:, j], forced, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(res["scores"][:, j], forced, rtol=1e-4, atol=1e-4)
        assert np.all(forced >= (each[0] + each[1]).sum(-1) / 2 - 1e-5)  # Jensen: never below the log mean


def test_the_commands_take_several_checkpoints(tiny_run, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(b"\n".join(LINES) + b"\n")
    one = run_cli("nmt.translate", "--checkpoint", tiny_run, "--input", str(src), "--beam", "3")
    two = run_cli(
        "nmt.translate", "--checkpoint", tiny_run, "--checkpoint", tiny_run, "--input", str(src), "--beam", "3"
    )
    assert one.returncode == two.returncode == 0, two.stderr.decode()[-2000:]
    assert two.stdout == one.stdout and len(two.stdout.splitlines()) == len(LINES)  # two copies: the same model
    prob = run_cli(
        "nmt.translate",
        "--checkpoint",
        tiny_run,
        "--checkpoint",
        tiny_run,
        "--input",
        str(src),
        "--beam",
        "3",
        "--ensemble-mean",
        "prob",
    )
    assert prob.returncode == 0 and prob.stdout == one.stdout, prob.stderr.decode()[-2000:]
    err = one_line_error(
        run_cli(
            "nmt.translate",
            "--checkpoint",
            tiny_run,
            "--checkpoint",
            tiny_run,
            "--input",
            str(src),
            "--shortlist",
            "20",
        )
    )
    assert "ensemble" in err and "--shortlist" in err, err


def test_an_ensemble_of_two_vocabularies_is_refused(tiny_run, corpus_dir, tmp_path):
    import sentencepiece as spm

    other = tmp_path / "other"
    shutil.copytree(tiny_run, other)
    spm.SentencePieceTrainer.train(
        input=f"{corpus_dir}/train.tgt",
        model_prefix=str(tmp_path / "v"),
        vocab_size=60,
        model_type="unigram",
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        minloglevel=2,
        hard_vocab_limit=False,
    )
    shutil.copy(tmp_path / "v.model", other / "vocab.model")
    err = one_line_error(
        run_cli("nmt.evaluate", "--checkpoint", tiny_run, "--checkpoint", str(other), corpus=corpus_dir)
    )
    assert "vocabulary differs" in err and str(other) in err, err
