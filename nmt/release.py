"""`python -m nmt.release --checkpoint RUN_DIR --out DIR [--which best|latest]`

A run's parameters without the optimizer state (a third of the size with Adam), as OpenNMT-py's release_model
gives: DIR is a run directory that nmt.translate, nmt.evaluate and nmt.bench decode read like any other (with the
run's shortlist lexicon, when it has one).
"""
from __future__ import annotations

from nmt import cli


def main(argv=None):
    parser = cli.Parser(prog="nmt.release", description=__doc__.split("\n\n")[1])
    parser.add_argument("--checkpoint", required=True, help="a run directory written by nmt.train")
    parser.add_argument("--out", required=True, help="the released run directory to write (must not exist)")
    parser.add_argument("--which", default="best", choices=("best", "latest"),
                        help="which checkpoint to release (default: %(default)s; best falls back to latest)")
    args = parser.parse_args(argv)

    def go():
        from nmt.run.release import release
        info = release(args.checkpoint, args.out, args.which)
        print(f"released the {info['checkpoint']} checkpoint (step {info['step']}) of {args.checkpoint} "
              f"to {args.out}")

    cli.main_guard(go, "nmt.release")


if __name__ == "__main__":
    main()
