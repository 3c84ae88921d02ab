"""Training on several workers: data parallelism (`sync`), model averaging (`average`) and BMUF over a device mesh,
on one host or many (`jax.distributed`)."""

from nmt.parallel.algorithms import LocalStep, ParallelState, Workers, comm_bytes_per_step, lr_multiplier, split_batch
from nmt.parallel.mesh import initialize_distributed, make_mesh
