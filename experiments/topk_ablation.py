"""Ablation: beam search's candidate selection, `--topk fused` against `--topk plain` (see `nmt.decode.beam.candidates`),
timed in one process with the two interleaved, so that the machine's drift falls on both.

    python experiments/topk_ablation.py --checkpoint runs/multi30k      # about 6 min on 2 CPU cores

Three settings, each over test_2016_flickr sentences with beam 5: batch 1 (one sentence at a time, whole vocabulary),
batch 64 (blocks of 64 sorted by length, whole vocabulary), and continuous batching over 64 slots with 256-token
shortlists (the fastest CPU setting). Writes topk_ablation.json (into --out, default experiments/results) and prints it
as the last line: per setting the seconds of each variant (per batch the median over the repeats, the two taking turns
call by call, summed over the batches), fused ÷ plain, and whether the two gave the same tokens.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a run directory (its lexicon.npz, or its corpus to train one)")
    p.add_argument("--sentences", type=int, default=512, help="sentences of the batch-64 settings")
    p.add_argument("--batch1-sentences", type=int, default=30)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = p.parse_args(argv)

    from nmt.bench import write_result
    from nmt.bench_decode import _batches, _time
    from nmt.data import load_data
    from nmt.decode import BeamConfig, beam_decode, embedding_projection
    from nmt.decode.search import max_output_len, queue_translate, source_projection
    from nmt.decode.shortlist import Shortlister, lexicon_for_run
    from nmt.inference import load_run

    run = load_run(args.checkpoint)
    model, params, buckets = run.model, run.params, run.config.data.buckets
    data = load_data(run.config.data, vocab_path=os.path.join(args.checkpoint, "vocab.model"))
    ids = [x[:max(buckets) - 1] for x in run.sp.encode(data.test.src_text[:args.sentences])]
    one, big = _batches(ids[:args.batch1_sentences], buckets, 1), _batches(ids, buckets, 64)
    lister = Shortlister(lexicon_for_run(run), 256)
    projected, source = embedding_projection(model, params), source_projection(model, params)

    def blocks(cfg):
        return lambda b: beam_decode(model, params, b["src"], cfg, max_output_len(b["src"].shape[1], cfg),
                                     projected=projected)["tokens"]

    def queue(cfg):
        return lambda _: [h[0] for h in queue_translate(model, params, ids, buckets, cfg, 64, lister, projected,
                                                         source)[0]]

    result = {"device": str(jax.devices()[0].device_kind), "model": f"{args.checkpoint}@{run.step}",
              "repeats": args.repeats, "batch1_sentences": len(one), "batch64_sentences": len(ids)}
    for setting, batches, search in (("batch1", one, blocks), ("batch64", big, blocks),
                                     ("slots64_shortlist256", [None], queue)):
        fns = {name: search(BeamConfig(beam=5, topk=name)) for name in ("fused", "plain")}
        times = _time(fns, batches, args.repeats)
        fused, plain = sum(times["fused"]), sum(times["plain"])
        same = all(np.array_equal(a, b) for x in batches
                   for a, b in zip(*(jax.device_get(fn(x)) for fn in fns.values())))
        result[setting] = {"fused_s": fused, "plain_s": plain, "fused_over_plain": fused / plain, "same_tokens": same}
    write_result(args.out, "topk_ablation.json", result)


if __name__ == "__main__":
    main()
