#!/usr/bin/env bash
# The CPU figures quoted in README.md. Run from the repository root with the corpus reachable (NMT_DATA_DIR) and the
# default run trained in runs/multi30k (`python -m nmt.train`). Each command's JSON line is kept in
# experiments/results/<name>.json; the full output goes to the terminal.
set -euo pipefail
out=experiments/results
mkdir -p "$out"
keep() { tee /dev/stderr | tail -n 1 > "$out/$1.json"; }

python -m nmt.train --workdir runs/multi30k_timed --no-progress
cp runs/multi30k_timed/results.json "$out/default_run_results.json"
python -m nmt.bench train --steps 20 | keep bench_train_reference
python -m nmt.bench memory | keep bench_memory
python -m nmt.bench memory --only attention | keep bench_memory_attention_quiet   # with nothing else running
python experiments/remat_sweep.py --lengths 32,128,512,1024 --depths 2,8 --policies "none;full;dots_no_batch;sqrt_t;offload:dec_h,dec_c,attn_context,attn_hidden"
python -m nmt.evaluate --checkpoint runs/multi30k --split test_2016_flickr --beam 5 --alpha 0.6 | keep eval_default_test
python -m nmt.bench decode --checkpoint runs/multi30k --sentences 1000 --repeats 3 | keep bench_decode_default
for n in 256 512 1024; do   # the first trains runs/multi30k/lexicon.npz (about 10 s)
    python -m nmt.evaluate --checkpoint runs/multi30k --split test_2016_flickr --shortlist "$n" | keep "eval_shortlist${n}_test"
done
for n in 256 512; do
    python -m nmt.bench decode --checkpoint runs/multi30k --sentences 1000 --repeats 3 --shortlist "$n" \
        | keep "bench_decode_shortlist$n"
done
for n in 256 512; do   # continuous batching over 64 slots
    python -m nmt.bench decode --checkpoint runs/multi30k --sentences 1000 --repeats 3 --shortlist "$n" --slots 64 \
        | keep "bench_decode_shortlist${n}_slots64"
done
python -m nmt.evaluate --checkpoint runs/multi30k --split test_2016_flickr --shortlist 256 --slots 64 \
    | keep eval_shortlist256_slots64_test
python experiments/topk_ablation.py --checkpoint runs/multi30k   # --topk fused against plain, interleaved; about 6 min
python experiments/bmuf_convergence.py                     # bmuf_convergence.{json,csv,png}, about 46 min
python experiments/bmuf_convergence.py --methods bmuf --block-momentum 1-1/sqrtK --out "$out/bmuf_sqrt_momentum"
python experiments/bmuf_convergence.py --methods bmuf --optimizer sgd --out "$out/bmuf_sgd"
for run in "4096 --eval-every 64" "8192 --workers 1,4,16 --eval-every 128" "16384 --workers 1,4,16 --eval-every 256"; do
    set -- $run
    python experiments/bmuf_convergence.py --methods bmuf --optimizer sgd --steps "$@" --out "$out/bmuf_sgd_$1"
done
python experiments/bmuf_convergence.py --methods bmuf --optimizer sgd --workers 1 --steps 4096 --eval-every 64 \
    --baseline train.lr=2 --baseline train.lr=0.1,train.momentum=0.9 --baseline train.lr=0.2,train.momentum=0.9 \
    --out "$out/bmuf_sgd_4096_k1"
