"""`python -m nmt.translate --checkpoint RUN_DIR [--checkpoint RUN_DIR2 ...] [--input F] [--output F] [--beam 5]`

One output line per input line, in input order (an empty line gives an empty line). With --nbest N, N lines per
input: `index<TAB>score<TAB>text`. Invalid UTF-8 is replaced and reported; over-long lines are truncated to the
model's limit with a warning.
"""

from __future__ import annotations

import sys

from nmt import cli

# beam search with continuous batching unless asked otherwise: the same translations, 1.3x faster from launch to
# exit on test_2016_flickr (experiments/startup.py)
DEFAULT_SLOTS = 64


def main(argv=None):
    parser = cli.Parser(prog="nmt.translate", description=__doc__.split("\n\n")[1])
    cli.add_checkpoints_args(parser)
    parser.add_argument("--input", help="input file (default: stdin)")
    parser.add_argument("--output", help="output file (default: stdout)")
    parser.add_argument("--nbest", type=int, default=1, help="hypotheses per input line (<= beam)")
    cli.add_search_args(parser, slots=DEFAULT_SLOTS)
    args = parser.parse_args(argv)

    def go():
        from nmt.config import ConfigError
        from nmt.data import DataError
        from nmt.run import load_runs
        from nmt.run.lexicon import lexicon_for_run
        from nmt.run.translation import read_input, translator_for
        from nmt.utils import write_atomic

        cfg, n_slots = cli.beam_config(args), cli.slots(args)
        if not 1 <= args.nbest <= cfg.beam:
            raise ConfigError(f"--nbest must be between 1 and --beam ({cfg.beam}), got {args.nbest}")
        cli.check_ensemble(args)
        if args.input:
            try:
                with open(args.input, "rb") as f:
                    lines = read_input(f, args.input)
            except OSError as e:
                raise DataError(f"{args.input}: {e.strerror}") from None
        else:
            lines = read_input(sys.stdin.buffer, "stdin")
        runs = load_runs(args.checkpoint)
        run = runs[0]
        translator = translator_for(runs, cfg, args.nbest, cli.shortlister(args, lambda: lexicon_for_run(run)), n_slots)
        results = translator.translate(lines)
        if args.nbest > 1:
            text = "".join(f"{i}\t{h.score:.4f}\t{h.text}\n" for i, t in enumerate(results) for h in t.hypotheses)
        else:
            text = "".join(t.text + "\n" for t in results)
        if args.output:
            write_atomic(args.output, text)
        else:
            sys.stdout.write(text)

    cli.main_guard(go, "nmt.translate")


if __name__ == "__main__":
    main()
