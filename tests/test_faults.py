"""Runs that survive faults: non-finite steps, a damaged checkpoint, a second trainer, saving on a clock, hostile
input to translation."""

import itertools
import json
import os
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

from nmt.checkpoints import CheckpointError
from nmt.data import BatchIterator
from nmt.model import make_model
from nmt.run import load_run
from nmt.training import session as session_lib
from nmt.training import step as step_lib
from nmt.training import trainer
from nmt.training.errors import TrainingError
from nmt.training.lock import WorkdirLock
from tests.helpers import ROOT, one_line_error, run_cli, tiny_config, tiny_overrides


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(tree))]


def _poisoned(batch: dict) -> dict:
    """Token ids past the vocabulary: the embedding lookup fills NaN, as corrupt data or an overflow would."""
    return dict(batch, src=np.where(batch["src"] > 0, 10**6, 0).astype(batch["src"].dtype))


def test_a_non_finite_step_changes_nothing_and_is_counted(corpus_dir):
    from nmt.data import load_data

    config = tiny_config(corpus_dir)
    data = load_data(config.data)
    model = make_model(config, data.sp.vocab_size())
    opt = step_lib.make_optimizer(config.train)
    train_fn = step_lib.compile_train_step(config, model, opt)
    it = BatchIterator(data.train.examples, config.data.buckets, config.data.batch_tokens, 0)
    state, _ = train_fn(
        step_lib.init_train_state(model, opt, jax.random.key(0)), step_lib.model_batch(next(it)), jax.random.key(1)
    )
    before = _leaves((state.params, state.opt_state))
    state, metrics = train_fn(state, step_lib.model_batch(_poisoned(next(it))), jax.random.key(1))
    assert float(metrics["skipped"]) == 1.0 and not np.isfinite(float(metrics["nll_sum"]))
    after = _leaves((state.params, state.opt_state))
    assert all(np.array_equal(a, b) for a, b in zip(before, after)) and int(state.step) == 2
    state, metrics = train_fn(state, step_lib.model_batch(next(it)), jax.random.key(1))
    assert float(metrics["skipped"]) == 0.0
    assert not all(np.array_equal(a, b) for a, b in zip(after, _leaves((state.params, state.opt_state))))


def test_non_finite_steps_in_a_row_stop_the_run_and_keep_the_last_checkpoint(corpus_dir, tmp_path, monkeypatch):
    class Poisoning(BatchIterator):
        served = 0

        def __next__(self):
            Poisoning.served += 1
            batch = super().__next__()
            return _poisoned(batch) if Poisoning.served > 12 else batch

    monkeypatch.setattr(session_lib, "BatchIterator", Poisoning)
    config = tiny_config(
        corpus_dir, "train.steps=40", "train.eval_every=10", "train.log_every=5", "train.nonfinite_limit=3"
    )
    with pytest.raises(TrainingError, match="3 steps in a row up to step 15 had a non-finite loss or gradient"):
        trainer.run(config, str(tmp_path), progress=False)
    # the steps from 13 on were skipped: the run stopped at the log row of step 15, before saving anything more
    run = load_run(str(tmp_path), "latest")
    assert run.step == 10 and all(np.isfinite(x).all() for x in _leaves(run.params))
    rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert [r["skipped"] for r in rows if r["kind"] == "train"] == [0, 0, 3]
    WorkdirLock(str(tmp_path)).acquire().release()  # the run released its lock on the way out


def _damage(folder) -> None:
    """Overwrites every file of a checkpoint step with bytes that no reader takes."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.write_bytes(b"\x00damaged" * 8)


def _interrupt_after(monkeypatch, batches: int) -> None:
    """The trainer's next run gets SIGTERM while it takes its `batches`-th batch, as from `kill`."""

    class Interrupting(BatchIterator):
        served = 0

        def __next__(self):
            Interrupting.served += 1
            if Interrupting.served == batches:
                os.kill(os.getpid(), signal.SIGTERM)
            return super().__next__()

    monkeypatch.setattr(session_lib, "BatchIterator", Interrupting)


