"""Ablation: beam search's candidate selection, `--topk fused`, `--topk blocked` and `--topk plain`.

See `nmt.decode.beam.candidates` and `nmt.decode.topk`; timed in one process with the three interleaved, so that the
machine's drift falls on each.

    python experiments/topk_ablation.py --checkpoint runs/multi30k      # about 10 min on 2 CPU cores

Four settings, each over test_2016_flickr sentences with beam 5: batch 1 (one sentence at a time, whole vocabulary),
batch 64 (blocks of 64 sorted by length, whole vocabulary), and continuous batching over 64 slots, over the whole
vocabulary and with 256-token shortlists (the fastest CPU setting). Writes topk_ablation.json (into --out, default
experiments/results) and prints it as the last line: per setting the seconds of each variant (per batch the median
over the repeats, the three taking turns call by call, summed over the batches), their ratios, and whether they all
gave the same tokens.

Results, on the development machine (2 cores of an AMD EPYC CPU, 24 GiB, no GPU, jax 0.10.2,
NMT_DATA_DIR=../shared/data/multi30k, 2026-12-06, the default run's checkpoint of step 3,500); topk_ablation.json:
blocked ÷ fused time is 0.952 at batch 1, 0.876 at batch 64 and 0.903 with 64 slots over the whole vocabulary, where
a top-k over each beam's 8,000 logits cost about half the output layer's product; fused ÷ plain 0.983, 1.006 and
0.992 there (three earlier runs of fused against plain alone gave 0.927-0.988 at batches 1 and 64). Over 256-token
shortlists blocked ÷ plain is 0.995 and fused ÷ plain 1.072: `auto` is blocked over the whole vocabulary and plain
over a shortlist. The tokens are the same in every setting.
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

    def queue(cfg, shortlister):
        return lambda _: [
            h[0] for h in queue_translate(model, params, ids, buckets, cfg, 64, shortlister, projected, source)[0]
        ]

    result = {
        "device": str(jax.devices()[0].device_kind),
        "model": f"{args.checkpoint}@{run.step}",
        "repeats": args.repeats,
        "batch1_sentences": len(one),
        "batch64_sentences": len(ids),
    }
    names = ("fused", "blocked", "plain")
    for setting, batches, search in (
        ("batch1", one, blocks),
        ("batch64", big, blocks),
        ("slots64", [None], lambda cfg: queue(cfg, None)),
        ("slots64_shortlist256", [None], lambda cfg: queue(cfg, lister)),
    ):
        fns = {name: search(BeamConfig(beam=5, topk=name)) for name in names}
        times = {name: sum(t) for name, t in alternate(fns, batches, args.repeats).items()}
        outputs = {name: [jax.device_get(fn(x)) for x in batches] for name, fn in fns.items()}
        result[setting] = {
            **{f"{name}_s": times[name] for name in names},
            "fused_over_plain": times["fused"] / times["plain"],
            "blocked_over_plain": times["blocked"] / times["plain"],
            "blocked_over_fused": times["blocked"] / times["fused"],
            "same_tokens": all(
                np.array_equal(a, b)
                for name in names[1:]
                for xs, ys in zip(outputs[names[0]], outputs[name])
                for a, b in zip(xs, ys)
            ),
        }
    write_result(args.out, "topk_ablation.json", result)


if __name__ == "__main__":
    cli.main_guard(main, "topk_ablation")
