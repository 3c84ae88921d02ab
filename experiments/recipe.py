r"""The default recipe's levers, each a training run of the default preset with some fields changed, scored on val and
test_2016_flickr; and the validation curves of those runs.

    python experiments/recipe.py --lever ema                  # trains runs/recipe/ema unless it is there, ~20 min
    python experiments/recipe.py --lever ema --alphas 0.4,0.6,0.8,1.0   # beam 5's length penalty, on val only
    python experiments/recipe.py --plot                       # val BLEU against steps and minutes, every lever run

A lever's run is `python -m nmt.train --workdir runs/recipe/<lever> --no-progress <overrides>` (one process, nothing
else on the machine); its row comes from the run's own results.json (best checkpoint: val and test BLEU, greedy and
beam 5, cased and lowercased) and its metrics.jsonl (validation curve; minutes since launch, leaving out the wait
between a lever and the one it continues: `ema_lr3e-3_5k` starts as a copy of `ema_lr3e-3` and resumes to 5,000
steps). Rows go to recipe.json in --out (default experiments/results), the curves to val_curves.png. Choices are
made on validation BLEU only; test is reported beside it.

Results (the development machine, 2 cores of an AMD EPYC CPU, jax 0.10.2, 2026-11-30 and 12-01; recipe.json,
val_curves.png).
Best checkpoint by val BLEU (greedy), scored by the run itself; BLEU cased / lowercased, beam 5 with alpha 0.6:

| lever | steps | minutes | val greedy | val beam 5 | test greedy | test beam 5 |
|---|---|---|---|---|---|---|
| the preset before (seed 0; runs/ttq_nmt) | 2,500 | 19.7 | 34.63 / 34.85 | 35.52 / 35.70 | 34.44 / 34.85 | 35.64 / 36.07 |
| the same, seed 1 | 2,500 | 18.9 | 34.46 / 34.61 | 35.38 / 35.53 | 35.15 / 35.57 | 35.88 / 36.24 |
| the same, seed 2 | 2,500 | 30.1* | 35.02 / 35.21 | 35.70 / 35.87 | 33.98 / 34.33 | 36.12 / 36.48 |
| the same, seed 3 | 2,500 | 24.8* | 34.80 / 34.96 | 36.49 / 36.70 | 35.48 / 35.88 | 36.40 / 36.79 |
| + moving average 0.995 | 2,500 | 28.2* | 35.58 / 35.72 | 36.64 / 36.83 | 35.51 / 35.92 | 37.07 / 37.47 |
| + moving average, shared source/target embeddings (5.40 M parameters instead of 7.45 M) | 2,500 | 18.0 | 34.93 / 35.12 | 36.90 / 37.09 | 35.87 / 36.21 | 37.38 / 37.78 |
| + moving average, dropout 0.4 instead of 0.3 | 2,500 | 23.3* | 33.60 / 33.77 | 34.37 / 34.58 | 34.08 / 34.48 | 35.36 / 35.76 |
| + moving average, word dropout 0.1 (whole source and target words) | 2,500 | 50.0‡ | 33.45 / 33.62 | 33.93 / 34.06 | 33.74 / 34.18 | 34.76 / 35.18 |
| + moving average, learning rate 3e-3 instead of 2e-3 | 2,500 | 47.2† | 37.87 / 38.05 | 38.43 / 38.60 | 36.87 / 37.30 | 38.12 / 38.51 |
| + moving average, label smoothing 0.2 instead of 0.1 | 2,500 | 45.3† | 34.99 / 35.15 | 35.82 / 35.96 | 34.81 / 35.14 | 36.69 / 37.06 |
| + moving average, 5,000 steps (the preset from 2026-11-30 to 12-01) | 5,000 (best 4,000) | 35.7 | 38.56 / 38.71 | 38.89 / 39.09 | 36.99 / 37.39 | 38.44 / 38.87 |
| **+ moving average, learning rate 3e-3, 5,000 steps (the preset now)** | 5,000 | **90.2†** | **39.65 / 39.82** | **40.27 / 40.41** | 38.31 / 38.83 | **39.17 / 39.61** |
| the preset now, seed 1 (`--lever ema_lr3e-3_5k_seed1`) | 5,000 | 90.1† | 39.02 / 39.20 | 39.92 / 40.13 | 38.33 / 38.80 | 38.97 / 39.41 |
| the preset now, seed 2 (`--lever ema_lr3e-3_5k_seed2`) | 5,000 (best 4,500) | 81.2‡ | 38.64 / 38.85 | 39.72 / 39.86 | 38.07 / 38.49 | 39.27 / 39.64 |
| the preset now, seed 3 (`--lever ema_lr3e-3_5k_seed3`) | 5,000 | 81.3‡ | 38.39 / 38.54 | 39.54 / 39.68 | 38.27 / 38.77 | 39.08 / 39.48 |
| + moving average, learning rate 3e-3, cosine decay to 1% instead of rsqrt | 2,500 | 46.0† | 36.83 / 37.03 | 37.84 / 38.06 | 37.05 / 37.45 | 38.35 / 38.77 |
| + moving average, learning rate 3e-3, one LSTM layer a side instead of two (6.27 M parameters) | 2,500 | 39.5‡ | 38.39 / 38.53 | 39.48 / 39.61 | 37.70 / 38.14 | 39.19 / 39.60 |
| the same, seed 1 (`--lever ema_lr3e-3_layers1_seed1`) | 2,500 | 38.1‡ | 37.95 / 38.10 | 38.69 / 38.88 | 37.42 / 37.77 | 38.61 / 38.97 |
| the same, seed 2 (`--lever ema_lr3e-3_layers1_seed2`) | 2,500 | 36.9‡ | 38.59 / 38.74 | 39.50 / 39.61 | 37.79 / 38.29 | 39.12 / 39.49 |
| the same, seed 3 (`--lever ema_lr3e-3_layers1_seed3`) | 2,500 | 37.5‡ | 39.28 / 39.44 | 39.44 / 39.57 | 38.07 / 38.51 | 39.27 / 39.80 |
| + moving average, learning rate 3e-3, LSTMs of 384 units instead of 256 (11.14 M parameters) | 2,500 | 72.3‡ | 38.70 / 38.88 | 39.92 / 40.10 | 38.56 / 39.13 | 39.93 / 40.41 |
| + moving average, learning rate 3e-3, three LSTM layers a side instead of two (8.50 M parameters) | 2,500 | 60.2‡ | 36.47 / 36.61 | 37.03 / 37.19 | 36.78 / 37.16 | 37.95 / 38.38 |
| + moving average, learning rate 3e-3, batches of 4,096 tokens instead of 2,048 (half the steps, the same tokens) | 1,250 | 43.5‡ | 34.41 / 34.59 | 35.81 / 36.00 | 35.16 / 35.52 | 36.61 / 36.97 |

\* shared the machine with the test suite for part of the run; the 2,500-step runs of the preset and its seeds 1 to 3
took 19.7, 18.9, 30.1 and 24.8 minutes (recipe.json).
† 2026-12-01, on a day this machine ran the preset's step 2.8× slower: `python -m nmt.bench train --preset multi30k
--steps 10`, the training job paused, gave 1,709 target tokens/s and 1.08 s a step against 4,824–5,054 tokens/s
and 0.37 s before (experiments/train_levers.py), and the commit before the model's matrix forms gave the same
1,665, so the code is not the cause; the reference model's bench was faster than before (779 tokens/s against 498).
BLEU does not depend on the machine's speed; the minutes of these rows do. Two trainings at once were slower still
(1.8-2.1 s a step each, pinned to a core or not): one run at a time.
‡ 2026-12-01 from about 08:38 on, again slow: 0.95-1.07 s a step alone on the machine, and the matmul rate measured
at 12:50 was 134 GFLOP/s against 483-494 on 11-30 (experiments/train_levers.py). Seed 2 has a first minute at 07:29;
seed 3 ran in three parts, stopped twice with SIGTERM to leave the machine to the test suite and resumed. The
384-unit run trained from 19:09 to 20:22, alone on the machine (`nmt.bench train` at 18:51: 1.11 s a step for the
preset, matmul 139 GFLOP/s). Word dropout trained from 22:01 to 22:49 (its first 134 steps earlier that evening),
alone on the machine, 1.07 s a step; three layers a side from 22:53 to 23:54, alone, 1.2-1.5 s a step.

- The four seeds of the old preset spread over 0.76 BLEU on test with beam 5 (35.64–36.40) and 0.98 on val: a lever
  has to beat that to count from one run. The moving average (+0.9 val and +1.1 test beam 5 over the seeds' mean
  at equal steps) and doubling the steps it made affordable (+2.3 more on val) both do.
- Beam search's length penalty on the chosen model (val only, `--alphas`): alpha 0.4 / 0.6 / 0.8 / 1.0 give
  38.56 / 38.89 / 39.00 / 39.07 val BLEU; the commands keep their default 0.6 (the gain of 1.0 is +0.18 on val, within
  the spread of seeds).
- Checkpoint averaging on the chosen runs (experiments/averaging.py), at 2e-3 and at 3e-3: no gain on top of the
  moving average (−0.10 and +0.07 val BLEU with beam 5 for the last 2).
- More dropout (0.4 instead of 0.3) costs 2.3 val BLEU with beam 5 at 2,500 steps: the model is not overfitting at
  this budget (its curve lags the whole way).
- A learning rate of 3e-3 (`--lever ema_lr3e-3`) is the largest gain at equal steps: val greedy 37.87 against 35.58
  at 2,500 steps (+2.3, three times the seeds' spread; beam 5 38.43 against 36.64), ahead at every evaluation
  (15.8 / 30.3 / 34.5 / 36.9 at 500 / 1,000 / 1,500 / 2,000 steps against 11.8 / 24.6 / 30.6 / 33.5). Carried on to
  5,000 steps (`--lever ema_lr3e-3_5k`: the 2,500-step run resumed, which is the run launched with 5,000 since the
  rsqrt decay does not depend on `train.steps`; tested), it stays ahead at every evaluation (38.44 / 39.11 / 38.80 /
  39.30 / 39.65 at 3,000–5,000 against 37.10 / 37.85 / 38.56 / 38.34 / 38.33) and ends at val **39.65** greedy and
  **40.27** beam 5 against 38.56 and 38.89 at 2e-3 (+1.09 and +1.38, beyond the seeds' spread of 0.98 on val): the
  preset's learning rate is now 3e-3. Test, reported and not chosen on: 39.17 / 39.61 with beam 5 against 38.44 /
  38.87. Its 90.2 minutes are of a slow day (†); the step costs what it did at 2e-3, whose 5,000 steps took 35.7.
- Three more seeds of the preset now (`--lever ema_lr3e-3_5k_seed1`, `_seed2` and `_seed3`, each alone on the
  machine on a slow day: 90.1, 81.2 and 81.3 minutes) land 0.35, 0.55 and 0.73 below seed 0 on val with beam 5
  (39.92, 39.72 and 39.54 against 40.27), still 0.65 or more above the 2e-3 run, and at 38.97 / 39.41, 39.27 / 39.64
  and 39.08 / 39.48 on test with beam 5: the 38 lowercased target holds for all four seeds (test beam 5 39.41-39.64
  lowercased, a spread of 0.30 cased; val beam 5 a spread of 0.73). Seed 2's best checkpoint is step 4,500 (val
  greedy 38.64 against 38.46 at 5,000). Together they are the ensembles in experiments/ensemble.py
  (ensemble_2_preset.json, ensemble_3_preset.json, ensemble_4_preset.json).
- Label smoothing 0.2 instead of 0.1 (`--lever ema_smooth0.2`): val 34.99 greedy / 35.82 beam 5 against 35.58 / 36.64
  (−0.6 / −0.8, within the seeds' spread, no gain): the preset keeps 0.1. Like dropout 0.4, a regulariser does not
  pay at this budget.
- The schedule's shape: a cosine decay to 1% of the rate over the 2,500 steps (`--lever ema_lr3e-3_cosine`) instead
  of rsqrt, both at 3e-3 with the moving average, is ahead early (16.03 / 30.75 / 35.27 val greedy at 500 / 1,000 /
  1,500 against 15.84 / 30.30 / 34.49) and behind at the end (36.53 / 36.83 at 2,000 / 2,500 against 36.87 / 37.87):
  val −1.04 greedy and −0.59 with beam 5 (37.84 against 38.43). The preset keeps rsqrt, which also lets a finished run
  go on to more steps exactly. On test, not chosen on, cosine scored higher (38.35 / 38.77 against 38.12 / 38.51 with
  beam 5): within the seeds' spread either way.
- Twice the batch over the same tokens (`--lever ema_lr3e-3_batch4096`: 4,096 target tokens a batch, 1,250 steps,
  warm-up, evaluation interval and moving average scaled to match) against `ema_lr3e-3`: val greedy 34.41 against
  37.87 (−3.5), beam 5 35.81 against 38.43 (−2.6), behind at every evaluation (6.46 / 21.16 / 29.25 / 32.68 at 250 /
  500 / 750 / 1,000 steps against 15.84 / 30.30 / 34.49 / 36.87 at the same tokens). Its step moves 1.114× the
  tokens a second (experiments/train_levers.py), so in equal time it would see 11% more tokens; that does not make up
  half the updates at the same learning rate. A larger batch would want a larger rate (not tried); the preset keeps
  2,048.
- One LSTM layer a side instead of two (`--lever ema_lr3e-3_layers1`: the encoder is the bidirectional layer alone)
  against `ema_lr3e-3`: ahead at every evaluation (19.19 / 32.21 / 35.78 / 37.72 / 38.39 val greedy at 500-2,500
  steps against 15.84 / 30.30 / 34.49 / 36.87 / 37.87), val beam 5 **39.48 against 38.43 (+1.05)**, greedy +0.52,
  with 16% fewer parameters and a step that moves 1.326× the tokens a second (39.5 minutes on a slow day against
  47.2). In 2,500 steps it comes within 0.06-0.79 of the 5,000-step preset's four seeds on val with beam 5, and
  scores 39.19 / 39.60 on test (not chosen on): at half the steps and three quarters of the step's cost, it is the
  lever that would bring the 38 target inside 40 minutes even on a slow day.
  Three more seeds of it (`--lever ema_lr3e-3_layers1_seed1`, `_seed2`, `_seed3`; 36.9-38.1 minutes each, alone on
  the machine on the same slow day, 1.06 s a step for the preset by `nmt.bench train` at 15:35) confirm the gain at
  equal steps: val greedy at 2,500 steps 38.39 / 37.95 / 38.59 / 39.28 (mean 38.55) against the two-layer preset's
  four seeds at their step 2,500 (37.87 / 37.62 / 36.99 / 36.17, mean 37.16; the rsqrt decay does not depend on
  `train.steps`, so that is the state of a 2,500-step run): +1.39, and the worst one-layer seed is above the best
  two-layer one. Against the preset at its 5,000 steps it is behind on val with beam 5 (mean 39.28 against 39.86,
  −0.58) in 0.38× the time (half the steps at 0.75× the cost of a token); on test, not chosen on, 39.47 against 39.54
  lowercased with beam 5 (means of four). The preset keeps two layers a side and 5,000 steps: it is ahead on val and
  is the mission's stacked encoder; `model.enc_layers=1 model.dec_layers=1 train.steps=2500` is the override for a
  machine on which 5,000 steps take far more than 40 minutes. Four one-layer runs ensembled: experiments/ensemble.py
  (+1.28). One layer a side for 5,000 steps was not run.
- LSTMs of 384 units instead of 256 (`--lever ema_lr3e-3_hidden384`, embeddings unchanged; 11.14 M parameters
  against 7.45 M) against `ema_lr3e-3`: ahead at every evaluation (21.55 / 33.49 / 36.81 / 38.36 / 38.70 val greedy at
  500-2,500 steps against 15.84 / 30.30 / 34.49 / 36.87 / 37.87), val beam 5 **39.92 against 38.43 (+1.49)**, greedy
  +0.83; at equal steps about as far ahead as one layer a side (39.48 with beam 5, its four seeds' mean 39.28). Its
  step cost 1.53× as much as the 256-unit one on the same slow afternoon (72.3 minutes alone on the machine, against
  47.2 for `ema_lr3e-3` on the slow 12-01 morning; 1.34× a token in experiments/train_levers.py on a normal day).
  Against the preset at 5,000 steps it is level on val with beam 5 (39.92 against the four seeds' mean of 39.86,
  inside their spread of 39.54-40.27) and behind with greedy (38.70 against 38.93), in 0.80× the time of seed 0's
  90.2 minutes. Test, not chosen on: 39.93 / **40.41** with beam 5, the best single run so far (the preset's seeds:
  39.41-39.64 lowercased). The preset keeps 256 units: no gain on val in about the same time, and 50% more parameters
  to serve. Not run: 384 units for 5,000 steps, or 384 units with one layer a side.
- Word dropout 0.1 (`--lever ema_worddrop0.1`, `model.word_dropout`: each source and target word's embedding zeroed
  with probability 0.1, the kept ones scaled by 1/0.9) against `ema` (lr 2e-3, moving average, 2,500 steps): behind
  at every evaluation (10.91 / 22.29 / 27.88 / 31.00 / 33.45 val greedy at 500-2,500 steps against 11.80 / 24.64 /
  30.62 / 33.45 / 35.58), val beam 5 33.93 against 36.64 (−2.71), greedy −2.13; test, not chosen on, 34.76 / 35.18
  with beam 5 against 37.07 / 37.47. Like dropout 0.4 and label smoothing 0.2, a regulariser costs BLEU at this
  budget, where val BLEU still rises at the last step (the runs are short of fitting, not over-fitted): the preset
  keeps word dropout off.
- Three LSTM layers a side instead of two (`--lever ema_lr3e-3_layers3`: the bidirectional layer and two more in the
  encoder, three in the decoder; 8.50 M parameters) against `ema_lr3e-3`: behind from step 1,000 on (16.49 / 28.57 /
  33.22 / 35.12 / 36.47 val greedy at 500-2,500 steps against 15.84 / 30.30 / 34.49 / 36.87 / 37.87), val beam 5
  37.03 against 38.43 (−1.40), greedy −1.40, in 60.2 minutes against 47.2 (1.28× on these slow days; 1.15× a token
  in experiments/train_levers.py on a normal day); test, not chosen on, 37.95 / 38.38 with beam 5 against 38.12 /
  38.51. With one layer a side +1.05 and three −1.40 at equal steps, depth goes the wrong way at this budget; the
  preset keeps two (the mission's stacked encoder).
- Early stopping on val BLEU (`train.patience=4` in the preset: stop after four evaluations in a row without a better
  greedy val BLEU) never fired in the 5,000-step runs: none went more than two evaluations without a new best (the
  2e-3 run at 4,500 and 5,000). What the preset takes from BLEU is the choice of checkpoint: the best is not the last
  in two of those five runs (2e-3: step 4,000, +0.23 val greedy over the last; seed 2: step 4,500, +0.18). Three of
  the four seeds at 3e-3 are still rising at 5,000 steps: the budget stops them, not overfitting.
- Shared embeddings (`--lever ema_shared`) cost nothing measurable at 2,500 steps: -0.65 val greedy, +0.26 val beam
  5, within the seeds' spread, with 27% fewer parameters; not yet tried at 5,000 steps, so the preset keeps them apart.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

from nmt.tools.results import rows_with_minutes, run_scores, write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = os.path.join(ROOT, "runs", "recipe")
COMMON = ["train.keep_evaluated=10"]  # kept for checkpoint averaging; changes nothing the run computes
OLD = ["train.steps=2500", "train.ema_decay=0.0", "train.lr=2e-3"]  # the preset before this experiment chose levers
LR2 = ["train.ema_decay=0.995", "train.lr=2e-3"]  # the moving average at the preset's learning rate before 3e-3
LR3 = ["train.steps=2500", "train.ema_decay=0.995", "train.lr=3e-3"]  # the preset now, at the 2,500 steps of before
LAYERS1 = [*LR3, "model.enc_layers=1", "model.dec_layers=1"]  # one LSTM layer a side, in four seeds
LEVERS = {  # name: overrides of the multi30k preset
    "preset": OLD,
    "ema": ["train.steps=2500", *LR2],
    "ema_5k": ["train.steps=5000", *LR2],  # the preset before its learning rate went to 3e-3
    "seed1": [*OLD, "train.seed=1"],
    "seed2": [*OLD, "train.seed=2"],
    "seed3": [*OLD, "train.seed=3"],
    "ema_5k_seed1": ["train.steps=5000", *LR2, "train.seed=1"],
    "ema_shared": ["train.steps=2500", *LR2, "model.share_embeddings=true"],
    "ema_smooth0.2": ["train.steps=2500", *LR2, "train.label_smoothing=0.2"],
    "ema_dropout0.4": ["train.steps=2500", *LR2, "model.dropout=0.4"],
    "ema_worddrop0.1": ["train.steps=2500", *LR2, "model.word_dropout=0.1"],
    "ema_lr3e-3": LR3,
    "ema_lr3e-3_5k": ["train.steps=5000", "train.ema_decay=0.995", "train.lr=3e-3"],  # the preset now
    **{f"ema_lr3e-3_5k_seed{s}": [f"train.seed={s}"] for s in (1, 2, 3)},  # the preset now, other seeds
    "ema_lr3e-3_cosine": [*LR3, "train.decay=cosine"],
    # width and depth at the 2,500 steps of ema_lr3e-3; what their steps cost: experiments/train_levers.py
    "ema_lr3e-3_hidden384": [*LR3, "model.hidden=384"],
    "ema_lr3e-3_layers1": LAYERS1,
    "ema_lr3e-3_layers3": [*LR3, "model.enc_layers=3", "model.dec_layers=3"],
    **{f"ema_lr3e-3_layers1_seed{s}": [*LAYERS1, f"train.seed={s}"] for s in (1, 2, 3)},
    # twice the batch over the same tokens: half the steps, warm-up and evaluation interval, and 0.99 ≈ 0.995² so the
    # moving average spans the same tokens
    "ema_lr3e-3_batch4096": [
        "data.batch_tokens=4096",
        "train.steps=1250",
        "train.warmup_steps=200",
        "train.eval_every=250",
        "train.ema_decay=0.99",
        "train.lr=3e-3",
    ],
}
# A lever that continues a finished one: its run starts as a copy of that run and resumes to its own train.steps.
# The rsqrt decay does not depend on train.steps, so this is the uninterrupted run (tests/test_train.py checks resume).
CONTINUES = {"ema_lr3e-3_5k": "ema_lr3e-3"}
LABELS = {
    "preset": "previous preset, seed 0",
    "seed1": "previous preset, seed 1",
    "seed2": "previous preset, seed 2",
    "seed3": "previous preset, seed 3",
    "ema": "+ moving average 0.995",
    "ema_5k": "+ 5,000 steps (lr 2e-3)",
    "ema_shared": "+ moving average, shared embeddings",
    "ema_lr3e-3": "+ moving average, lr 3e-3 (a slow day)",
    "ema_dropout0.4": "+ moving average, dropout 0.4",
    "ema_worddrop0.1": "+ moving average, word dropout 0.1 (a slow day)",
    "ema_smooth0.2": "+ moving average, smoothing 0.2 (a slow day)",
    "ema_lr3e-3_5k": "+ lr 3e-3, 5,000 steps: the preset now (a slow day)",
    "ema_lr3e-3_cosine": "+ moving average, lr 3e-3, cosine decay (a slow day)",
    "ema_lr3e-3_batch4096": "+ moving average, lr 3e-3, batches of 4,096 tokens (a slow day)",
    "ema_lr3e-3_hidden384": "+ moving average, lr 3e-3, LSTMs of 384 (a slow day)",
    "ema_lr3e-3_layers1": "+ moving average, lr 3e-3, 1 layer each side (a slow day)",
    "ema_lr3e-3_layers3": "+ moving average, lr 3e-3, 3 layers each side (a slow day)",
    **{f"ema_lr3e-3_5k_seed{s}": f"the preset now, seed {s} (a slow day)" for s in (1, 2, 3)},
    **{
        f"ema_lr3e-3_layers1_seed{s}": f"+ moving average, lr 3e-3, 1 layer each side, seed {s} (a slow day)"
        for s in (1, 2, 3)
    },
}
ALIASES = {  # runs trained before this script, with the same settings (and eval_every=250 for a finer curve)
    "preset": "runs/ttq_nmt",
    "ema": "runs/ema995",
    "ema_5k": "runs/r5k_ema995",
    "seed1": "runs/seed1",
}


def workdir(lever: str) -> str:
    alias = os.path.join(ROOT, ALIASES.get(lever, "-"))
    return alias if os.path.exists(os.path.join(alias, "results.json")) else os.path.join(RUNS, lever)


def train(lever: str) -> str:
    wd = workdir(lever)
    results = os.path.join(wd, "results.json")
    if lever in CONTINUES and not os.path.exists(wd):
        shutil.copytree(train(CONTINUES[lever]), wd, ignore=shutil.ignore_patterns("results.json", "*.hyp", "*.lock"))
    if not os.path.exists(results):
        rc = subprocess.run(
            [sys.executable, "-m", "nmt.train", "--workdir", wd, "--no-progress", *COMMON, *LEVERS[lever]], cwd=ROOT
        ).returncode
        if rc or not os.path.exists(results):  # stopped by a signal, or failed
            sys.exit(
                f"recipe.py: lever {lever!r} did not finish (nmt.train exit {rc}); its run {wd} keeps the last "
                f"checkpoint, and `python experiments/recipe.py --lever {lever}` resumes it"
            )
    return wd


def curve(wd: str) -> list[dict]:
    """The run's validation rows: step, minutes of training (rows_with_minutes), greedy BLEU."""
    return [
        {"step": r["step"], "minutes": m, "bleu": r["bleu"]} for r, m in rows_with_minutes(wd) if r["kind"] == "val"
    ]


