"""`python -m nmt.evaluate --checkpoint RUN_DIR [--checkpoint RUN_DIR2 ...] [--split test_2016_flickr] [--beam 5]`

BLEU (cased and lowercased) and chrF through sacrebleu, for greedy decoding and for beam search, with sacrebleu's
signatures. Prints a table, then a JSON object as the last line.
"""

from __future__ import annotations

import json

from nmt import cli

# beam search with continuous batching unless asked otherwise: the same translations, 1.3x faster from launch to
# exit on test_2016_flickr (experiments/startup.py)
DEFAULT_SLOTS = 64


def main(argv=None):
    parser = cli.Parser(prog="nmt.evaluate", description=__doc__.split("\n\n")[1])
    cli.add_checkpoints_args(parser)
    parser.add_argument("--split", default="test_2016_flickr", help="file prefix of the split (default: %(default)s)")
    cli.add_search_args(parser, slots=DEFAULT_SLOTS)
    args = parser.parse_args(argv)

    def go():
        from nmt.decode import BeamConfig
        from nmt.run import load_runs
        from nmt.run.lexicon import lexicon_for_run
        from nmt.run.translation import evaluate_split

        beam, n_slots = cli.beam_config(args), cli.slots(args)
        cli.check_ensemble(args)
        runs = load_runs(args.checkpoint)
        run = runs[0]
        greedy = BeamConfig(
            beam=1, max_len_a=beam.max_len_a, max_len_b=beam.max_len_b, ensemble_mean=beam.ensemble_mean
        )
        names = ("greedy", f"beam{beam.beam}")
        res = evaluate_split(
            runs,
            args.split,
            dict(zip(names, (greedy, beam))),
            cli.shortlister(args, lambda: lexicon_for_run(run)),
            n_slots,
        )
        what = f"{run.which} checkpoint at step {run.step}" if len(runs) == 1 else f"ensemble of {len(runs)} runs"
        print(f"\n{args.split}: {res['sentences']} sentences, {what}")
        if "shortlist_recall" in res:
            print(f"  shortlist of {args.shortlist} holds {100 * res['shortlist_recall']:.1f}% of the reference tokens")
        for name in names:
            r = res[name]
            print(
                f"  {name:<8} BLEU {r['bleu']:6.2f}  BLEU(lc) {r['bleu_lc']:6.2f}  chrF {r['chrf']:6.2f}  "
                f"{r['seconds']:.1f} s"
            )
        print(f"  {res['greedy']['signature']}\n  {res['greedy']['signature_lc']}\n  {res['greedy']['chrf_signature']}")
        res["beam"] = {"beam": beam.beam, "alpha": beam.alpha, "beta": beam.beta}
        if len(runs) > 1:
            res["ensemble_mean"] = beam.ensemble_mean
        res["shortlist"] = (
            {"size": args.shortlist, "frequent": args.shortlist_frequent, "per_source": args.shortlist_per_source}
            if args.shortlist
            else None
        )
        res["slots"] = n_slots
        print(json.dumps(res))

    cli.main_guard(go, "nmt.evaluate")


if __name__ == "__main__":
    main()
