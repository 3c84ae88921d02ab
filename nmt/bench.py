"""`python -m nmt.bench train [--preset reference] [--steps N] [section.field=value ...]`

Benchmarks print a human-readable table, then one JSON object as the last line.
"""
from __future__ import annotations

import json

from nmt import cli


def print_report(title: str, result: dict) -> None:
    print(f"\n{title}")
    for k, v in result.items():
        print(f"  {k:<22} {v:,.4g}" if isinstance(v, (int, float)) else f"  {k:<22} {v}")
    print(json.dumps(result))


def main(argv=None):
    parser = cli.Parser(prog="nmt.bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    train = sub.add_parser("train", help="training step throughput and MFU")
    cli.add_config_args(train)
    train.set_defaults(preset="reference")
    train.add_argument("--steps", type=int, default=20, help="timed steps (after warm-up)")
    train.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)

    def go():
        config = cli.config_from_args(args)
        if args.what == "train":
            from nmt.bench_train import bench_train
            print_report(f"train step, preset {args.preset}", bench_train(config, args.steps, args.warmup))

    cli.main_guard(go, "nmt.bench")


if __name__ == "__main__":
    main()
