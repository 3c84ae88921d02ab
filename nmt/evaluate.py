"""`python -m nmt.evaluate --checkpoint RUN_DIR [--split test_2016_flickr] [--beam 5 --alpha 0.6]`

BLEU (cased and lowercased) and chrF through sacrebleu, for greedy decoding and for beam search, with sacrebleu's
signatures. Prints a table, then a JSON object as the last line.
"""
from __future__ import annotations

import json
import time

from nmt import cli
from nmt.translate import add_search_args, beam_config, shortlister, slots_arg


def evaluate_split(run, split: str, cfgs: dict, log=print, shortlister=None, slots: int | None = None) -> dict:
    """Scores each named search configuration on `split` of the run's corpus (shortlister, slots: as for
    `translate_examples`)."""
    import sacrebleu

    from nmt.bleu import bleu
    from nmt.data import corpus, pipeline
    from nmt.translate import translate_lines
    text = corpus.read_parallel(*pipeline.split_paths(run.config.data, split),
                                invalid_utf8=run.config.data.invalid_utf8)
    log(text.summary(split))
    out = {"split": split, "sentences": len(text.src), "step": run.step, "checkpoint": run.which}
    if shortlister is not None:
        out["shortlist_recall"] = shortlist_recall(shortlister, run.sp, text.src, text.tgt, run.config.data.max_len - 1)
    for name, cfg in cfgs.items():
        t = time.perf_counter()
        hyps = [h[0][1] for h in translate_lines(run, text.src, cfg, 1, log, shortlister, slots)]
        seconds = time.perf_counter() - t
        chrf = sacrebleu.CHRF()
        scores = bleu(hyps, text.tgt)
        out[name] = {**scores, "chrf": chrf.corpus_score(hyps, [text.tgt]).score,
                     "chrf_signature": str(chrf.get_signature()), "seconds": seconds,
                     "mean_len": sum(len(h.split()) for h in hyps) / max(len(hyps), 1)}
    return out


def shortlist_recall(lister, sp, src_text: list[str], ref_text: list[str], limit: int) -> float:
    """The share of reference tokens that their sentence's shortlist holds: an upper bound on what it lets through."""
    import numpy as np
    hit = total = 0
    for src, ref in zip(sp.encode(src_text), sp.encode(ref_text)):
        listed = set(lister.sentence(np.asarray(src[:limit], np.int32)).tolist())
        hit += sum(t in listed for t in ref)
        total += len(ref)
    return hit / max(total, 1)


def main(argv=None):
    parser = cli.Parser(prog="nmt.evaluate", description=__doc__.split("\n\n")[1])
    parser.add_argument("--checkpoint", required=True, help="a run directory written by nmt.train")
    parser.add_argument("--split", default="test_2016_flickr", help="file prefix of the split (default: %(default)s)")
    add_search_args(parser)
    args = parser.parse_args(argv)

    def go():
        from nmt.decode import BeamConfig
        from nmt.inference import load_run
        beam = beam_config(args)
        n_slots = slots_arg(args)
        run = load_run(args.checkpoint)
        greedy = BeamConfig(beam=1, max_len_a=beam.max_len_a, max_len_b=beam.max_len_b)
        res = evaluate_split(run, args.split, {"greedy": greedy, f"beam{beam.beam}": beam},
                             shortlister=shortlister(args, run, print), slots=n_slots)
        print(f"\n{args.split}: {res['sentences']} sentences, {run.which} checkpoint at step {run.step}")
        if "shortlist_recall" in res:
            print(f"  shortlist of {args.shortlist} holds {100 * res['shortlist_recall']:.1f}% of the reference tokens")
        for name in ("greedy", f"beam{beam.beam}"):
            r = res[name]
            print(f"  {name:<8} BLEU {r['bleu']:6.2f}  BLEU(lc) {r['bleu_lc']:6.2f}  chrF {r['chrf']:6.2f}  "
                  f"{r['seconds']:.1f} s")
        print(f"  {res['greedy']['signature']}\n  {res['greedy']['signature_lc']}\n  {res['greedy']['chrf_signature']}")
        res["beam"] = {"beam": beam.beam, "alpha": beam.alpha, "beta": beam.beta}
        res["shortlist"] = {"size": args.shortlist, "frequent": args.shortlist_frequent,
                            "per_source": args.shortlist_per_source} if args.shortlist else None
        res["slots"] = n_slots
        print(json.dumps(res))

    cli.main_guard(go, "nmt.evaluate")


if __name__ == "__main__":
    main()
