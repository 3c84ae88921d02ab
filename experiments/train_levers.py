"""Training-step levers on the peer's model (`opennmt_rnn`), each a switch, timed against each other in one process;
and where the step's time goes.

    python experiments/train_levers.py                          # about 15 min on 2 CPU cores, nothing else running
    python experiments/train_levers.py --only train_profile_opennmt.json

`python -m nmt.bench train --variant NAME=OVERRIDES ... --rounds 3` compiles each variant, then runs windows of the
same 15 batches per variant in turn, three times; tokens/s is the median over a variant's 45 timed steps, and
`over_first` its ratio to the first variant. `--profile` runs the most frequent batch shape under the JAX profiler and
splits the step by the model's named scopes (nmt/tools/profile.py).

Results, on the development machine (2 cores, 24 GiB, no GPU, jax 0.10.2, matmul peak measured in the run 483-494
GFLOP/s; 2026-11-30); the files are in experiments/results/. All but the bucket comparison ran before the preset
took the finer buckets (then data.buckets=[8,12,16,20,24,32,48,64,100]):

Levers (train_levers_opennmt.json; the unroll variants ran with the directions in one scan):

| variant | target tokens/s | step | MFU | ÷ first |
|---|---|---|---|---|
| both encoder directions in one scan (`model.fuse_directions=true`) | 2,229 | 0.773 s | 0.40 | 1.00 |
| one scan per direction (`false`, now the default) | 2,379 | 0.739 s | 0.42 | **1.067** |
| one scan, `model.unroll=2` | 2,274 | 0.768 s | 0.41 | 1.020 |
| one scan, `model.unroll=4` | 2,210 | 0.791 s | 0.39 | 0.992 |

- One scan for both directions does not pay on this CPU: its step is a batched product `[2, B, H] × [2, H, 4H]`,
  which XLA's CPU backend runs 7% slower than two plain products in two loops. It stays a switch, off by default.
  Against the code before (the backward direction a reversed, masked scan; `python -m nmt.bench train --preset
  reference --steps 20`, two alternating windows each): 2,180 and 2,224 tokens/s before, 2,174 and 2,160 with one
  scan for both.
- Unrolling the scans by 2 gains 2%, within the noise of one window; by 4 it loses 1% and compiles 50% longer. The
  default stays 1.
- Finer buckets (train_buckets_opennmt.json; `--variant coarse=data.buckets=[8,12,16,20,24,32,48,64,100] --variant
  fine=data.buckets=[8,10,12,14,16,18,20,22,24,27,30,34,38,43,48,55,64,100] --rounds 3 --steps 15`, each variant
  over its own first 18 batches): **1.133×**, 2,766 against 2,441 tokens/s; padding 8.0% against 15.1% in those
  batches (11.4% against 16.0% over a whole epoch), 17 programs compiled in 63 s against 8 in 31 s. The
  `opennmt_rnn` preset takes the finer buckets. Padding cannot reach 5% with one bucket for both sides: a pair's
  bucket is its longer side's, and the target is often the shorter one (with an edge at every length up to 20 the
  epoch's padding is still 10.0%); that would need separate source and target buckets, many more programs.
- Full batches and sources bucketed apart from targets (train_batches_opennmt.json; three rounds of 30 steps,
  each variant over its own first 33 batches; epoch figures from `python experiments/padding.py`, in
  padding_opennmt_rnn.json). Cutting each bucket's pairs into batches left one part-empty batch per bucket; with
  `data.full_batches=true` (now the default) a bucket's left-over pairs join the next bucket up, as OpenNMT-py's
  length-sorted pools keep batches full: an epoch's target padding 11.4% → 8.6% (source 14.4% → 11.6%), the same 17
  programs, **1.021×** the tokens/s (2,581 against 2,527; by the mean over steps 2,550 against 2,360, as the
  part-empty batches are the slow ones). Below 5% needs sources and targets bucketed apart: `data.pair_shapes=N` adds
  the N most frequent (source, target) bucket pairs as shapes; over an epoch N = 10 gives 6.7% / 9.0% (27
  programs), 20 gives 5.5% / 8.3% (37), **30 gives 4.8% / 6.5% (47)**, 55 gives 4.4% / 5.8% (72). With N = 30 the
  step ran at 1.006× the part-empty batches (2,542 tokens/s; mean 2,566), no faster than full batches alone, and
  compiled 21 programs in its 33 batches in 111 s against 12 in 61 s: per padded FLOP its step was slower (198
  against 207 GFLOP/s), which the padding it saves does not make up on this CPU. It stays a switch, off.
- The loss from the log-sum-exp instead of a [B, T, V] log-softmax (train_levers_ab.json, the commit before against
  the change, three alternating windows each): 2,476, 2,459, 2,463 before, 2,494, 2,460, 2,417 after: no gain; not
  kept.
- XLA CPU flags (train_xla_flags.json, each in its own process, taking turns twice): `--xla_cpu_use_onednn=true`
  2,466 and 2,400 against 2,466 and 2,472 without; `--xla_cpu_enable_concurrency_optimized_scheduler=true` 2,370 and
  2,434. Neither pays.
- The optimizer update over all parameters flattened into one vector (`train.flat_update=true`, optax.flatten;
  train_flat_update_opennmt.json, with the finer buckets, three rounds of 15 steps): 2,695 against 2,689 tokens/s,
  1.002×. The update is 3.2% of the step; the switch stays, off.
- The default preset (`multi30k`) took the same finer buckets (train_buckets_multi30k.json; `python -m nmt.bench
  train --preset multi30k --steps 15 --rounds 3 --variant coarse=data.buckets=[8,12,16,20,24,32,48,64] --variant
  fine=data.buckets=[8,10,12,14,16,18,20,22,24,27,30,34,38,43,48,55,64]`): **1.062×**, 5,164 against 4,862 target
  tokens/s, padding 8.0% against 15.1% in those batches; 17 programs compiled in 54 s against 8 in 25 s.
- The GNMT-v2 decoder (`model.decoder=gnmt`; train_decoder_guard_multi30k.json, default preset, three rounds of 15
  steps): **1.026×** the Luong decoder's tokens/s (4,824 against 4,702), 7.32 M parameters against 7.45 M (no combine
  layer), 17 programs in 45 s against 62 s. Its quality at this size is far lower: in 2,500 steps (18 minutes)
  test_2016_flickr 15.39 with beam 5 against 35.64 (experiments/time_to_quality.py); the Luong decoder stays the
  default.
- The non-finite guard (a step with a non-finite loss or gradient changes nothing; `train.nonfinite_limit`): with
  `optax.apply_if_finite` the guarded step ran at 1/1.035 of the unguarded one (same file); as a select inside the
  update (train_guard_multi30k.json) at **1/1.028** (4,916 against 5,054 tokens/s). It is on by default, for safety;
  `train.nonfinite_limit=0` turns it off. The profile re-measured with it (train_profile_opennmt_guard.json; `python
  -m nmt.bench train --preset opennmt_rnn --steps 10 --profile`, batch [128, 16], 2,436 tokens/s): recurrent
  products 28.7%, output layer and loss 26.9%, input projections 11.8%, other 11.3%, copies/transposes/masking 9.6%,
  attention 5.4%, optimizer update 4.0% (3.2% before the guard), dropout masks 2.3%.
- The recipe's width, depth and batch levers on the default preset (train_sizes_multi30k.json; `python
  experiments/train_levers.py --only train_sizes_multi30k.json`: two rounds of 10 steps, each variant over its own
  first batches; 2026-12-01, a slow day: the matmul rate measured in the run was 134 GFLOP/s against 483-494 on
  11-30). Target tokens/s against the preset's 1,762 (7.45 M parameters, 1.07 s a step): LSTMs of 384 units instead
  of 256 **0.745×** (11.14 M); one layer a side instead of two **1.326×** (6.27 M); three a side **0.868×** (8.50 M);
  batches of 4,096 tokens instead of 2,048 **1.114×** (1.93 s a step). Their BLEU is in experiments/recipe.py.

On the 2-core AMD EPYC with AVX-512 where the peer trains faster (experiments/opennmt_race.py, 0.88x; 2026-12-05,
matmul 212 GFLOP/s in the run; `python experiments/train_levers.py --only train_levers_epyc_2core.json`: three
rounds of 20 steps, each variant over its own first batches), target tokens/s against the preset's 1,549:
sources and targets bucketed apart (`data.pair_shapes=30`; padding 5.4% / 6.3% of target / source positions against
8.2% / 11.4%, 16 programs compiled in 81 s against 8 in 42 s) **1.027x**; without the non-finite guard
(`train.nonfinite_limit=0`) **1.023x**; the flattened update (`train.flat_update=true`) 0.998x. Together they would
not close the gap to the peer (1/0.88 = 1.14x); each stays a switch, off (`pair_shapes` changes which pairs share a
batch, and its BLEU has not been measured).
Computing in bfloat16 (`model.dtype=bfloat16`, float32 parameters; `--only train_bf16_epyc_2core.json`, 2026-12-06,
matmul 210 GFLOP/s in the run) is **0.943x** the float32 step (1,385 against 1,468 target tokens/s), though the CPU
has AVX512_BF16: XLA's CPU backend runs a bfloat16 product whose result is bfloat16 no faster than a float32 one, and
faster only when it accumulates into a float32 result (`preferred_element_type`), which the model's layers do not ask
for (`python experiments/bf16_dot.py`, bf16_dot.json, same day: 2,048 x 512 x 2,048 in 20.1 ms in float32, 21.8 ms
bfloat16 to bfloat16, 10.5 ms bfloat16 to float32; the recurrent product 1.91, 2.40, 1.15 ms); the casts add the rest.

Profile (train_profile_opennmt.json; batch shape [128, 16], the most frequent; 2,446 target tokens/s, 0.714 s a
step, MFU 0.43; the untraced step 0.749 s, traced 1.155 s):

| part | share of the operations | per step |
|---|---|---|
| recurrent products (encoder and decoder, gates included) | 27.5% | 206 ms |
| output layer and loss (8,000-way softmax, forward and backward) | 27.2% | 204 ms |
| input projections | 12.0% | 90 ms |
| other operations | 10.9% | 82 ms |
| copies, transposes, masking | 10.3% | 78 ms |
| attention (with the attentional hidden state) | 5.8% | 44 ms |
| optimizer update | 3.2% | 24 ms |
| dropout masks | 2.9% | 22 ms |
| host: a step's dispatch | | 0.7 ms |
| host: drawing a batch (overlaps the step before) | | 0.4 ms |
"""

