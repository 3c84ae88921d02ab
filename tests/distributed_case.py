"""One process of the localhost `jax.distributed` check (run by tests/test_parallel.py, not collected itself).

    python tests/distributed_case.py OUT.npz NUM_PROCESSES PROCESS_ID PORT

Trains `sync` for 3 steps on a 2-worker mesh: two processes with one CPU device each, or (NUM_PROCESSES=1) one
process with two devices. Process 0 writes the parameters to OUT.npz.
"""

import os
import sys

out, num, pid, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={2 // num}"

import jax  # noqa: E402
import numpy as np  # noqa: E402

from nmt.config import get_config  # noqa: E402
from nmt.model import make_model  # noqa: E402
from nmt.parallel import initialize_distributed, make_mesh  # noqa: E402
from nmt.training.workers import parallel_workers  # noqa: E402

initialize_distributed(f"localhost:{port}", num, pid)
assert jax.device_count() == 2 and jax.process_count() == num
cfg = get_config(
    "tiny",
    [
        "model.emb=8",
        "model.hidden=12",
        "model.dropout=0.0",
        "parallel.method=sync",
        "parallel.lr_rule=none",
        "train.lr=0.01",
    ],
)
workers = parallel_workers(cfg, make_model(cfg, 30), make_mesh(2))
state = workers.init(jax.random.key(0))
initial = [np.asarray(x.addressable_data(0)) for x in jax.tree.leaves(state.params)]
rng = np.random.default_rng(0)
for step in range(3):
    src, tgt = rng.integers(4, 30, (2, 3, 6)), rng.integers(4, 30, (2, 3, 6))
    batch = {"src": src, "tgt_in": tgt, "tgt_out": np.roll(tgt, -1, -1)}
    state, _ = workers.step(state, {k: v.astype(np.int32) for k, v in batch.items()}, jax.random.key(1), step)
final = [np.asarray(x.addressable_data(0)) for x in jax.tree.leaves(state.params)]
assert any(not np.allclose(a, b) for a, b in zip(initial, final)), "training did not change the parameters"
if pid == 0:
    np.savez(out, *final)
print("ok")
