"""`python -m nmt.distill --teacher RUN_DIR --run DIR [--beam 5] [section.field=value ...]`

Sequence-level knowledge distillation: the teacher translates the training set with beam search (once; kept in
DIR/distilled) and a student with the teacher's configuration, changed by the overrides (e.g. model.hidden=128
model.share_embeddings=true), trains on those translations and is chosen and scored on the real val and test
references. Run again, it resumes the student.
"""

from __future__ import annotations

from nmt import cli, cli_search


def parser() -> cli.Parser:
    p = cli.Parser(
        prog="nmt.distill",
        description=__doc__.split("\n\n")[1],
        epilog="Fields and defaults: python -m nmt.config --preset NAME",
    )
    p.add_argument(
        "--teacher", required=True, metavar="RUN_DIR", help="the teacher's run directory (written by nmt.train)"
    )
    cli.add_which_arg(p, "the teacher")
    cli.add_run_arg(p, "the student's run directory; an existing one resumes", "workdir", required=True)
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="section.field=value",
        help="the student's changes to the teacher's configuration, e.g. model.hidden=128",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    cli_search.add_search_args(p)
    return p


def main(argv=None):
    args = parser().parse_args(argv)

    def go():
        from nmt.compress.distill import distill
        from nmt.config import ConfigError

        if args.shortlist:
            raise ConfigError("--shortlist: the teacher translates with its whole vocabulary")
        return distill(
            args.teacher,
            args.run,
            args.overrides,
            cli_search.beam_config(args),
            args.which,
            cli_search.slots(args),
            progress=not args.no_progress,
        )

    return cli.main_guard(go, "nmt.distill")


if __name__ == "__main__":
    main()
