#!/usr/bin/env bash
# The GPU figures quoted in README.md ("On a GPU"). Run from the repository root on the GPU machine, with the corpus
# in DATA (default ../shared/data/multi30k) and a model released from the default run beside it:
#   python -m nmt.release --checkpoint runs/multi30k --out released/multi30k     # where the run is, before
set -euo pipefail
DATA=${DATA:-../shared/data/multi30k}
python experiments/device_decode.py --data-dir "$DATA" --checkpoint released/multi30k   # decode_gpu.json, about 2 min
# The variants, each about 2 min: the loop in CUDA graphs, the CPU's fastest settings, and the top-k ablation.
python experiments/device_decode.py --data-dir "$DATA" --checkpoint released/multi30k --while-graphs
python experiments/device_decode.py --data-dir "$DATA" --checkpoint released/multi30k --while-graphs --shortlist 256 --slots 64
python experiments/device_decode.py --data-dir "$DATA" --checkpoint released/multi30k --topk plain
python experiments/device_decode.py --data-dir "$DATA" --checkpoint released/multi30k --while-graphs --shortlist 256 --slots 64 --topk fused
python experiments/device_memory.py                                                     # memory_gpu.json, about 5 min