def test_a_damaged_newest_checkpoint_is_set_aside_and_the_run_still_equals_an_uninterrupted_one(
    corpus_dir, tmp_path, caplog, monkeypatch
):
    config = lambda steps: tiny_config(
        corpus_dir, f"train.steps={steps}", "train.eval_every=10", "train.final_beam=1", "train.keep_evaluated=3"
    )
    work = tmp_path / "run"
    trainer.run(config(20), str(work), progress=False)
    latest, aside = work / "checkpoints" / "latest", work / "checkpoints" / "aside"
    assert sorted(int(p) for p in os.listdir(latest) if p.isdigit()) == [10, 20]
    _damage(latest / "20")
    best_step = int(os.listdir(work / "checkpoints" / "best")[0])
    with caplog.at_level("INFO"), monkeypatch.context() as m:
        _interrupt_after(m, 5)  # resumed from step 10, stopped at step 15
        stopped = trainer.run(config(25), str(work), progress=False)
    assert stopped["interrupted"] and stopped["step"] == 15
    said = [r.getMessage() for r in caplog.records]
    assert any(f"moved checkpoint {latest / '20'} to {aside / 'latest-20'}: unreadable (" in m for m in said), said
    assert any(m.startswith(f"moved checkpoint {work / 'checkpoints' / 'evaluated' / '20'} to ") for m in said)
    assert any("resumed from step 10" in m for m in said) and any("SIGTERM: saved step 15" in m for m in said)
    assert sorted(int(p) for p in os.listdir(latest) if p.isdigit()) == [10, 15]  # the save really happened
    assert (aside / f"best-{best_step}").is_dir() == (best_step > 10)
    resumed = trainer.run(config(25), str(work), progress=False)
    straight = trainer.run(config(25), str(tmp_path / "straight"), progress=False)
    assert resumed["step"] == straight["step"] == 25
    for a, b in zip(_leaves(resumed["state"]), _leaves(straight["state"])):
        np.testing.assert_array_equal(a, b)
    assert resumed["best_step"] == straight["best_step"] and resumed["test"]["bleu"] == straight["test"]["bleu"]
    rows = lambda d: [(r["step"], r["kind"]) for r in map(json.loads, open(d / "metrics.jsonl"))]
    assert rows(work) == rows(tmp_path / "straight")  # each step once, although steps 11 to 20 ran twice
    assert sorted(os.listdir(work / "checkpoints" / "evaluated")) == ["10", "20", "25"]


def test_a_workdir_whose_checkpoints_are_all_unreadable_is_one_error_not_a_restart(corpus_dir, tmp_path):
    config = lambda steps: tiny_config(corpus_dir, f"train.steps={steps}", "train.eval_every=10", "train.final_beam=1")
    trainer.run(config(20), str(tmp_path), progress=False)
    for step in ("10", "20"):
        _damage(tmp_path / "checkpoints" / "latest" / step)
    with pytest.raises(
        CheckpointError,
        match=r"no checkpoint in .*latest is readable \(steps 20, 10: .*\); to start "
        r"again from step 0, remove .*checkpoints or choose another --workdir",
    ):
        trainer.run(config(30), str(tmp_path), progress=False)
    assert sorted(os.listdir(tmp_path / "checkpoints" / "latest")) == ["10", "20"]  # nothing moved or deleted
    assert not (tmp_path / "checkpoints" / "aside").exists()


def test_a_damaged_best_checkpoint_at_the_end_is_replaced_by_the_latest_state(corpus_dir, tmp_path, caplog):
    session = trainer.set_up(
        tiny_config(corpus_dir, "train.steps=20", "train.eval_every=10", "train.final_beam=1"), str(tmp_path)
    )
    try:
        step, stopped, _ = trainer.train_loop(session, progress=False)
        best = int(os.listdir(tmp_path / "checkpoints" / "best")[0])
        _damage(tmp_path / "checkpoints" / "best" / str(best))
        with caplog.at_level("INFO"):
            res = trainer.finish(session, step, stopped)
    finally:
        session.close()
    said = [r.getMessage() for r in caplog.records]
    assert any(f"best-{best}: unreadable (" in m for m in said) and (tmp_path / "checkpoints" / "aside").is_dir()
    assert "no readable best checkpoint: scoring the latest state (step 20) instead" in said
    assert res["best_step"] == 20 and json.load(open(tmp_path / "results.json"))["best_step"] == 20


