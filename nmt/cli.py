"""Command-line plumbing shared by the entry points: user mistakes become one line on stderr, exit code 2."""
from __future__ import annotations

import argparse
import sys

from nmt.config import DEFAULT_PRESET, PRESETS, ConfigError, get_config
from nmt.data import DataError


class Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.exit(f"{self.prog}: error: {message} (see --help)")


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS),
                        help=f"named configuration to start from (default: {DEFAULT_PRESET})")
    parser.add_argument("overrides", nargs="*", metavar="section.field=value",
                        help="config overrides, e.g. model.hidden=256 train.steps=500 data.dir=/path/to/multi30k")


def config_from_args(args):
    return get_config(args.preset, args.overrides)


def main_guard(fn, prog: str):
    """Runs `fn()`; configuration and data mistakes end with one line, not a traceback."""
    try:
        return fn()
    except (ConfigError, DataError) as e:
        sys.exit(f"{prog}: error: {e}")
