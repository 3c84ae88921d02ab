"""Sequence-level knowledge distillation: the student trains on the teacher's beam-search translations."""

import json
import os

import jax
import numpy as np
import pytest

from nmt.compress.distill import distill
from nmt.data import eval_batches, load_data
from nmt.data.vocab import EOS
from nmt.decode import BeamConfig
from nmt.model import init_params
from nmt.run import load_run
from nmt.run.release import write_run
from nmt.run.translation import translator_for
from nmt.training import step as step_lib
from tests.helpers import one_line_error, run_cli

FAST = ["train.warmup_steps=0", "train.lr=0.03"]  # a student that learns something in six steps


def _lines(path):
    with open(path) as f:
        return f.read().splitlines()


@pytest.fixture(scope="module")
def teacher(tiny_run, tmp_path_factory):
    """The toy run with its output bias pushed towards a few words and away from EOS: a teacher whose translations
    are never empty (the toy run, a few steps old, ends every sentence at once)."""
    run = load_run(tiny_run)
    params = jax.tree.map(np.array, run.params)
    params["b_out"][EOS] -= 30.0
    params["b_out"][EOS + 1 : EOS + 5] += 10.0
    out = str(tmp_path_factory.mktemp("teacher") / "run")
    write_run(tiny_run, out, run.config, run.step, params, {})
    return out


def test_the_student_learns_the_teachers_translations_and_resumes(teacher, corpus_dir, tmp_path):
    student = str(tmp_path / "student")
    cfg = BeamConfig(beam=3, max_len_a=1.0, max_len_b=2)  # within the student's max_len, 24
    res = distill(
        teacher,
        student,
        ["model.hidden=12", "train.steps=4", "train.eval_every=4", *FAST],
        cfg,
        slots=8,
        progress=False,
    )
    assert res["step"] == 4 and res["distilled"]["sentences"] == len(_lines(os.path.join(corpus_dir, "train.src")))
    data = os.path.join(student, "distilled")
    src, hyp = _lines(os.path.join(data, "train.src")), _lines(os.path.join(data, "train.tgt"))
    assert src == _lines(os.path.join(corpus_dir, "train.src")) and len(hyp) == len(src)
    # fixed batches: the same search as translating the sentences directly
    assert all(hyp) and hyp[:5] == [t.text for t in translator_for(load_run(teacher), cfg).translate(src[:5])]
    for split in ("val", "test"):  # chosen and scored against the real references
        assert _lines(os.path.join(data, f"{split}.tgt")) == _lines(os.path.join(corpus_dir, f"{split}.tgt"))
    saved = json.loads(open(os.path.join(student, "config.json")).read())
    assert saved["model"]["hidden"] == 12 and saved["data"]["dir"] == os.path.abspath(data)
    with open(os.path.join(student, "vocab.model"), "rb") as a, open(os.path.join(teacher, "vocab.model"), "rb") as b:
        assert a.read() == b.read()
    stamp = os.path.getmtime(os.path.join(data, "distilled.json"))
    again = distill(
        teacher,
        student,
        ["model.hidden=12", "train.steps=6", "train.eval_every=4", *FAST],
        cfg,
        slots=8,
        progress=False,
    )
    assert again["step"] == 6 and os.path.getmtime(os.path.join(data, "distilled.json")) == stamp
    # what it learnt: the teacher's translations of its training sentences are likelier than under its initial state
    trained = load_run(student, "latest")
    train = load_data(trained.config.data, vocab_path=os.path.join(student, "vocab.model")).train
    batches = eval_batches(train.examples, trained.config.data.search_buckets(), trained.config.data.batch_tokens)
    initial = init_params(trained.model, jax.random.key(trained.config.train.seed))
    before, after = (step_lib.mean_loss(p, trained.model, batches) for p in (initial, trained.params))
    assert after < 0.9 * before, (before, after)


def test_bad_arguments_give_one_line(tiny_run, tmp_path):
    for args, words in [
        (["--teacher", str(tmp_path)], "not a run"),
        (["--teacher", tiny_run, "data.dir=/elsewhere"], "distilled corpus"),
        (["--teacher", tiny_run, "model.hiden=3"], "hiden"),
        (["--teacher", tiny_run, "--shortlist", "50"], "--shortlist"),
    ]:
        err = one_line_error(run_cli("nmt.distill", "--workdir", str(tmp_path / "s"), *args))
        assert words in err, err
    assert not (tmp_path / "s").exists()
