"""Does splitting the training step over the CPU's cores as devices pay? A lever for a CPU whose cores the step
leaves half idle: instead of each matrix product split over both cores, each core runs half the batch (`sync` data
parallelism over two host devices, the same global batch, so the same computation).

    XLA_FLAGS=--xla_force_host_platform_device_count=2 python experiments/host_devices.py

Two measurements, each the median of alternating windows in one process:
- a scan of 200 steps of tanh(h @ W), W [512, 512]: 64 rows on one device; 128 rows split over two (64 each); 128
  rows on one device. If the two devices ran at once, each on its own core, the second would take as long as the
  first.
- the `opennmt_rnn` train step on its first batches (those with an even number of rows): on one device, and with
  the batch split over the two devices (parameters replicated; XLA all-reduces the gradients).
Writes experiments/results/host_devices.json.

Result (host_devices.json; the 2-core development machine, jax 0.10.2, 2026-12-05): the scan took 47.5 ms on one
device, 77.6 ms split over two and 89.1 ms for all 128 rows on one: the two devices do not run side by side, each on
its own core (they share XLA's one pool of threads). The train step: 1,523 target tokens/s on one device, 1,281 split
over two (0.84x). Not a lever with this JAX on this CPU; the split is not offered as a training option.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from nmt.config import get_config
from nmt.data import BatchIterator, load_data
from nmt.model import make_model
from nmt.tools.machine import describe
from nmt.tools.results import write_result
from nmt.training import step as step_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _median_ms(fn, *args, repeats: int = 7) -> float:
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def scan_test(mesh: Mesh) -> dict:
    def f(x, w):
        return jax.lax.scan(lambda h, _: (jnp.tanh(h @ w), None), x, None, length=200)[0]

    w = jnp.asarray(np.random.default_rng(0).random((512, 512), np.float32) / 512)
    split = jax.device_put(jnp.ones((128, 512)), NamedSharding(mesh, P("b")))
    g = jax.jit(f)
    return {
        "one_device_64_rows_ms": _median_ms(g, jnp.ones((64, 512)), w),
        "two_devices_64_rows_each_ms": _median_ms(g, split, jax.device_put(w, NamedSharding(mesh, P()))),
        "one_device_128_rows_ms": _median_ms(g, jnp.ones((128, 512)), w),
    }


def train_test(mesh: Mesh, batches_n: int, rounds: int) -> dict:
    c = get_config("opennmt_rnn")
    data = load_data(c.data)
    d = c.data
    it = BatchIterator(data.train.examples, d.buckets, d.batch_tokens, c.train.seed, d.full_batches, d.pair_shapes)
    batches = []
    while len(batches) < batches_n:
        b = next(it)
        if b["src"].shape[0] % mesh.size == 0:
            batches.append(step_lib.model_batch(b))
    model = make_model(c, data.sp.vocab_size())
    opt = step_lib.make_optimizer(c.train)
    step = lambda s, b, r: step_lib.train_step(
        s, b, r, model=model, optimizer=opt, smoothing=0.0, guard=True, ema_decay=0.0
    )
    rep, split = NamedSharding(mesh, P()), NamedSharding(mesh, P("b"))
    one = jax.local_devices()[0]
    sides = {
        "one_device": (jax.jit(step, donate_argnums=0), lambda x: jax.device_put(x, one)),
        "two_devices": (
            jax.jit(step, donate_argnums=0, in_shardings=(rep, split, rep), out_shardings=(rep, rep)),
            lambda x: jax.device_put(x, split),
        ),
    }
    states = {k: jax.device_put(step_lib.init_train_state(model, opt, jax.random.key(0)), rep) for k in sides}
    states["one_device"] = jax.device_put(states["one_device"], one)
    rates = {k: [] for k in sides}
    for window in range(rounds + 1):  # the first window compiles every shape and is not counted
        for k, (fn, put) in sides.items():
            rng = jax.device_put(jax.random.key(1), one if k == "one_device" else rep)
            for b in batches:
                b = put(b)
                start = time.perf_counter()
                states[k], metrics = fn(states[k], b, rng)
                tokens = float(metrics["tokens"])
                if window:
                    rates[k].append(tokens / (time.perf_counter() - start))
    out = {k: statistics.median(v) for k, v in rates.items()}
    out["ratio"] = out["two_devices"] / out["one_device"]
    out["batches"], out["rounds"] = batches_n, rounds
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, default=12, help="train batches a window")
    p.add_argument("--rounds", type=int, default=3, help="timed windows of each side")
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    p.add_argument("--name", default="host_devices.json")
    args = p.parse_args(argv)
    if len(jax.devices()) < 2:
        raise SystemExit("needs two devices: XLA_FLAGS=--xla_force_host_platform_device_count=2")
    mesh = Mesh(np.asarray(jax.devices()[:2]), ("b",))
    result = {"machine": describe(), "xla_flags": os.environ.get("XLA_FLAGS", ""), "scan": scan_test(mesh)}
    print(result["scan"], flush=True)
    result["train"] = train_test(mesh, args.batches, args.rounds)
    print(result["train"], flush=True)
    write_result(args.out, args.name, result)


if __name__ == "__main__":
    main()
