"""`python -m nmt.compress --checkpoint RUN_DIR --out DIR --prune-hidden N [--finetune-steps S] [--which best|latest]`

A smaller model of a trained run, written as a run directory (without optimizer state) that nmt.translate,
nmt.evaluate and nmt.bench decode read like any other: structured pruning keeps the N most important units of every
layer (by the magnitude of the weights that write and read them), so every matrix gets smaller, not sparse; then,
optionally, S steps of fine-tuning on the run's training data.
"""
from __future__ import annotations

from nmt import cli


def main(argv=None):
    parser = cli.Parser(prog="nmt.compress", description=__doc__.split("\n\n")[1])
    cli.add_run_copy_args(parser, "compress", "compressed")
    parser.add_argument("--prune-hidden", type=int, default=0, metavar="N",
                        help="units to keep in every layer (default: 0, all of them)")
    parser.add_argument("--finetune-steps", type=int, default=0, metavar="S",
                        help="fine-tune the compressed model this many steps (default: 0, none)")
    parser.add_argument("--finetune-lr", type=float, default=5e-4, help="its Adam rate (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar while fine-tuning")
    args = parser.parse_args(argv)

    def go():
        from nmt.compress.compressed_run import compress
        info = compress(args.checkpoint, args.out, args.prune_hidden, args.finetune_steps, args.finetune_lr,
                        args.which, progress=not args.no_progress)
        print(f"wrote {args.out}: {info['parameters']:,} parameters (from {info['parameters_before']:,}), the "
              f"{info['checkpoint']} checkpoint (step {info['step']}) of {args.checkpoint}")

    cli.main_guard(go, "nmt.compress")


if __name__ == "__main__":
    main()
