"""`python -m nmt.translate --checkpoint RUN_DIR [--input F] [--output F] [--beam 5] [--nbest N]`

One output line per input line, in input order (an empty line gives an empty line). With --nbest N, N lines per
input: `index<TAB>score<TAB>text`. Invalid UTF-8 is replaced and reported; over-long lines are truncated to the
model's limit with a warning.
"""
from __future__ import annotations

import sys

from nmt import cli


def add_search_args(parser) -> None:
    parser.add_argument("--beam", type=int, default=5, help="beam size; 1 = greedy (default: 5)")
    parser.add_argument("--alpha", type=float, default=0.6, help="length penalty exponent (default: 0.6)")
    parser.add_argument("--beta", type=float, default=0.0, help="coverage penalty weight (default: 0)")
    parser.add_argument("--length-penalty", choices=("gnmt", "plain"), default="gnmt",
                        help="gnmt: ((5+len)/6)^alpha; plain: len^alpha")
    parser.add_argument("--max-len-a", type=float, default=1.5, help="max output length a*src_len+b: a")
    parser.add_argument("--max-len-b", type=int, default=10, help="max output length a*src_len+b: b")
    add_speed_args(parser)


def add_speed_args(parser) -> None:
    parser.add_argument("--topk", choices=("auto", "fused", "plain"), default="auto",
                        help="beam search's candidate selection, the same translations either way: fused ranks each "
                             "beam's 2K best logits before normalising them (no [batch, beam, vocab] "
                             "log-probabilities), plain normalises every logit first; auto: fused over the whole "
                             "vocabulary, plain over a shortlist (default)")
    parser.add_argument("--shortlist", type=int, default=0, metavar="N",
                        help="score only N target tokens per sentence, chosen from its source words by an IBM Model 1 "
                             "lexicon (trained on the run's corpus on first use); 0 = whole vocabulary (default)")
    parser.add_argument("--shortlist-frequent", type=int, default=100, metavar="F",
                        help="the F most frequent target tokens are always in the shortlist (default: %(default)s)")
    parser.add_argument("--shortlist-per-source", type=int, default=50, metavar="M",
                        help="the M most probable translations of each source token (default: %(default)s)")
    parser.add_argument("--slots", type=int, default=0, metavar="B",
                        help="beam search with continuous batching: B sentences at once, each slot taking the next "
                             "sentence as soon as its own is done (same translations); 0 = fixed batches (default)")


def slots_arg(args) -> int | None:
    if args.slots < 0:
        from nmt.config import ConfigError
        raise ConfigError(f"--slots must be >= 0, got {args.slots}")
    return args.slots or None


def beam_config(args):
    from nmt.decode import BeamConfig
    try:
        return BeamConfig(beam=args.beam, alpha=args.alpha, beta=args.beta, length_penalty=args.length_penalty,
                          max_len_a=args.max_len_a, max_len_b=args.max_len_b, topk=args.topk)
    except ValueError:
        from nmt.config import ConfigError
        raise ConfigError("--beam must be >= 1 and --alpha, --beta >= 0") from None


def shortlister(args, run, log, lexicon=None):
    """The `Shortlister` the --shortlist options ask for (from `lexicon`, else the run's), or None."""
    if not args.shortlist:
        return None
    from nmt.config import ConfigError
    from nmt.decode.shortlist import Shortlister, lexicon_for_run
    lexicon = lexicon or lexicon_for_run(run, log)
    try:
        return Shortlister(lexicon, args.shortlist, args.shortlist_frequent, args.shortlist_per_source)
    except ValueError as e:
        raise ConfigError(f"--shortlist: {e}") from None


def read_input(stream, name: str, log) -> list[str]:
    lines, bad = [], []
    for i, raw in enumerate(stream, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            bad.append(i)
        lines.append(text.rstrip("\r\n").strip())
    if bad:
        log(f"warning: {name}: invalid UTF-8 replaced on {len(bad)} lines: {', '.join(map(str, bad[:20]))}"
            + (" ..." if len(bad) > 20 else ""))
    return lines


def translate_lines(run, lines: list[str], cfg, nbest: int, log, shortlister=None, slots: int | None = None):
    """Translates non-empty lines (sorted into length buckets, order restored); returns per-line results.
    shortlister, slots: as for `translate_examples`."""
    import numpy as np

    from nmt.data import Examples
    from nmt.decode import translate_examples
    limit = run.config.data.max_len - 1  # EOS takes the last place
    todo = [i for i, line in enumerate(lines) if line]
    ids = run.sp.encode([lines[i] for i in todo])
    long = [todo[j] + 1 for j, x in enumerate(ids) if len(x) > limit]
    if long:
        log(f"warning: {len(long)} lines longer than {limit} subword tokens were truncated: "
            + ", ".join(map(str, long[:20])) + (" ..." if len(long) > 20 else ""))
    ex = Examples([x[:limit] for x in ids], [[] for _ in ids], np.arange(len(ids)))
    out = translate_examples(run.model, run.params, ex, run.sp, run.config.data.buckets,
                             run.config.data.batch_tokens, cfg, nbest, shortlister, slots)
    results = [[(0.0, "")] * nbest for _ in lines]
    for j, i in enumerate(todo):
        results[i] = out[j] if nbest > 1 else [(0.0, out[j])]
    return results


def main(argv=None):
    parser = cli.Parser(prog="nmt.translate", description=__doc__.split("\n\n")[1])
    parser.add_argument("--checkpoint", required=True, help="a run directory written by nmt.train")
    parser.add_argument("--input", help="input file (default: stdin)")
    parser.add_argument("--output", help="output file (default: stdout)")
    parser.add_argument("--nbest", type=int, default=1, help="hypotheses per input line (<= beam)")
    add_search_args(parser)
    args = parser.parse_args(argv)
    log = lambda s: print(s, file=sys.stderr)

    def go():
        from nmt.config import ConfigError
        from nmt.inference import load_run
        cfg = beam_config(args)
        n_slots = slots_arg(args)
        if not 1 <= args.nbest <= cfg.beam:
            raise ConfigError(f"--nbest must be between 1 and --beam ({cfg.beam})")
        if args.input:
            try:
                with open(args.input, "rb") as f:
                    lines = read_input(f, args.input, log)
            except OSError as e:
                raise ConfigError(f"{args.input}: {e.strerror}") from None
        else:
            lines = read_input(sys.stdin.buffer, "stdin", log)
        run = load_run(args.checkpoint)
        results = translate_lines(run, lines, cfg, args.nbest, log, shortlister(args, run, log), n_slots)
        if args.nbest > 1:
            text = "".join(f"{i}\t{score:.4f}\t{hyp}\n" for i, hyps in enumerate(results) for score, hyp in hyps)
        else:
            text = "".join(hyps[0][1] + "\n" for hyps in results)
        if args.output:
            from nmt.data.vocab import write_atomic
            write_atomic(args.output, text.encode())
        else:
            sys.stdout.write(text)

    cli.main_guard(go, "nmt.translate")


if __name__ == "__main__":
    main()
