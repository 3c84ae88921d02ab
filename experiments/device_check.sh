#!/usr/bin/env bash
# Every device experiment of the repo in one call of at most 9 minutes, each cut to its share; their JSON files go to
# $OUT (default experiments/results), their logs to $OUT/device_check.log.
#   bash experiments/device_check.sh DATA_DIR RELEASED_RUN            # on the GPU machine
#   CPU=1 bash experiments/device_check.sh DATA_DIR RELEASED_RUN      # here: each script's --cpu check
# RELEASED_RUN: `python -m nmt.release --run runs/multi30k --out released/multi30k` (a third of the run's size).
# In order of what has never been measured on a GPU: serving, training, then decoding and memory again, then the
# parallel study's K = 4 row.
set -uo pipefail
DATA=$1
RUN=$2
OUT=${OUT:-experiments/results}
CPU_FLAG=${CPU:+--cpu}
mkdir -p "$OUT"
export PYTHONPATH=${PYTHONPATH:-.}
step() {
  local limit=$1
  shift
  echo "== python $* (at most ${limit} s)" | tee -a "$OUT/device_check.log"
  timeout --kill-after=10 "$limit" python "$@" >>"$OUT/device_check.log" 2>&1
  echo "== exit $?" | tee -a "$OUT/device_check.log"
}
step 210 experiments/device_serve.py $CPU_FLAG --data-dir "$DATA" --run "$RUN" --out "$OUT"
step 120 experiments/device_train.py $CPU_FLAG --data-dir "$DATA" --steps 5 --out "$OUT"
step 75 experiments/device_decode.py $CPU_FLAG --data-dir "$DATA" --checkpoint "$RUN" --out "$OUT"
step 45 experiments/device_memory.py $CPU_FLAG --out "$OUT"
# The parallel study's K = 4 row as 4 workers on the one device, at a third of the CPU study's horizon (its runs,
# checkpoints included, stay outside $OUT).
if [ -n "$CPU_FLAG" ]; then
  BMUF_SIZE=(--preset tiny --steps 4 --eval-every 2 --workers 1,2 --tau 2)
else
  BMUF_SIZE=(--steps 300 --eval-every 50 --workers 1,4)
fi
step 90 experiments/bmuf_real.py "${BMUF_SIZE[@]}" --methods bmuf,sync,average --devices 1 --set "data.dir=$DATA" \
  --runs "$(mktemp -d)" --out "$OUT/bmuf_real_device"
tail -n 3 "$OUT"/*.json 2>/dev/null | tail -n 40
