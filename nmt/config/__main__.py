"""`python -m nmt.config [--preset NAME] [--config FILE.yaml] [section.field=value ...]`: prints the resolved configuration (YAML that --config reads back)."""

from __future__ import annotations

from nmt import cli
from nmt.config import to_yaml


def parser() -> cli.Parser:
    p = cli.Parser(prog="nmt.config", description=__doc__.split(": ")[1])
    cli.add_config_args(p)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    print(cli.main_guard(lambda: to_yaml(cli.config_from_args(args)), "nmt.config"), end="")


if __name__ == "__main__":
    main()
