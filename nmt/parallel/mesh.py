"""The device mesh of the workers, global batches built from each process's shard, and multi-host start-up."""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "workers"


def initialize_distributed(
    coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> None:
    """Starts JAX's distributed runtime when several processes are asked for, before anything touches a device.

    Arguments fall back to NMT_COORDINATOR (host:port), NMT_NUM_PROCESSES and NMT_PROCESS_ID; NMT_DISTRIBUTED=auto
    leaves them to JAX's own cluster detection (SLURM, Open MPI, ...); otherwise, with one process (the default),
    nothing happens. A process that stops answering is noticed by the others within NMT_HEARTBEAT_S seconds (30).
    On CPU the cross-process collectives go through gloo.
    """
    auto = os.environ.get("NMT_DISTRIBUTED") == "auto"
    coordinator = coordinator or os.environ.get("NMT_COORDINATOR")
    num_processes = int(num_processes or os.environ.get("NMT_NUM_PROCESSES", "1"))
    if (num_processes <= 1 and not auto) or jax.distributed.is_initialized():
        return
    if jax.config.jax_platforms in (None, "", "cpu"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    heartbeat = int(os.environ.get("NMT_HEARTBEAT_S", "30"))
    if auto:
        jax.distributed.initialize(heartbeat_timeout_seconds=heartbeat)
        return
    process_id = int(process_id if process_id is not None else os.environ["NMT_PROCESS_ID"])
    jax.distributed.initialize(coordinator, num_processes, process_id, heartbeat_timeout_seconds=heartbeat)


def make_mesh(workers: int = 0) -> Mesh:
    """A 1-D mesh over the first `workers` devices of all processes (0 = all)."""
    devices = jax.devices()
    workers = workers or len(devices)
    if workers > len(devices):
        raise ValueError(
            f"parallel.workers={workers} but only {len(devices)} devices are visible; on CPU set "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={workers} before starting"
        )
    return Mesh(np.asarray(devices[:workers]), (AXIS,))


def sharded(mesh: Mesh) -> NamedSharding:
    """Leading axis split over the workers."""
    return NamedSharding(mesh, P(AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def place(tree, shardings):
    """`jax.device_put` that also works across processes: there every process holds the same values (same seed)
    and builds only its own devices' shards."""
    if jax.process_count() == 1:
        return jax.device_put(tree, shardings)

    def one(x, sharding):
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

    return jax.tree.map(lambda sharding, sub: jax.tree.map(lambda x: one(x, sharding), sub), shardings, tree)


def global_array(mesh: Mesh, host_array: np.ndarray) -> jax.Array:
    """A global array whose leading axis is split over the workers. Every process passes the same host array (the
    data pipeline is deterministic from the seed) and places only the shards of its own devices."""
    sharding = sharded(mesh)
    return jax.make_array_from_callback(host_array.shape, sharding, lambda idx: host_array[idx])
