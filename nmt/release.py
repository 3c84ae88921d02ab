"""`python -m nmt.release --run RUN_DIR --out DIR [--which best|latest] [--average N]`

A run's parameters without the optimizer state (a third of the size with Adam), as OpenNMT-py's release_model
gives: DIR is a run directory that nmt.translate, nmt.evaluate and nmt.bench decode read like any other (with the
run's shortlist lexicon, when it has one).
"""

from __future__ import annotations

from nmt import cli


def parser() -> cli.Parser:
    p = cli.Parser(prog="nmt.release", description=__doc__.split("\n\n")[1])
    cli.add_run_copy_args(p, "release", "released")
    p.add_argument(
        "--average",
        type=int,
        default=0,
        metavar="N",
        help="release the mean of the parameters of the run's last N evaluations (trained with "
        "train.keep_evaluated >= N), as fairseq's average_checkpoints.py; 0: none",
    )
    return p


def main(argv=None):
    args = parser().parse_args(argv)

    def go():
        from nmt.config import ConfigError
        from nmt.run.release import release

        if args.average < 0:
            raise ConfigError(f"--average must be >= 0, got {args.average}")
        info = release(args.run, args.out, args.which, args.average)
        print(f"released the {info['checkpoint']} checkpoint (step {info['step']}) of {args.run} to {args.out}")

    cli.main_guard(go, "nmt.release")


if __name__ == "__main__":
    main()
