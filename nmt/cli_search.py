"""The search options that translate, evaluate, score, distill and bench decode share, declared once here: beam,
penalties, length limits, candidate selection, shortlists, slots and batch size, and the `BeamConfig` they make."""

from __future__ import annotations

import argparse
import dataclasses

from nmt.config import ConfigError

# beam search with continuous batching unless asked otherwise: the same translations, 1.3x faster from launch to
# exit on test_2016_flickr (experiments/startup.py)
DEFAULT_SLOTS = 64


def add_penalty_args(parser: argparse.ArgumentParser) -> None:
    """The search's scoring: length and coverage penalties."""
    parser.add_argument("--alpha", type=float, default=0.6, help="length penalty exponent")
    parser.add_argument("--beta", type=float, default=0.0, help="coverage penalty weight")
    parser.add_argument(
        "--length-penalty", choices=("gnmt", "plain"), default="gnmt", help="gnmt: ((5+len)/6)^alpha; plain: len^alpha"
    )


def add_search_args(parser: argparse.ArgumentParser, slots: int = DEFAULT_SLOTS) -> None:
    parser.add_argument("--beam", type=int, default=5, help="beam size; 1 = greedy")
    add_penalty_args(parser)
    parser.add_argument("--max-len-a", type=float, default=1.5, help="output length limit a*src_len+b: a")
    parser.add_argument("--max-len-b", type=int, default=10, help="output length limit a*src_len+b: b")
    add_stop_arg(parser)
    add_speed_args(parser, slots)


def add_stop_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stop",
        choices=("exact", "current"),
        default="exact",
        help="when a sentence's search ends: exact, once its n-best can no longer change; current, once no live "
        "hypothesis scores above it at its own length (OpenNMT-py's rule: fewer steps, may differ)",
    )


def add_speed_args(parser: argparse.ArgumentParser, slots: int = DEFAULT_SLOTS) -> None:
    """The speed options; `slots`: the command's default for --slots (with one model's beam search)."""
    parser.add_argument(
        "--topk",
        choices=("auto", "fused", "blocked", "plain"),
        default="auto",
        help="beam search's candidate selection, the same translations either way: fused ranks each "
        "beam's 2K best logits before normalising them (no [batch, beam, vocab] "
        "log-probabilities), blocked finds those 2K by blocks of 32 logits (one pass of block maxima, "
        "then the best blocks), plain normalises every logit first; auto: blocked over the whole "
        "vocabulary, plain over a shortlist (default)",
    )
    add_shortlist_args(parser)
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


def add_batch_tokens_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-tokens",
        type=int,
        metavar="N",
        help="fixed batches (--slots 0, greedy search, ensembles) of about N source tokens each (default: the "
        "run's data.batch_tokens)",
    )


def add_unroll_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--unroll",
        type=int,
        default=None,
        metavar="N",
        help="time steps a loop iteration of the encoder's recurrence when translating (lax.scan's unroll): the same "
        "numbers up to float rounding, at another speed (experiments/encoder_unroll.py; default: the run's "
        "model.unroll)",
    )


def unroll(args) -> int | None:
    """--unroll, checked (None: the run's model.unroll)."""
    if args.unroll is not None and args.unroll < 1:
        raise ConfigError(f"--unroll must be >= 1, got {args.unroll}")
    return args.unroll


def add_shortlist_args(parser: argparse.ArgumentParser) -> None:
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
        help="the F most frequent target tokens are always in the shortlist",
    )
    parser.add_argument(
        "--shortlist-per-source",
        type=int,
        default=50,
        metavar="M",
        help="the M most probable translations of each source token",
    )


def beam_config(args):
    """The `BeamConfig` of the search options that the command has (the others at their defaults)."""
    from nmt.decode import BeamConfig
    from nmt.decode.beam import beam_problems

    fields = dict(
        alpha=args.alpha,
        beta=args.beta,
        length_penalty=args.length_penalty,
        ensemble_mean=getattr(args, "ensemble_mean", "log"),
    )
    for name in ("beam", "max_len_a", "max_len_b", "topk", "stop"):
        if hasattr(args, name):
            fields[name] = getattr(args, name)
    problems = beam_problems(argparse.Namespace(**{**dataclasses.asdict(BeamConfig()), **fields, "nbest": 1}))
    if problems:
        raise ConfigError("; ".join(f"--{name.replace('_', '-')} {text}" for name, text in problems))
    return BeamConfig(**fields)


def slots(args) -> int | None:
    """The --slots to search with, None for fixed batches (an ensemble's unless --slots is given, then refused)."""
    if args.slots is not None and args.slots < 0:
        raise ConfigError(f"--slots must be >= 0, got {args.slots}")
    runs = getattr(args, "run", None)
    if args.slots is None and isinstance(runs, list) and len(runs) > 1:
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
    """Several --run options make an ensemble, which takes neither --shortlist nor --slots."""
    if len(args.run) > 1 and (args.shortlist or (args.slots or 0) > 0):
        raise ConfigError("an ensemble (several --run) takes neither --shortlist nor --slots")


def nbest_search(args):
    """(BeamConfig, slots) of a command that searches for --nbest hypotheses, its options checked."""
    cfg, n_slots = beam_config(args), slots(args)
    if not 1 <= args.nbest <= cfg.beam:
        raise ConfigError(f"--nbest must be between 1 and --beam ({cfg.beam}), got {args.nbest}")
    check_ensemble(args)
    return cfg, n_slots


def load_translator(args, cfg, n_slots: int | None, batch_tokens: int | None = None):
    """(runs, Translator): the runs that --run and --which name, searched as `cfg`, `n_slots` and --shortlist say."""
    from nmt.run import load_runs
    from nmt.run.lexicon import lexicon_for_run
    from nmt.run.translation import translator_for

    runs = load_runs(args.run, args.which)
    lister = shortlister(args, lambda: lexicon_for_run(runs[0]))
    return runs, translator_for(runs, cfg, args.nbest, lister, n_slots, batch_tokens, unroll(args))
