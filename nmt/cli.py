"""What the commands share: the configuration and run-directory options (declared once here; the search options are
in nmt/cli_search.py), logging to stderr, and user mistakes as one line on stderr with exit code 2, never a
traceback."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from nmt.config import DEFAULT_PRESET, PRESETS, ConfigError, get_config
from nmt.data import DataError


def fail(message: str):
    """Ends the command with one line on stderr and exit status 2, as argparse does for bad options."""
    print(message, file=sys.stderr)
    sys.exit(2)


class Parser(argparse.ArgumentParser):
    """Every command's parser: a mistake is one line (`fail`), and `--version` says which nmt it is."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)
        self.add_argument("--version", action="version", version=f"nmt {version()}")

    def error(self, message):
        fail(f"{self.prog}: error: {message} (see --help)")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help, unless the help says it or there is none to say (None, False, a list)."""

    def _get_help_string(self, action):
        if action.default in (None, False) or isinstance(action.default, list) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nmt")
    except PackageNotFoundError:
        return "(not installed)"


WHICH = ("best", "latest")
OLD_NAME = "; --{old}: its old name, accepted for one release"


def add_run_arg(parser: argparse.ArgumentParser, help: str, old: str, several: bool = False, **kwargs) -> None:
    """--run, the one name of a run directory in every command (the command's old name for it still accepted)."""
    parser.add_argument(
        "--run",
        f"--{old}",
        dest="run",
        metavar="RUN_DIR",
        action="append" if several else None,
        help=help + OLD_NAME.format(old=old),
        **kwargs,
    )


def add_which_arg(parser: argparse.ArgumentParser, whose: str = "the run") -> None:
    parser.add_argument(
        "--which",
        default="best",
        choices=WHICH,
        help=f"which checkpoint of {whose} to read (best falls back to latest while there is none)",
    )


def add_config_args(parser: argparse.ArgumentParser, preset: str = DEFAULT_PRESET) -> None:
    parser.add_argument("--preset", default=preset, choices=list(PRESETS), help="named configuration to start from")
    parser.add_argument(
        "--config",
        metavar="FILE.yaml",
        help="a configuration file (YAML, or a run's config.json), whole or in part, applied over the preset; "
        "the overrides apply over it",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="section.field=value",
        help="config overrides, e.g. model.hidden=256 train.steps=500 data.dir=/path/to/multi30k",
    )


def config_from_args(args):
    """The configuration the options ask for (preset, then --config, then overrides), its memory policy checked."""
    from nmt.model import policies

    config = get_config(args.preset, args.overrides, args.config)
    policies.check(config.model.remat)
    return config


def add_run_copy_args(parser: argparse.ArgumentParser, verb: str, made: str) -> None:
    """--run, --out and --which of a command that writes a new run directory from one checkpoint of a run
    (`verb` it, the `made` run directory)."""
    add_run_arg(parser, f"the run directory to {verb} (written by nmt.train)", "checkpoint", required=True)
    parser.add_argument("--out", required=True, help=f"the {made} run directory to write (must not exist)")
    add_which_arg(parser)


def add_run_args(parser: argparse.ArgumentParser, ensembles: bool = True) -> None:
    """--run (given several times with `ensembles`: an ensemble), --which and how an ensemble combines its models."""
    add_run_arg(
        parser,
        "a run directory written by nmt.train, nmt.release or nmt.compress"
        + ("; given several times, the runs are decoded as one ensemble (one vocabulary)" if ensembles else ""),
        "checkpoint",
        several=True,
        required=True,
    )
    add_which_arg(parser, "each run")
    if ensembles:
        parser.add_argument(
            "--ensemble-mean",
            choices=("log", "prob"),
            default="log",
            help="what an ensemble averages at every step: its models' log-probabilities (log; Marian, "
            "OpenNMT-py) or their probabilities (prob; fairseq)",
        )


def one_run(args) -> str:
    """The one --run of a command that reads one run."""
    if len(args.run) > 1:
        raise ConfigError(f"--run is given {len(args.run)} times; this command reads one run")
    return args.run[0]


def setup_logging() -> None:
    """The package's log lines (nmt.*) as plain lines on stderr, where a command's results on stdout stay apart."""
    logger = logging.getLogger("nmt")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def enable_compilation_cache() -> None:
    """JAX's persistent compilation cache in the user's cache folder (`~/.cache/nmt/jax`), so that a command run
    again loads its programs instead of compiling them. JAX_COMPILATION_CACHE_DIR chooses another folder;
    NMT_COMPILATION_CACHE=0 turns it off."""
    import jax

    from nmt.data.multi30k import cache_dir

    if os.environ.get("NMT_COMPILATION_CACHE", "1") == "0":
        return
    if not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", os.path.join(cache_dir(), "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def main_guard(fn, prog: str, compilation_cache: bool = True):
    """Runs `fn()` with logging and (unless a benchmark times compiling) the compilation cache set up;
    configuration, data and run-directory mistakes, and a run that cannot go on, end with one line."""
    from nmt.checkpoints import CheckpointError
    from nmt.run.errors import RunError
    from nmt.training.errors import TrainingError

    setup_logging()
    if compilation_cache:
        enable_compilation_cache()
    try:
        return fn()
    except (ConfigError, DataError, CheckpointError, RunError, TrainingError) as e:
        fail(f"{prog}: error: {e}")
