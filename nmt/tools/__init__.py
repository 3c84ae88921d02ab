"""Tools above the library: benchmarks (train, decode, memory), FLOP counts, the memory report, the one timer and
the result writers that `python -m nmt.bench`, `python -m nmt.memory` and the experiments use."""