def row(lever: str, wd: str) -> dict:
    return {"lever": lever, "overrides": LEVERS[lever], "workdir": os.path.relpath(wd, ROOT), **run_scores(wd)}


def alphas(wd: str, values: list[float]) -> dict:
    """Beam 5's val BLEU for each length-penalty alpha (chosen on val, never on test)."""
    out = {}
    for a in values:
        proc = subprocess.run(
            [sys.executable, "-m", "nmt.evaluate", "--run", wd, "--split", "val", "--alpha", str(a), "--greedy"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        res = json.loads(proc.stdout.strip().splitlines()[-1])["beam5"]
        out[str(a)] = [round(res["bleu"], 2), round(res["bleu_lc"], 2)]
        print(f"alpha {a}: val beam 5 {out[str(a)]}", flush=True)
    return out


def plot(out: str, table: dict) -> None:
    """Every recorded lever's curve, from recipe.json: the runs themselves need not be on this machine."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 7.5), sharey=True)
    for i, lever in enumerate(name for name in LEVERS if name in table):
        c = table[lever]["curve"]
        style = dict(color=plt.cm.tab20(i % 20), linestyle="-" if i < 20 else "--")  # tab10's cycle repeats at 10
        for ax, x in zip(axes, ("step", "minutes")):
            ax.plot([p[x] for p in c], [p["bleu"] for p in c], marker=".", label=LABELS.get(lever, lever), **style)
    for ax, x in zip(axes, ("training step", "minutes since launch (2 CPU cores)")):
        ax.set_xlabel(x)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("val BLEU, greedy, cased")
    axes[0].set_ylim(20, None)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=8)  # too many for one axis
    fig.suptitle("Multi30k en-de, default preset and its levers")
    fig.tight_layout(rect=(0, 0.3, 1, 1))
    fig.savefig(os.path.join(out, "val_curves.png"), dpi=90)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lever", choices=sorted(LEVERS), action="append", default=[])
    p.add_argument("--alphas", help="comma-separated length-penalty alphas to score on val with beam 5")
    p.add_argument("--plot", action="store_true")
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    args = p.parse_args(argv)
    path = os.path.join(args.out, "recipe.json")
    table = json.load(open(path)) if os.path.exists(path) else {}
    for lever in args.lever:
        wd = train(lever)
        table[lever] = dict(table.get(lever, {}), **row(lever, wd), curve=curve(wd))
        if args.alphas:
            table[lever]["val_beam5_by_alpha"] = alphas(wd, [float(a) for a in args.alphas.split(",")])
    if args.plot:
        plot(args.out, table)
    write_result(args.out, "recipe.json", table)


if __name__ == "__main__":
    main()
