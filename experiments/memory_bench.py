"""Memory: the recomputing attention against autodiff, `sqrt_t` against `none` over length, depth under a budget.

    python experiments/memory_bench.py               # about 40 min; reference dims, batch 64

`python -m nmt.bench memory --preset reference` (bench_memory.json) and its attention part alone with nothing else running
(bench_memory_attention_quiet.json). Compile only, except the step timings. The policy × length × depth sweep is
experiments/remat_sweep.py.

Results, on the development machine (2 cores of an AMD EPYC CPU, 24 GiB, no GPU, jax 0.10.2,
NMT_DATA_DIR=../shared/data/multi30k); the files are in experiments/results/:

**Memory** (`python -m nmt.bench memory --preset reference`, reference model dims, batch 64; `bench_memory.json`):
- Recomputing attention (Bahdanau in a decoder-like scan, T = S = 128, hidden 512, gradient of a loss over all
  steps): compiled temp memory 4,200 MiB with autodiff against 96 MiB with the custom VJP (43.6× less). Step time
  with the machine otherwise idle (`python -m nmt.bench memory --preset reference --only attention`, training paused;
  `bench_memory_attention_quiet.json`): 5.05 s against 3.81 s, 0.76×: it is faster as well. In the full run, which
  shared the cores with a training job and another experiment, the ratio came out 1.23× (5.38 s against 6.64 s): the
  recomputing version is compute-bound and loses more when the cores are shared.
- `sqrt_t` on the whole train step, source length 50: temp memory 267, 305, 345, 414 and 503 MiB at target length
  64, 128, 256, 512 and 1,024 (log–log slope 0.23; `none`: 1,135 → 11,826 MiB, slope 0.85). At T = S = 1,024:
  2,174 MiB against 19,588 MiB for `none`, 9.0× less. Step time at [64, 64]: 9.85 s against 7.19 s, 1.37× (measured
  beside a niced training job).
- Sweep (`python experiments/remat_sweep.py --lengths 32,128,512,1024 --depths 2,8 --policies
- Depth, compile only, at [64, 100]: the budget is what `none` needs with 2+2 layers (2.05 GiB, temp + arguments +
  outputs − aliased); `none` with 3+3 needs 2.52 GiB, while `sqrt_t` fits 8+8 layers in 1.40 GiB.
"""

from __future__ import annotations

from nmt.tools.results import run_commands

COMMANDS = {  # result file: the command that writes it (its last line)
    "bench_memory.json": "-m nmt.bench memory --preset reference".split(),
    "bench_memory_attention_quiet.json": "-m nmt.bench memory --preset reference --only attention".split(),
}


if __name__ == "__main__":
    run_commands(COMMANDS, __doc__)
