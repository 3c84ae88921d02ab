"""`python -m nmt.memory [--preset NAME] [--rows R --length T] [section.field=value ...]`

The compiled train step's memory under a configuration and policy, and what its backward pass keeps (compile only,
no run needed). Prints a table, then a JSON object as the last line.
"""

from __future__ import annotations

import json

from nmt import cli


def parser() -> cli.Parser:
    p = cli.Parser(prog="nmt.memory", description=__doc__.split("\n\n")[1])
    cli.add_config_args(p)
    p.add_argument("--rows", type=int, default=64, help="sentences per batch")
    p.add_argument("--length", type=int, default=50, help="padded source and target length")
    p.add_argument("--vocab", type=int, default=0, help="vocabulary size; 0: data.vocab_size")
    return p


def main(argv=None):
    args = parser().parse_args(argv)

    def go():
        from nmt.tools.memory_report import memory_report, report_lines

        config = cli.config_from_args(args)
        rep = memory_report(config, args.vocab or config.data.vocab_size, args.rows, args.length)
        print(
            f"preset {args.preset}, remat {rep['remat']}, attention {rep['attention_impl']}, "
            f"batch [{args.rows}, {args.length}]"
        )
        print("\n".join(report_lines(rep)))
        print(json.dumps(rep))

    cli.main_guard(go, "nmt.memory")


if __name__ == "__main__":
    main()
