"""Beam search on this CPU: latency, throughput and BLEU of the default run with and without shortlists and slots.

    python experiments/decode_speed.py               # about 10 min on a fast day; needs the default run in runs/multi30k
    python experiments/decode_speed.py --only bench_decode_shortlist256_slots64.json    # one row

Each row is `python -m nmt.bench decode` (speed, the compiled search against the per-step-graph baseline, taking
turns call by call) or `python -m nmt.evaluate` (BLEU) with the options in COMMANDS below; the first --shortlist
command trains runs/multi30k/lexicon.npz (about 10 s).

Results, on the development machine (2 cores of an AMD EPYC CPU, 24 GiB, no GPU, jax 0.10.2,
NMT_DATA_DIR=../shared/data/multi30k), 2026-12-05, nothing else running; the files are in experiments/results/:

**Beam search** on this CPU: the default preset's run of experiments/default_run.py (best checkpoint, step 4,500;
runs/multi30k points to runs/multi30k_timed), beam 5, alpha 0.6, test_2016_flickr. Speed from `python -m nmt.bench
decode --run runs/multi30k --sentences 1000 --repeats 3 [--shortlist N] --slots 0|64`: batch 1 is the median over 50
sentences, batch 64 covers all 1,000 (15.0 output tokens each). BLEU (cased, sacrebleu) from `python -m nmt.evaluate
--run runs/multi30k --greedy [--shortlist N] [--slots 64]`.

| output layer | batch 1, ms per sentence | batch 64, tokens/s (sentences/s) | compiled ÷ per-step, batch 1 / 64 | BLEU greedy / beam 5 | results |
|---|---|---|---|---|---|
| all 8,000 tokens | 10.5 | 2,326 (158) | 2.08× / 1.21× | 37.64 / 39.07 | `bench_decode_default.json`, `eval_default_test.json` |
| `--shortlist 256` | 5.88 | 3,015 (201) | 1.92× / 1.09× | 37.56 / 38.92 | `bench_decode_shortlist256.json`, `eval_shortlist256_test.json` |
| `--shortlist 512` | 5.57 | 3,193 (213) | 2.06× / 1.11× | 37.56 / 38.87 | `bench_decode_shortlist512.json`, `eval_shortlist512_test.json` |
| `--shortlist 1024` | | | | 37.52 / 38.85 | `eval_shortlist1024_test.json` |
| `--shortlist 512 --slots 64` | 6.17 | 4,244 (284) | 2.11× / 1.11× | 37.56 / 38.87 | `bench_decode_shortlist512_slots64.json` |
| `--shortlist 256 --slots 64` | **4.76** | **4,747** (317) | 1.99× / 1.10× | 37.56 / 38.92 | `bench_decode_shortlist256_slots64.json`, `eval_shortlist256_slots64_test.json` |

- **The whole vocabulary's speed** was measured again on 2026-12-06 (`--only bench_decode_default.json`) once
  `--topk auto` chose blocked candidate selection there (docs/decoding.md): the default preset's run retrained that
  day (best checkpoint step 3,500), so its row's BLEU is the step-4,500 run's of 2026-12-05. The day before, with one
  top-k a beam and that run, it gave 10.9 ms, 1,852 tokens/s (124 sentences/s) and 1.72× / 1.08×.
- **Against the earlier figures** (15.2 ms and 2,142 tokens/s with `--shortlist 256 --slots 64`, the previous
  version of this table): those timed the step-2,000 model of an earlier preset (the run no longer exists) on an
  earlier day, whose machine speed was not recorded; this machine's matmul rate has been seen from 139 to 494
  GFLOP/s on different days (experiments/recipe.py, experiments/opennmt_race.py). Today's rows come from one quiet
  sitting on a fast day (the test suite took 13 minutes instead of 22): 3.2× that batch-1 speed and 2.2× its
  throughput, in line with `compression.json`'s 3.56 ms and 8,782 tokens/s for the lr 2e-3 run of the same size
  (timed there on 200 sentences). How much of the difference is the day and how much the model was not measured.
- **Targets** (batch-1 latency ≤ 20 ms; ≥ 2,000 tokens/s at batch 64): both met by every row with a shortlist, and
  batch 1 by the whole vocabulary too.
- **BLEU.** The shortlists hold 94.4%, 96.2% and 97.7% of the reference tokens at 256, 512 and 1,024
  (`shortlist_recall` in the results) and score 0.15 to 0.22 BLEU below the whole vocabulary with beam 5 on this
  run (on the earlier run they scored slightly above it). `--slots 64` gives exactly the translations of fixed
  batches (the same BLEU to the last digit), and the beam pass of `nmt.evaluate` took 4.1 s instead of 4.8.
- **Continuous batching.** Fixed batches of 64 run until their last sentence is done, and the rows of those that
  finished earlier keep computing: `row_fill_batch64` (output tokens over rows × decoder steps) is 0.58; with 64
  slots it is 0.89, and only the queue's tail runs with empty slots. Its timed call includes encoding the queue and
  making the shortlists; both searches (compiled and per-step) run the same queue search.
- **Compiled against per-step.** On a CPU the per-token arithmetic dominates the dispatch cost, so the speed-up at
  batch 64 is about 1.1×; at batch 1 the baseline's three dispatches a token show: 1.7-2.1×. The bench alternates
  the two searches call by call, so the machine's drift falls on both.
- **Stop rules** (2026-12-06, the `_exact` / `_current` pairs and `eval_*stop_current*`, each pair in one sitting,
  exact first; `--slots 64`, no baseline): `--stop current` (OpenNMT-py's rule) runs 8% fewer decoder steps a sentence
  (row fill 0.889 → 0.970 over the whole vocabulary, 0.893 → 0.972 with `--shortlist 256`); 174 → 197 and 331 → 319
  sentences/s, within the drift between two runs on this machine; beam-5 BLEU 39.07 → 39.05 and 38.92 → 38.76.
  docs/decoding.md has the rule.
- **What the benchmark measures.** Batches of 64 are cut from the sentences sorted by source length, as a server
  cuts them, so only the last batch is short. Both searches look their first layer's input up in
  `embedding_projection`, made once per parameters as a server makes it at load. With a shortlist, the timed call
  includes making it on the host.
"""

