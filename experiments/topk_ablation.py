"""Ablation: beam search's candidate selection, `--topk fused` against `--topk plain`.

See `nmt.decode.beam.candidates`; timed in one process with the two interleaved, so that the machine's drift falls on both.

    python experiments/topk_ablation.py --checkpoint runs/multi30k      # about 6 min on 2 CPU cores

Three settings, each over test_2016_flickr sentences with beam 5: batch 1 (one sentence at a time, whole vocabulary),
batch 64 (blocks of 64 sorted by length, whole vocabulary), and continuous batching over 64 slots with 256-token
shortlists (the fastest CPU setting). Writes topk_ablation.json (into --out, default experiments/results) and prints it
as the last line: per setting the seconds of each variant (per batch the median over the repeats, the two taking turns
call by call, summed over the batches), fused ÷ plain, and whether the two gave the same tokens.

Results, on the development machine (2 cores of an AMD EPYC CPU, 24 GiB, no GPU, jax 0.10.2,
NMT_DATA_DIR=../shared/data/multi30k); the files are in experiments/results/:

Candidate selection, fused against plain (`python experiments/topk_ablation.py --checkpoint runs/multi30k`,
  the two alternating call by call in one process; `topk_ablation.json`): fused ÷ plain time is 0.988 at batch 1 and
  0.961 at batch 64 over the whole vocabulary, and 1.019 with 64 slots and 256-token shortlists. Two earlier runs of
  the same comparison (not kept in a file) gave 0.965 / 0.947 / 1.022 and 0.984 / 0.927 / 1.009. So fused saved 1.2%
  at batch 1 and 3.9% at batch 64 in the kept run (1.6-3.5% and 5.3-7.3% in the two before) over 8,000 tokens, where it writes no `[64, 5, 8000]` log-probabilities, and costs 1–2% over 256
  tokens, where its second top-k outweighs the saving; `auto` takes each where it is faster. The tokens are the same
  in every setting.
"""

from __future__ import annotations

import argparse
import os

import jax
import numpy as np

from nmt import cli
from nmt.data import load_data
from nmt.decode import BeamConfig, beam_decode, embedding_projection
from nmt.decode.search import max_output_len, queue_translate, source_projection
from nmt.decode.shortlist import Shortlister
from nmt.run import load_run
from nmt.run.lexicon import lexicon_for_run
from nmt.tools.bench_decode import server_batches
from nmt.tools.results import write_result
from nmt.tools.timing import alternate


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a run directory (its lexicon.npz, or its corpus to train one)")
    p.add_argument("--sentences", type=int, default=512, help="sentences of the batch-64 settings")
    p.add_argument("--batch1-sentences", type=int, default=30)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = p.parse_args(argv)

    run = load_run(args.checkpoint)
    model, params, buckets = run.model, run.params, run.config.data.buckets
    data = load_data(run.config.data, vocab_path=os.path.join(args.checkpoint, "vocab.model"))
    ids = [x[: max(buckets) - 1] for x in run.sp.encode(data.test.src_text[: args.sentences])]
    one, big = server_batches(ids[: args.batch1_sentences], buckets, 1), server_batches(ids, buckets, 64)
    lister = Shortlister(lexicon_for_run(run), 256)
    projected, source = embedding_projection(model, params), source_projection(model, params)

    def blocks(cfg):
        return lambda b: beam_decode(
            model, params, b["src"], cfg, max_output_len(b["src"].shape[1], cfg), projected=projected
        )["tokens"]

    def queue(cfg):
        return lambda _: [
            h[0] for h in queue_translate(model, params, ids, buckets, cfg, 64, lister, projected, source)[0]
        ]

    result = {
        "device": str(jax.devices()[0].device_kind),
        "model": f"{args.checkpoint}@{run.step}",
        "repeats": args.repeats,
        "batch1_sentences": len(one),
        "batch64_sentences": len(ids),
    }
    for setting, batches, search in (
        ("batch1", one, blocks),
        ("batch64", big, blocks),
        ("slots64_shortlist256", [None], queue),
    ):
        fns = {name: search(BeamConfig(beam=5, topk=name)) for name in ("fused", "plain")}
        times = alternate(fns, batches, args.repeats)
        fused, plain = sum(times["fused"]), sum(times["plain"])
        same = all(
            np.array_equal(a, b) for x in batches for a, b in zip(*(jax.device_get(fn(x)) for fn in fns.values()))
        )
        result[setting] = {"fused_s": fused, "plain_s": plain, "fused_over_plain": fused / plain, "same_tokens": same}
    write_result(args.out, "topk_ablation.json", result)


if __name__ == "__main__":
    cli.main_guard(main, "topk_ablation")
