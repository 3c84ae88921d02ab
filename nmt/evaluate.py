"""`python -m nmt.evaluate --run RUN_DIR [--run RUN_DIR2 ...] [--split test_2016_flickr | --src F --ref F] [--beam 5]`

BLEU (cased and lowercased) and chrF through sacrebleu, with sacrebleu's signatures, of the search the options ask
for (and with --greedy, of greedy search too), on a split of the run's corpus or on any source and reference files.
--output keeps the hypotheses. Prints a table, then a JSON object as the last line.
"""

from __future__ import annotations

import json

from nmt import cli, cli_search


def parser() -> cli.Parser:
    p = cli.Parser(prog="nmt.evaluate", description=__doc__.split("\n\n")[1])
    cli.add_run_args(p)
    p.add_argument("--split", default="test_2016_flickr", help="file prefix of a split of the run's corpus")
    p.add_argument("--src", help="a source file to translate instead of a split (with --ref)")
    p.add_argument("--ref", help="the references of --src, one a line")
    p.add_argument("--output", help="write the search's hypotheses here, one a line")
    p.add_argument("--greedy", action="store_true", help="also score greedy search")
    cli_search.add_search_args(p)
    cli_search.add_unroll_arg(p)
    cli_search.add_batch_tokens_arg(p)
    return p


def _report(res: dict, names: tuple, where: str, what: str, shortlist: int) -> None:
    print(f"\n{where}: {res['sentences']} sentences, {what}")
    if "shortlist_recall" in res:
        print(f"  shortlist of {shortlist} holds {100 * res['shortlist_recall']:.1f}% of the reference tokens")
    for name in names:
        r = res[name]
        print(
            f"  {name:<8} BLEU {r['bleu']:6.2f}  BLEU(lc) {r['bleu_lc']:6.2f}  chrF {r['chrf']:6.2f}  "
            f"{r['seconds']:.1f} s"
        )
    first = res[names[0]]
    print(f"  {first['signature']}\n  {first['signature_lc']}\n  {first['chrf_signature']}")


def main(argv=None):
    args = parser().parse_args(argv)

    def go():
        from nmt.config import ConfigError
        from nmt.decode import BeamConfig
        from nmt.run import load_runs
        from nmt.run.lexicon import lexicon_for_run
        from nmt.run.scoring import read_lines
        from nmt.run.translation import evaluate_split, evaluate_texts
        from nmt.utils import write_atomic

        beam, n_slots = cli_search.beam_config(args), cli_search.slots(args)
        cli_search.check_ensemble(args)
        if (args.src is None) != (args.ref is None):
            raise ConfigError("--src and --ref go together")
        runs = load_runs(args.run, args.which)
        cfgs = {f"beam{beam.beam}" if beam.beam > 1 else "greedy": beam}
        if args.greedy and beam.beam > 1:
            cfgs["greedy"] = BeamConfig(
                beam=1, max_len_a=beam.max_len_a, max_len_b=beam.max_len_b, ensemble_mean=beam.ensemble_mean
            )
        lister = cli_search.shortlister(args, lambda: lexicon_for_run(runs[0]))
        options = (cfgs, lister, n_slots, args.batch_tokens, cli_search.unroll(args))
        if args.src:
            sources, refs = read_lines(args.src), read_lines(args.ref)
            if len(sources) != len(refs):
                raise ConfigError(f"--ref {args.ref}: {len(refs)} lines, but --src {args.src} has {len(sources)}")
            res, hyps = evaluate_texts(runs, args.src, sources, refs, *options)
        else:
            res, hyps = evaluate_split(runs, args.split, *options)
        if args.output:
            write_atomic(args.output, "".join(h + "\n" for h in hyps[next(iter(cfgs))]))
        run = runs[0]
        what = f"{run.which} checkpoint at step {run.step}" if len(runs) == 1 else f"ensemble of {len(runs)} runs"
        _report(res, tuple(cfgs), res["split"], what, args.shortlist)
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
