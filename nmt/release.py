"""`python -m nmt.release --checkpoint RUN_DIR --out DIR [--which best|latest] [--average N]`

A run's parameters without the optimizer state (a third of the size with Adam), as OpenNMT-py's release_model
gives: DIR is a run directory that nmt.translate, nmt.evaluate and nmt.bench decode read like any other (with the
run's shortlist lexicon, when it has one).
"""

from __future__ import annotations

from nmt import cli


def main(argv=None):
    parser = cli.Parser(prog="nmt.release", description=__doc__.split("\n\n")[1])
    cli.add_run_copy_args(parser, "release", "released")
    parser.add_argument(
        "--average",
        type=int,
        default=0,
        metavar="N",
        help="release the mean of the parameters of the run's last N evaluations (trained with "
        "train.keep_evaluated >= N), as fairseq's average_checkpoints.py (default: 0, none)",
    )
    args = parser.parse_args(argv)

    def go():
        from nmt.config import ConfigError
        from nmt.run.release import release

        if args.average < 0:
            raise ConfigError(f"--average must be >= 0, got {args.average}")
        info = release(args.checkpoint, args.out, args.which, args.average)
        print(f"released the {info['checkpoint']} checkpoint (step {info['step']}) of {args.checkpoint} to {args.out}")

    cli.main_guard(go, "nmt.release")


if __name__ == "__main__":
    main()
