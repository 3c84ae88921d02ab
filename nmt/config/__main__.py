"""`python -m nmt.config [--preset NAME] [section.field=value ...]`: prints the resolved configuration."""

from __future__ import annotations

from nmt import cli
from nmt.config import to_yaml


def main(argv=None):
    parser = cli.Parser(prog="nmt.config", description=__doc__.split(": ")[1])
    cli.add_config_args(parser)
    args = parser.parse_args(argv)
    print(cli.main_guard(lambda: to_yaml(cli.config_from_args(args)), "nmt.config"))


if __name__ == "__main__":
    main()
