"""Parallel-training cases; `tests/test_parallel.py` runs this file in a process with 8 simulated CPU devices
(XLA_FLAGS must be set before JAX starts, so not in the main test process)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nmt.checkpoints import Checkpoints
from nmt.config import get_config
from nmt.model import make_model
from nmt.parallel import make_mesh
from nmt.parallel.mesh import sharded
from nmt.training import step as step_lib
from nmt.training.workers import parallel_workers

VOCAB = 30
BASE = [
    "model.emb=8",
    "model.hidden=12",
    "model.enc_layers=1",
    "model.dec_layers=1",
    "model.dropout=0.0",
    "parallel.warmup_steps=0",
    "parallel.lr_rule=none",
    "train.warmup_steps=2",
    "train.lr=0.01",
]


def config(*overrides):
    return get_config("tiny", BASE + list(overrides))


def batches(n, k, rows=3, length=6, seed=0, same=False):
    """n batches of [k, rows, length] with no padding, so every worker's slice has the same number of tokens."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        shape = (1 if same else k, rows, length)
        src, tgt = rng.integers(4, VOCAB, shape), rng.integers(4, VOCAB, shape)
        b = {"src": src, "tgt_in": tgt, "tgt_out": np.roll(tgt, -1, -1)}
        out.append({key: np.broadcast_to(v, (k, rows, length)).astype(np.int32) for key, v in b.items()})
    return out


@functools.cache
def workers_for(cfg, k, devices):
    """One set of compiled steps per configuration, shared by the runs of a test."""
    return parallel_workers(cfg, make_model(cfg, VOCAB), make_mesh(devices), k)


def run(cfg, k, data, steps=None, state=None, start=0, devices=None):
    workers = workers_for(cfg, k, devices or k)
    rng = jax.random.key(1)
    state = workers.init(jax.random.key(0)) if state is None else state
    for i, b in enumerate(data[start:steps]):
        state, _ = workers.step(state, b, rng, start + i)
    return workers, state


def single_worker():
    """The plain single-worker train state of `config()` and its jitted step (op by op, its scans would compile
    again at every step)."""
    single = config()
    model = make_model(single, VOCAB)
    opt = step_lib.make_optimizer(single.train)
    step = jax.jit(functools.partial(step_lib.train_step, model=model, optimizer=opt, smoothing=0.1))
    return step_lib.init_train_state(model, opt, jax.random.key(0)), step


def assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def test_eight_devices_are_visible():
    assert jax.device_count() == 8


def test_a_sharded_batch_gives_the_same_gradients_as_the_unsharded_one():
    cfg = config()
    model = make_model(cfg, VOCAB)
    params = step_lib.init_train_state(model, step_lib.make_optimizer(cfg.train), jax.random.key(0)).params
    b = {k: jnp.asarray(v.reshape(-1, v.shape[-1])) for k, v in batches(1, 8, rows=2)[0].items()}
    grad = jax.jit(jax.grad(lambda p, b: step_lib.loss_fn(p, model, b, None, 0.1)[0]))
    spread = jax.device_put(b, sharded(make_mesh(8)))
    assert len(spread["src"].sharding.device_set) == 8
    assert_trees_close(grad(params, spread), grad(params, b))


@pytest.mark.parametrize("method", ["average", "bmuf"])
def test_workers_given_identical_data_match_a_single_worker(method):
    extra = ["parallel.block_momentum=0.0", "parallel.block_lr=1.0"] if method == "bmuf" else []
    cfg = config(f"parallel.method={method}", "parallel.sync_every=2", *extra)
    data = batches(6, 4, same=True)
    workers, state = run(cfg, 4, data)
    ref, step = single_worker()
    for b in data:
        ref, _ = step(ref, {k: jnp.asarray(v[0]) for k, v in b.items()}, jax.random.key(1))
    assert_trees_close(workers.model_params(state, 6), ref.params)


def test_restarted_moments_match_a_single_worker_that_restarts_adam_at_each_block():
    """Workers given identical data with η = 0 and ζ = 1 are one worker; restarting the moments at each block is
    then that worker restarting Adam (moments and bias correction) every 2 steps, its schedule going on."""
    from nmt.parallel.algorithms import restart_moments

    cfg = config(
        "parallel.method=bmuf",
        "parallel.sync_every=2",
        "parallel.block_momentum=0.0",
        "parallel.block_lr=1.0",
        "parallel.reset_opt_state=true",
    )
    data = batches(5, 4, same=True)
    workers, state = run(cfg, 4, data)
    ref, step = single_worker()
    for i, b in enumerate(data):
        ref, _ = step(ref, {k: jnp.asarray(v[0]) for k, v in b.items()}, jax.random.key(1))
        if i % 2 == 1:
            ref = ref.replace(opt_state=restart_moments(ref.opt_state))
            at_block = ref.params
    assert_trees_close(workers.model_params(state, 5), at_block)  # the global model of the last block (step 4)
    assert_trees_close(jax.tree.map(lambda w: w[0], state.params), ref.params)  # a worker, one step further
    counts = [int(x) for x in jax.tree.leaves(jax.tree.map(lambda x: x[0], state.opt_state)) if x.ndim == 0]
    assert sorted(counts) == [1, 5]  # Adam's count since the last restart, the schedule's since the start