def test_a_save_that_orbax_skips_is_an_error(tmp_path):
    from nmt.checkpoints import Checkpoints

    ckpt = Checkpoints(str(tmp_path))
    try:
        state = {"w": np.arange(3.0)}
        ckpt.save_latest(10, state, {})
        ckpt.save_latest(10, state, {})  # the same step again: it is on disk already
        with pytest.raises(CheckpointError, match=r"step 5 was not saved: .*latest already holds step 10, a later one"):
            ckpt.save_latest(5, state, {})
    finally:
        ckpt.close()


def test_the_latest_state_is_also_saved_on_a_clock(corpus_dir, tmp_path, monkeypatch):
    clock = itertools.count(0, 1000)  # every reading of the save clock is 1,000 s after the one before
    monkeypatch.setattr(trainer, "_clock", lambda: next(clock))
    trainer.run(tiny_config(corpus_dir, "train.steps=12", "train.save_every_s=600"), str(tmp_path), progress=False)
    latest = tmp_path / "checkpoints" / "latest"
    assert sorted(int(p) for p in os.listdir(latest) if p.isdigit()) == [11, 12]  # the clock's and the final one


def test_a_second_trainer_is_refused_and_a_dead_trainers_lock_is_taken_over(corpus_dir, tmp_path, caplog):
    held = WorkdirLock(str(tmp_path)).acquire()
    try:
        r = run_cli("nmt.train", "--preset", "tiny", "--workdir", str(tmp_path), *tiny_overrides(corpus_dir), text=True)
        assert r.returncode == 2
        assert f"in use by another trainer (process {os.getpid()})" in one_line_error(r)
    finally:
        held.release()
    code = (
        f"import os, sys; from nmt.training.lock import WorkdirLock; WorkdirLock({str(tmp_path)!r}).acquire(); "
        "os.kill(os.getpid(), 9)"
    )
    dead = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    assert dead.returncode == -9
    with caplog.at_level("INFO"):
        lock = WorkdirLock(str(tmp_path)).acquire()
    lock.release()
    assert any("took over the lock of process" in r.getMessage() for r in caplog.records)


def test_hostile_input_keeps_one_output_block_per_line_in_order(tiny_run, tmp_path):
    rng = np.random.default_rng(0)
    lines = [bytes(rng.integers(0, 256, 40, dtype=np.uint8)).replace(b"\n", b" ") for _ in range(20)]
    lines += [b"a\x00cat", b"the cat\rsees", b"\xef\xbb\xbfthe dog", b"big tree " * 110_000, b""]
    lines += [b"the cat sees a dog"] * (10_000 - len(lines))
    path = tmp_path / "hostile.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    r = run_cli(
        "nmt.translate",
        "--checkpoint",
        tiny_run,
        "--input",
        str(path),
        "--beam",
        "3",
        "--nbest",
        "3",
        "--slots",
        "16",
        "--shortlist",
        "16",
        text=True,
    )
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    out = r.stdout.splitlines()
    assert len(out) == 3 * len(lines)
    assert [int(line.split("\t")[0]) for line in out] == [i for i in range(len(lines)) for _ in range(3)]


def test_the_folders_of_unfinished_saves_are_removed(tmp_path):
    from nmt.checkpoints import Checkpoints

    for name in ("latest/12.orbax-checkpoint-tmp", "latest/10", "best/7.orbax-checkpoint-tmp-3"):
        os.makedirs(tmp_path / "checkpoints" / name)
    assert sorted(Checkpoints.remove_partial(str(tmp_path))) == [
        "best/7.orbax-checkpoint-tmp-3",
        "latest/12.orbax-checkpoint-tmp",
    ]
    assert os.listdir(tmp_path / "checkpoints" / "latest") == ["10"]
    assert not os.listdir(tmp_path / "checkpoints" / "best")


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_atomic_writes_get_the_mode_a_plain_open_would(tmp_path, umask):
    from nmt.utils import copy_atomic, write_atomic

    old = os.umask(umask)
    try:
        with open(tmp_path / "plain", "w") as f:
            f.write("x")
        write_atomic(str(tmp_path / "atomic"), "x")
        copy_atomic(str(tmp_path / "plain"), str(tmp_path / "copy"))
    finally:
        os.umask(old)
    modes = {name: os.stat(tmp_path / name).st_mode & 0o777 for name in ("plain", "atomic", "copy")}
    assert modes == dict.fromkeys(modes, 0o666 & ~umask)
