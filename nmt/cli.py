"""What the commands share: the configuration and search options (declared once here), logging to stderr, and user
mistakes as one line on stderr with exit code 2, never a traceback."""

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
    def error(self, message):
        fail(f"{self.prog}: error: {message} (see --help)")


def add_config_args(parser: argparse.ArgumentParser, preset: str = DEFAULT_PRESET) -> None:
    parser.add_argument(
        "--preset", default=preset, choices=list(PRESETS), help=f"named configuration to start from (default: {preset})"
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="section.field=value",
        help="config overrides, e.g. model.hidden=256 train.steps=500 data.dir=/path/to/multi30k",
    )


def config_from_args(args):
    """The configuration the options ask for, its memory policy checked too."""
    from nmt.model import policies

    config = get_config(args.preset, args.overrides)
    policies.check(config.model.remat)
    return config


def add_run_copy_args(parser: argparse.ArgumentParser, verb: str, made: str) -> None:
    """--checkpoint, --out and --which of a command that writes a new run directory from one checkpoint of a run
    (`verb` it, the `made` run directory)."""
    parser.add_argument("--checkpoint", required=True, help="a run directory written by nmt.train")
    parser.add_argument("--out", required=True, help=f"the {made} run directory to write (must not exist)")
    parser.add_argument(
        "--which",
        default="best",
        choices=("best", "latest"),
        help=f"which checkpoint to {verb} (default: %(default)s; best falls back to latest)",
    )


def add_checkpoints_args(parser: argparse.ArgumentParser) -> None:
    """--checkpoint, given once or several times (an ensemble), and how an ensemble combines its models."""
    parser.add_argument(
        "--checkpoint",
        required=True,
        action="append",
        help="a run directory written by nmt.train; given several times, the runs are decoded as one "
        "ensemble (one vocabulary)",
    )
    parser.add_argument(
        "--ensemble-mean",
        choices=("log", "prob"),
        default="log",
        help="what an ensemble averages at every step: its models' log-probabilities (log; Marian, "
        "OpenNMT-py) or their probabilities (prob; fairseq) (default: %(default)s)",
    )


def add_search_args(parser: argparse.ArgumentParser, slots: int = 0) -> None:
    parser.add_argument("--beam", type=int, default=5, help="beam size; 1 = greedy (default: 5)")
    parser.add_argument("--alpha", type=float, default=0.6, help="length penalty exponent (default: 0.6)")
    parser.add_argument("--beta", type=float, default=0.0, help="coverage penalty weight (default: 0)")
    parser.add_argument(
        "--length-penalty", choices=("gnmt", "plain"), default="gnmt", help="gnmt: ((5+len)/6)^alpha; plain: len^alpha"
    )
    parser.add_argument("--max-len-a", type=float, default=1.5, help="max output length a*src_len+b: a")
    parser.add_argument("--max-len-b", type=int, default=10, help="max output length a*src_len+b: b")
    add_speed_args(parser, slots)


def add_speed_args(parser: argparse.ArgumentParser, slots: int = 0) -> None:
    """The speed options; `slots`: the command's default for --slots (with one model's beam search)."""
    parser.add_argument(
        "--topk",
        choices=("auto", "fused", "plain"),
        default="auto",
        help="beam search's candidate selection, the same translations either way: fused ranks each "
        "beam's 2K best logits before normalising them (no [batch, beam, vocab] "
        "log-probabilities), plain normalises every logit first; auto: fused over the whole "
        "vocabulary, plain over a shortlist (default)",
    )
    parser.add_argument(
        "--shortlist",
        type=int,
        default=0,
        metavar="N",
        help="score only N target tokens per sentence, chosen from its source words by an IBM Model 1 "
        "lexicon (trained on the run's corpus on first use); 0 = whole vocabulary (default)",
    )
    parser.add_argument(
        "--shortlist-frequent",
        type=int,
        default=100,
        metavar="F",
        help="the F most frequent target tokens are always in the shortlist (default: %(default)s)",
    )
    parser.add_argument(
        "--shortlist-per-source",
        type=int,
        default=50,
        metavar="M",
        help="the M most probable translations of each source token (default: %(default)s)",
    )
    parser.add_argument(
        "--slots",
        type=int,
        default=None,
        metavar="B",
        help="beam search with continuous batching: B sentences at once, each slot taking the next "
        "sentence as soon as its own is done (same translations); 0 = fixed batches (default: "
        f"{slots}{' for one model, fixed batches for an ensemble' if slots else ''})",
    )
    parser.set_defaults(slots_default=slots)


def beam_config(args):
    """The `BeamConfig` of the search options."""
    from nmt.decode import BeamConfig
    from nmt.decode.beam import beam_problems

    fields = dict(
        beam=args.beam,
        alpha=args.alpha,
        beta=args.beta,
        length_penalty=args.length_penalty,
        max_len_a=args.max_len_a,
        max_len_b=args.max_len_b,
        topk=args.topk,
        ensemble_mean=getattr(args, "ensemble_mean", "log"),
    )
    problems = beam_problems(argparse.Namespace(nbest=1, **fields))
    if problems:
        raise ConfigError("; ".join(f"--{name.replace('_', '-')} {text}" for name, text in problems))
    return BeamConfig(**fields)


def slots(args) -> int | None:
    """The --slots to search with, None for fixed batches (an ensemble's unless --slots is given, then refused)."""
    if args.slots is not None and args.slots < 0:
        raise ConfigError(f"--slots must be >= 0, got {args.slots}")
    checkpoints = getattr(args, "checkpoint", None)
    if args.slots is None and isinstance(checkpoints, list) and len(checkpoints) > 1:
        return None
    return (args.slots if args.slots is not None else args.slots_default) or None


def shortlister(args, lexicon):
    """The `Shortlister` the --shortlist options ask for, or None; `lexicon()` gives its lexicon when one is."""
    if not args.shortlist:
        return None
    from nmt.decode.shortlist import Shortlister

    made = lexicon()
    try:
        return Shortlister(made, args.shortlist, args.shortlist_frequent, args.shortlist_per_source)
    except ValueError as e:
        raise ConfigError(f"--shortlist: {e}") from None


def check_ensemble(args) -> None:
    """Several --checkpoint options make an ensemble, which takes neither --shortlist nor --slots."""
    if len(args.checkpoint) > 1 and (args.shortlist or (args.slots or 0) > 0):
        raise ConfigError("an ensemble (several --checkpoint) takes neither --shortlist nor --slots")


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
