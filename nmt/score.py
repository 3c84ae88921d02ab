"""`python -m nmt.score --run RUN_DIR --src FILE (--tgt FILE | --nbest FILE) [--normalize] [--per-token]`

Teacher-forced scores under a run's model, as `fairseq-generate --score-reference`, `marian-scorer` and
`onmt_translate -tgt` give them. With --tgt, one line a (source, target) pair: the target's log-probability (with
--normalize, divided by its length in tokens, the end of sentence included), then with --per-token each token's
log-probability. With --nbest, an n-best list (`index<TAB>score<TAB>text` or Moses' `index ||| text ||| features |||
score`, as nmt.translate writes them) is rescored: the same list, each score replaced by the model's score of that
hypothesis with the search's length and coverage penalties (what the search gives it).
"""

from __future__ import annotations

import sys

from nmt import cli, cli_search


def parser() -> cli.Parser:
    p = cli.Parser(prog="nmt.score", description=__doc__.split("\n\n")[1])
    cli.add_run_args(p, ensembles=False)
    p.add_argument("--src", required=True, help="source sentences, one a line")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--tgt", help="the target of each source line, one a line")
    what.add_argument("--nbest", help="an n-best list of hypotheses of the source lines to rescore")
    p.add_argument("--output", help="output file (default: stdout)")
    p.add_argument(
        "--normalize", action="store_true", help="with --tgt: the log-probability divided by the target's length"
    )
    p.add_argument("--per-token", action="store_true", help="with --tgt: also each token's log-probability")
    cli_search.add_penalty_args(p)
    cli_search.add_shortlist_args(p)
    cli_search.add_batch_tokens_arg(p)
    return p


def main(argv=None):
    args = parser().parse_args(argv)

    def go():
        from nmt.run import load_runs
        from nmt.run.lexicon import lexicon_for_run
        from nmt.run.scoring import read_lines, rescore_nbest, score_lines
        from nmt.run.translation import translator_for
        from nmt.utils import write_atomic

        (run,) = load_runs([cli.one_run(args)], args.which)
        lister = cli_search.shortlister(args, lambda: lexicon_for_run(run))
        translator = translator_for(
            run, cli_search.beam_config(args), shortlister=lister, batch_tokens=args.batch_tokens
        )
        sources = read_lines(args.src)
        if args.tgt:
            text = score_lines(translator, sources, read_lines(args.tgt), args.tgt, args.normalize, args.per_token)
        else:
            text = rescore_nbest(translator, sources, read_lines(args.nbest, strip=False), args.nbest)
        if args.output:
            write_atomic(args.output, text)
        else:
            sys.stdout.write(text)

    cli.main_guard(go, "nmt.score")


if __name__ == "__main__":
    main()
