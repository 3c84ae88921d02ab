"""`python -m nmt.compress --run RUN_DIR --out DIR [--prune-hidden N] [--factor NAMES (--rank R | --energy E)]
[--finetune-steps S] [--int8]`

A smaller model of a trained run, written as a run directory (without optimizer state) that nmt.translate,
nmt.evaluate and nmt.bench decode read like any other, made in this order: structured pruning keeps the N most
important units of every layer (by the magnitude of the weights that write and read them), so every matrix gets
smaller, not sparse; truncated SVD stores the named decoder matrices as two factors each; S steps of fine-tuning on
the run's training data; int8 storage of every decoder matrix left whole, the target embedding and the output layer.
"""

from __future__ import annotations

from nmt import cli


def parser() -> cli.Parser:
    parser = cli.Parser(prog="nmt.compress", description=__doc__.split("\n\n")[1])
    cli.add_run_copy_args(parser, "compress", "compressed")
    parser.add_argument(
        "--prune-hidden",
        type=int,
        default=0,
        metavar="N",
        help="units to keep in every layer; 0: all of them",
    )
    parser.add_argument(
        "--factor",
        default="",
        metavar="NAMES",
        help="comma-separated matrices to store as low-rank factors: tgt_embed (the tied output "
        "layer), w_out, w_pre, dec_w_emb, dec_l<l>_w, w_combine, or all",
    )
    parser.add_argument("--rank", type=int, default=0, metavar="R", help="their rank")
    parser.add_argument(
        "--energy",
        type=float,
        default=0.0,
        metavar="E",
        help="instead of --rank: each one's smallest rank keeping E (e.g. 0.9) of its squared singular "
        "values; a matrix that would not get smaller stays whole",
    )
    parser.add_argument(
        "--int8",
        action="store_true",
        help="int8 weights (a float scale per output channel) for every such matrix not factored",
    )
    parser.add_argument(
        "--finetune-steps",
        type=int,
        default=0,
        metavar="S",
        help="fine-tune the compressed model this many steps; 0: none",
    )
    parser.add_argument("--finetune-lr", type=float, default=5e-4, help="its Adam rate")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar while fine-tuning")
    return parser


def main(argv=None):
    args = parser().parse_args(argv)

    def go():
        from nmt.compress.compressed_run import Options, compress
        from nmt.config import ConfigError

        names = tuple(n.strip() for n in args.factor.split(",") if n.strip())
        if (args.rank or args.energy) and not names:
            raise ConfigError("--rank and --energy need --factor NAMES")
        opts = Options(
            args.prune_hidden, names, args.rank, args.energy, args.int8, args.finetune_steps, args.finetune_lr
        )
        info = compress(args.run, args.out, opts, args.which, progress=not args.no_progress)
        print(
            f"wrote {args.out}: {info['parameters']:,} parameters (from {info['parameters_before']:,}), the "
            f"{info['checkpoint']} checkpoint (step {info['step']}) of {args.run}"
        )

    cli.main_guard(go, "nmt.compress")


if __name__ == "__main__":
    main()
