"""`python -m nmt`: the commands, each with what it does (`python -m nmt.<command> --help` for its options)."""

from __future__ import annotations

import importlib
import sys

from nmt import cli

COMMANDS = ("train", "translate", "evaluate", "score", "release", "compress", "distill", "config", "bench", "memory")


def _summary(command: str) -> str:
    """The first sentence after the usage line of the command's docstring."""
    package = command in ("compress", "config")  # commands that are packages: their __main__ module
    module = importlib.import_module(f"nmt.{command}.__main__" if package else f"nmt.{command}")
    paragraphs = (module.__doc__ or "").strip().split("\n\n")
    text = " ".join((paragraphs[1] if len(paragraphs) > 1 else paragraphs[0].split("`: ")[-1]).split())
    return text.split(". ")[0].split(": ")[0].rstrip(".")


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    here = cli.version()
    if argv in (["--version"], ["-V"]):
        print(f"nmt {here}")
        return
    print(
        f"nmt {here}: attention LSTM translation in JAX/Flax\n\nusage: python -m nmt.<command> [options]  (or nmt-<command>)\n"
    )
    for command in COMMANDS:
        print(f"  {command:<10} {_summary(command)}")
    print("\n`python -m nmt.<command> --help` lists a command's options.")


if __name__ == "__main__":
    main()
