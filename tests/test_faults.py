"""Runs that survive faults: non-finite steps, a damaged checkpoint, a second trainer, saving on a clock, hostile
input to translation."""
import itertools
import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from nmt.data import BatchIterator
from nmt.run import load_run
from nmt.training import step as step_lib
from nmt.training import trainer
from nmt.training.errors import TrainingError
from nmt.training.lock import WorkdirLock
from tests.helpers import ROOT, one_line_error, run_cli, tiny_config, tiny_overrides


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(tree))]


def _poisoned(batch: dict) -> dict:
    """Token ids past the vocabulary: the embedding lookup fills NaN, as corrupt data or an overflow would."""
    return dict(batch, src=np.where(batch["src"] > 0, 10 ** 6, 0).astype(batch["src"].dtype))


def test_a_non_finite_step_changes_nothing_and_is_counted(corpus_dir):
    from nmt.data import load_data
    config = tiny_config(corpus_dir)
    data = load_data(config.data)
    model = step_lib.make_model(config, data.sp.vocab_size())
    opt = step_lib.make_optimizer(config.train)
    train_fn = step_lib.compile_train_step(config, model, opt)
    it = BatchIterator(data.train.examples, config.data.buckets, config.data.batch_tokens, 0)
    state, _ = train_fn(step_lib.init_train_state(model, opt, jax.random.key(0)), step_lib.model_batch(next(it)),
                        jax.random.key(1))
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
    monkeypatch.setattr(trainer, "BatchIterator", Poisoning)
    config = tiny_config(corpus_dir, "train.steps=40", "train.eval_every=10", "train.log_every=5",
                         "train.nonfinite_limit=3")
    with pytest.raises(TrainingError, match="3 steps in a row up to step 15 had a non-finite loss or gradient"):
        trainer.run(config, str(tmp_path), progress=False)
    # the steps from 13 on were skipped: the run stopped at the log row of step 15, before saving anything more
    run = load_run(str(tmp_path), "latest")
    assert run.step == 10 and all(np.isfinite(x).all() for x in _leaves(run.params))
    rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert [r["skipped"] for r in rows if r["kind"] == "train"] == [0, 0, 3]
    WorkdirLock(str(tmp_path)).acquire().release()  # the run released its lock on the way out


def test_an_unreadable_newest_checkpoint_falls_back_to_the_one_before(corpus_dir, tmp_path, caplog):
    trainer.run(tiny_config(corpus_dir, "train.steps=20", "train.eval_every=10"), str(tmp_path), progress=False)
    latest = tmp_path / "checkpoints" / "latest"
    assert sorted(int(p) for p in os.listdir(latest) if p.isdigit()) == [10, 20]
    shutil.rmtree(latest / "20" / "state")
    with caplog.at_level("INFO"):
        res = trainer.run(tiny_config(corpus_dir, "train.steps=30", "train.eval_every=10"), str(tmp_path),
                          progress=False)
    assert res["step"] == 30
    assert any("20 is unreadable" in r.getMessage() and "trying an older one" in r.getMessage()
               for r in caplog.records)
    assert any("resumed from step 10" in r.getMessage() for r in caplog.records)


def test_the_latest_state_is_also_saved_on_a_clock(corpus_dir, tmp_path, monkeypatch):
    clock = itertools.count(0, 1000)  # every reading of the save clock is 1,000 s after the one before
    monkeypatch.setattr(trainer, "_clock", lambda: next(clock))
    trainer.run(tiny_config(corpus_dir, "train.steps=12", "train.save_every_s=600"), str(tmp_path), progress=False)
    latest = tmp_path / "checkpoints" / "latest"
    assert sorted(int(p) for p in os.listdir(latest) if p.isdigit()) == [11, 12]  # the clock's and the final one


def test_a_second_trainer_is_refused_and_a_dead_trainers_lock_is_taken_over(corpus_dir, tmp_path, caplog):
    held = WorkdirLock(str(tmp_path)).acquire()
    try:
        r = run_cli("nmt.train", "--preset", "tiny", "--workdir", str(tmp_path), *tiny_overrides(corpus_dir),
                    text=True)
        assert r.returncode == 2
        assert f"in use by another trainer (process {os.getpid()})" in one_line_error(r)
    finally:
        held.release()
    code = (f"import os, sys; from nmt.training.lock import WorkdirLock; WorkdirLock({str(tmp_path)!r}).acquire(); "
            "os.kill(os.getpid(), 9)")
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
    r = run_cli("nmt.translate", "--checkpoint", tiny_run, "--input", str(path), "--beam", "3", "--nbest", "3",
                "--slots", "16", "--shortlist", "16", text=True)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    out = r.stdout.splitlines()
    assert len(out) == 3 * len(lines)
    assert [int(line.split("\t")[0]) for line in out] == [i for i in range(len(lines)) for _ in range(3)]


def test_the_folders_of_unfinished_saves_are_removed(tmp_path):
    from nmt.training.checkpoint import Checkpoints
    for name in ("latest/12.orbax-checkpoint-tmp", "latest/10", "best/7.orbax-checkpoint-tmp-3"):
        os.makedirs(tmp_path / "checkpoints" / name)
    assert sorted(Checkpoints.remove_partial(str(tmp_path))) == ["best/7.orbax-checkpoint-tmp-3",
                                                                 "latest/12.orbax-checkpoint-tmp"]
    assert os.listdir(tmp_path / "checkpoints" / "latest") == ["10"]
    assert not os.listdir(tmp_path / "checkpoints" / "best")


def test_the_supervisor_passes_output_through_and_holds_back_the_runtime_log():
    import io

    from nmt.supervisor import _Passthrough, lost_process
    out = io.BytesIO()
    p = _Passthrough(out)
    p.feed(b"step 1\r step 2\rstep")
    assert out.getvalue() == b"step 1\r step 2\rstep"  # progress bars are not held for a newline
    p.feed(b" 3\nW1130 14:14:44.149523   30429 x.cc:147] a warning\nits second line\n")
    p.feed(b"E")  # could start a runtime line: waits for the rest
    assert out.getvalue().endswith(b" 3\n")
    p.feed(b"poch 2\n")  # it did not, and the warning was all there was
    assert out.getvalue().endswith(b"a warning\nits second line\nEpoch 2\n") and not p.held
    p.feed(b"done\nE1130 14:14:45.000000   30429 c.cc:1549] Task 3 heartbeat timeout\nmore\n")
    p.feed(b"anything after an error is held\n")
    assert out.getvalue().endswith(b"Epoch 2\ndone\n") and p.error
    assert p.held.endswith(b"anything after an error is held\n")
    assert lost_process(p.held.decode()) == "process 3"
    assert lost_process("Failed to send RPC to coordination service") == "process 0 (the coordinator)"
