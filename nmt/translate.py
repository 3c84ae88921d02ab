"""`python -m nmt.translate --run RUN_DIR [--run RUN_DIR2 ...] [--input F] [--output F] [--beam 5] [--nbest N]`

One output line per input line, in input order (an empty line gives an empty line). With --nbest N, N lines per
input: `index<TAB>score<TAB>text`, or with --nbest-format moses `index ||| text ||| F0= score ||| score` (what
Moses' and Marian's tools read). Invalid UTF-8 is replaced and reported; over-long lines are truncated to the
model's limit with a warning. Batch size: --slots B sentences at once (continuous batching, the default), or with
--slots 0 fixed batches of about --batch-tokens source tokens.
"""

from __future__ import annotations

import sys

from nmt import cli, cli_search


def parser() -> cli.Parser:
    p = cli.Parser(prog="nmt.translate", description=__doc__.split("\n\n")[1])
    cli.add_run_args(p)
    p.add_argument("--input", help="input file (default: stdin)")
    p.add_argument("--output", help="output file (default: stdout)")
    p.add_argument("--nbest", type=int, default=1, help="hypotheses per input line (at most --beam)")
    p.add_argument("--nbest-format", choices=("tab", "moses"), default="tab", help="how n-best lines are written")
    cli_search.add_search_args(p)
    cli_search.add_unroll_arg(p)
    cli_search.add_batch_tokens_arg(p)
    return p


def format_nbest(results, moses: bool, first: int = 0) -> str:
    """The n-best lines of translations numbered from `first`."""
    if moses:
        line = "{i} ||| {h.text} ||| F0= {h.score:.4f} ||| {h.score:.4f}\n"
    else:
        line = "{i}\t{h.score:.4f}\t{h.text}\n"
    return "".join(line.format(i=i, h=h) for i, t in enumerate(results, first) for h in t.hypotheses)


def main(argv=None):
    args = parser().parse_args(argv)

    def go():
        from nmt.data import DataError
        from nmt.run.streaming import translate_stream
        from nmt.run.translation import read_input
        from nmt.utils import write_atomic

        cfg, n_slots = cli_search.nbest_search(args)
        try:
            source = open(args.input, "rb") if args.input else sys.stdin.buffer
        except OSError as e:
            raise DataError(f"{args.input}: {e.strerror}") from None
        _, translator = cli_search.load_translator(args, cfg, n_slots, args.batch_tokens)
        nbest = args.nbest > 1 or args.nbest_format == "moses"
        if args.output:  # written whole, under a temporary name until then
            results = translator.translate(read_input(source, args.input or "stdin"))
            text = (
                format_nbest(results, args.nbest_format == "moses")
                if nbest
                else "".join(t.text + "\n" for t in results)
            )
            write_atomic(args.output, text)
            return

        def emit(index, translation):  # each line as soon as it and every line before it are done
            out = format_nbest([translation], args.nbest_format == "moses", index) if nbest else translation.text + "\n"
            sys.stdout.write(out)
            sys.stdout.flush()

        translate_stream(translator, source, args.input or "stdin", emit)

    cli.main_guard(go, "nmt.translate")


if __name__ == "__main__":
    main()