from __future__ import annotations

from nmt.tools.results import run_commands

BENCH = ["-m", "nmt.bench", "train", "--preset", "opennmt_rnn"]
COMMANDS = {  # result file: the command that writes it (its last line)
    "train_levers_opennmt.json": BENCH
    + [
        "--steps",
        "15",
        "--rounds",
        "3",
        "--variant",
        "fused=model.fuse_directions=true",
        "--variant",
        "split=model.fuse_directions=false",
        "--variant",
        "unroll2=model.unroll=2 model.fuse_directions=true",
        "--variant",
        "unroll4=model.unroll=4 model.fuse_directions=true",
    ],
    "train_profile_opennmt.json": BENCH + ["--steps", "20", "--profile"],
    "train_flat_update_opennmt.json": BENCH
    + [
        "--steps",
        "15",
        "--rounds",
        "3",
        "--variant",
        "tree=train.flat_update=false",
        "--variant",
        "flat=train.flat_update=true",
    ],
    "train_batches_opennmt.json": BENCH
    + [
        "--steps",
        "30",
        "--rounds",
        "3",
        "--variant",
        "part=data.full_batches=false",
        "--variant",
        "full=data.full_batches=true",
        "--variant",
        "pairs30=data.pair_shapes=30",
    ],
    "train_buckets_opennmt.json": BENCH
    + [
        "--steps",
        "15",
        "--rounds",
        "3",
        "--variant",
        "coarse=data.buckets=[8,12,16,20,24,32,48,64,100]",
        "--variant",
        "fine=data.buckets=[8,10,12,14,16,18,20,22,24,27,30,34,38,43,48,55,64,100]",
    ],
    # the levers of the race on the 2-core AMD EPYC (AVX-512) where the peer trains faster
    "train_levers_epyc_2core.json": BENCH
    + [
        "--steps",
        "20",
        "--rounds",
        "3",
        "--variant",
        "preset=data.pair_shapes=0",
        "--variant",
        "pairs30=data.pair_shapes=30",
        "--variant",
        "noguard=train.nonfinite_limit=0",
        "--variant",
        "flat=train.flat_update=true",
    ],
    # bfloat16 compute (float32 parameters) against float32 on the same CPU
    "train_bf16_epyc_2core.json": BENCH
    + [
        "--steps",
        "10",
        "--rounds",
        "2",
        "--variant",
        "f32=model.dtype=float32",
        "--variant",
        "bf16=model.dtype=bfloat16",
    ],
    # the recipe's width, depth and batch levers (experiments/recipe.py): what a step and a token cost
    "train_sizes_multi30k.json": [
        "-m",
        "nmt.bench",
        "train",
        "--preset",
        "multi30k",
        "--steps",
        "10",
        "--rounds",
        "2",
        "--variant",
        "preset=model.hidden=256",
        "--variant",
        "hidden384=model.hidden=384",
        "--variant",
        "layers1=model.enc_layers=1 model.dec_layers=1",
        "--variant",
        "layers3=model.enc_layers=3 model.dec_layers=3",
        "--variant",
        "batch4096=data.batch_tokens=4096",
    ],
}


if __name__ == "__main__":
    run_commands(COMMANDS, __doc__)