def test_the_momentum_rule_sets_eta_by_the_number_of_workers():
    data = batches(6, 4)
    common = ["parallel.method=bmuf", "parallel.sync_every=2", "parallel.nesterov=true"]
    by_rule, ruled = run(config(*common, "parallel.momentum_rule=inverse_k"), 4, data)
    fixed, fixed_state = run(config(*common, "parallel.block_momentum=0.75"), 4, data)
    assert by_rule.eta == 0.75 and fixed.eta == 0.75
    assert_trees_close(ruled.global_params, fixed_state.global_params)
    sqrt_workers, sqrt_state = run(config(*common, "parallel.momentum_rule=inverse_sqrt_k"), 4, data)
    assert sqrt_workers.eta == 0.5
    assert not np.allclose(jax.tree.leaves(sqrt_state.global_params)[0], jax.tree.leaves(ruled.global_params)[0])
    slowmo, slowmo_state = run(config(*common, "parallel.momentum_rule=slowmo"), 4, data)
    average, average_state = run(config("parallel.method=average", "parallel.sync_every=2"), 4, data)
    assert slowmo.eta == 0.0  # fairseq's slow momentum up to 16 workers: the block update is the average
    assert_trees_close(slowmo_state.global_params, average.model_params(average_state, 6))


def test_average_with_one_step_blocks_and_sgd_equals_sync():
    common = ["train.optimizer=sgd", "train.clip_norm=0", "train.lr=0.5"]
    data = batches(4, 4)
    sync_workers, sync = run(config("parallel.method=sync", *common), 4, data)
    avg_workers, avg = run(config("parallel.method=average", "parallel.sync_every=1", *common), 4, data)
    assert_trees_close(avg_workers.model_params(avg, 4), sync_workers.model_params(sync, 4))


def test_bmuf_state_survives_checkpoint_and_resume(tmp_path):
    cfg = config("parallel.method=bmuf", "parallel.sync_every=2", "parallel.nesterov=true", "parallel.warmup_steps=2")
    data = batches(9, 4)
    _, whole = run(cfg, 4, data)
    workers, half = run(cfg, 4, data, steps=5)
    ckpt = Checkpoints(str(tmp_path))
    ckpt.save_latest(5, half, {"step": 5})
    restored, meta = Checkpoints.restore(ckpt.latest, workers.init(jax.random.key(7)))
    ckpt.close()
    assert meta["step"] == 5 and int(restored.step) == 5
    assert float(jnp.abs(jax.tree.leaves(restored.momentum)[0]).sum()) > 0
    _, resumed = run(cfg, 4, data, state=restored, start=5)
    assert_trees_close(resumed.global_params, whole.global_params, rtol=1e-6, atol=1e-7)
    assert_trees_close(resumed.params, whole.params, rtol=1e-6, atol=1e-7)


def test_several_workers_on_a_device_match_one_device_each():
    cfg = config("parallel.method=bmuf", "parallel.sync_every=2", "parallel.nesterov=true", "parallel.warmup_steps=2")
    data = batches(9, 4)
    _, spread = run(cfg, 4, data)
    workers, shared = run(cfg, 4, data, devices=2)
    assert workers.count == 4 and len(jax.tree.leaves(shared.params)[0].sharding.device_set) == 2
    assert_trees_close(shared.global_params, spread.global_params)
    assert_trees_close(shared.params, spread.params)
    with pytest.raises(ValueError, match="do not divide"):
        parallel_workers(cfg, make_model(cfg, VOCAB), make_mesh(3), 4)


def test_the_trainer_runs_bmuf_and_resumes_on_other_devices(corpus_dir, tmp_path):
    """4 workers start on 2 devices (two vmapped on each) and resume on 4 devices (one each)."""
    from nmt.training import trainer
    from tests.helpers import tiny_config

    cfg = tiny_config(
        corpus_dir,
        "parallel.method=bmuf",
        "parallel.workers=4",
        "parallel.sync_every=2",
        "parallel.warmup_steps=2",
        "train.eval_every=4",
        "train.eval_bleu_max=8",
    )
    first = trainer.run(cfg.replace(train={"steps": 4}, parallel={"devices": 2}), str(tmp_path), progress=False)
    assert first["step"] == 4 and first["train_programs"] >= 1
    params = jax.tree.leaves(first["state"].params)[0]
    assert params.shape[0] == 4 and len(params.sharding.device_set) == 2
    second = trainer.run(cfg.replace(train={"steps": 8}), str(tmp_path), progress=False)
    assert second["step"] == 8 and int(second["state"].step) == 8 and second["test"]["sentences"] > 0
    assert len(jax.tree.leaves(second["state"].params)[0].sharding.device_set) == 4
