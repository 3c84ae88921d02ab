"""Training: the pure step, the loop in named stages, the workers that take the steps, checkpoints, metrics, and the
compiled step's memory (auto-fit). Parallel workers are in `nmt.parallel`."""