from __future__ import annotations

from nmt.tools.results import run_commands

BENCH = "-m nmt.bench decode --run runs/multi30k --sentences 1000 --repeats 3"
SLOTS64 = f"{BENCH} --slots 64 --no-baseline"
EVAL = "-m nmt.evaluate --run runs/multi30k --greedy --split test_2016_flickr"
COMMANDS = {  # result file: the command that writes it (its last line)
    "eval_default_test.json": EVAL.split(),
    "bench_decode_default.json": f"{BENCH} --slots 0".split(),
    "eval_shortlist256_test.json": f"{EVAL} --shortlist 256".split(),
    "eval_shortlist512_test.json": f"{EVAL} --shortlist 512".split(),
    "eval_shortlist1024_test.json": f"{EVAL} --shortlist 1024".split(),
    "bench_decode_shortlist256.json": f"{BENCH} --shortlist 256 --slots 0".split(),
    "bench_decode_shortlist512.json": f"{BENCH} --shortlist 512 --slots 0".split(),
    "bench_decode_shortlist256_slots64.json": f"{BENCH} --shortlist 256 --slots 64".split(),
    "bench_decode_shortlist512_slots64.json": f"{BENCH} --shortlist 512 --slots 64".split(),
    "eval_shortlist256_slots64_test.json": f"{EVAL} --shortlist 256 --slots 64".split(),
    # the stop rules (`--stop`), each pair timed in one sitting, exact first
    "bench_decode_slots64_exact.json": f"{SLOTS64} --stop exact".split(),
    "bench_decode_slots64_current.json": f"{SLOTS64} --stop current".split(),
    "bench_decode_shortlist256_slots64_exact.json": f"{SLOTS64} --shortlist 256 --stop exact".split(),
    "bench_decode_shortlist256_slots64_current.json": f"{SLOTS64} --shortlist 256 --stop current".split(),
    "eval_stop_current_test.json": f"{EVAL} --stop current".split(),
    "eval_shortlist256_slots64_stop_current_test.json": f"{EVAL} --shortlist 256 --slots 64 --stop current".split(),
}


if __name__ == "__main__":
    run_commands(COMMANDS, __doc__)
