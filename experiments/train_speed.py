"""Training throughput of the reference model on this machine: tokens/s, step time, compile time, memory and MFU.

    python experiments/train_speed.py                # about 3 min; nothing else running

`python -m nmt.bench train --preset reference --steps 20` on the `reference` preset, real Multi30k batches (bench_train_reference.json).

Results, on the development machine (2 cores of an AMD EPYC CPU, 24 GiB, no GPU, jax 0.10.2,
NMT_DATA_DIR=../shared/data/multi30k); the files are in experiments/results/:

**Training throughput, reference model** (`python -m nmt.bench train --preset reference --steps 20`, training job paused):
497.9 target tokens/s (median over 20 steps after 3 warm-up steps; 481.6 mean), 3.54 s a step, 68.9 s to compile
the 8 bucket programs, 870 MB compiled footprint (temp + arguments + outputs, largest bucket), 1.88 GB peak RSS.
MFU 0.68: 48.6 GFLOP/s of model FLOPs (matmuls of forward and backward counted analytically on the padded batch
shapes, backward = 2 × forward; XLA's cost analysis counts a loop body once, so it is not used) over 71.4 GFLOP/s,
the best float32 matmul rate XLA reached on this machine in the same run. Padding was 15% of the positions.
One epoch compiles one train-step program per bucket shape (8 programs for 8 shapes, logged as `programs` in
`metrics.jsonl`, and tested).
"""

from __future__ import annotations

from nmt.tools.results import run_commands

COMMANDS = {  # result file: the command that writes it (its last line)
    "bench_train_reference.json": "-m nmt.bench train --preset reference --steps 20".split(),
}


if __name__ == "__main__":
    run_commands(COMMANDS, __doc__)
