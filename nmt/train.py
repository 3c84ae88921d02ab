"""`python -m nmt.train [--preset NAME] [--config FILE.yaml] [--run DIR] [section.field=value ...]`

Trains (or resumes, when DIR holds a checkpoint) and ends by printing val and test BLEU of the best checkpoint.
"""

from __future__ import annotations

import sys

from nmt import cli, supervisor


def parser() -> cli.Parser:
    p = cli.Parser(
        prog="nmt.train",
        description=__doc__.split("\n\n")[1],
        epilog="Fields and defaults: python -m nmt.config --preset NAME",
    )
    cli.add_config_args(p)
    cli.add_run_arg(p, "the run directory (default: runs/<preset>); an existing run resumes", "workdir")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if supervisor.wanted():  # one of several processes: losing another must end this one in one line
        sys.exit(supervisor.supervise("nmt.train", sys.argv[1:] if argv is None else list(argv), "nmt.train"))

    def go():
        from nmt.training import trainer

        return trainer.run(cli.config_from_args(args), args.run or f"runs/{args.preset}", progress=not args.no_progress)

    return cli.main_guard(go, "nmt.train")


if __name__ == "__main__":
    main()
