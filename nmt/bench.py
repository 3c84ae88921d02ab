"""`python -m nmt.bench train|decode|memory [--preset multi30k] [section.field=value ...]`

Benchmarks print a human-readable table, then one JSON object as the last line.
"""

from __future__ import annotations

from nmt import cli, cli_search


def parser() -> cli.Parser:
    parser = cli.Parser(prog="nmt.bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True, metavar="{train,decode,memory}")
    train = sub.add_parser("train", help="training step throughput and MFU")
    train.add_argument("--steps", type=int, default=20, help="timed steps (after warm-up)")
    train.add_argument("--warmup", type=int, default=3, help="steps run before timing (compiling)")
    train.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=OVERRIDES",
        help="a variant of the configuration, e.g. 'unroll2=model.unroll=2' (several overrides "
        "separated by spaces); repeatable. The variants take turns in windows of --steps steps "
        "over the same batches, --rounds times, and are reported as ratios to the first",
    )
    train.add_argument("--rounds", type=int, default=1, help="windows of each variant")
    train.add_argument(
        "--profile",
        action="store_true",
        help="also where a step's time goes, by part of the model (nmt/tools/profile.py)",
    )
    decode = sub.add_parser("decode", help="beam search latency/throughput against the per-step-graph baseline")
    cli.add_run_arg(
        decode,
        "a run directory to take the model from (default: the preset's model with untrained parameters)",
        "checkpoint",
    )
    cli.add_which_arg(decode)
    decode.add_argument("--beam", type=int, default=5, help="beam size")
    decode.add_argument("--alpha", type=float, default=0.6, help="length penalty exponent")
    cli_search.add_stop_arg(decode)
    decode.add_argument("--sentences", type=int, default=1000, help="test_2016_flickr sentences for batch 64")
    decode.add_argument("--batch1-sentences", type=int, default=50, help="sentences timed one at a time")
    decode.add_argument("--repeats", type=int, default=3, help="timed repeats of each search (the median counts)")
    decode.add_argument(
        "--no-baseline", action="store_true", help="time the compiled search alone, not the per-step baseline beside it"
    )
    cli_search.add_speed_args(decode)
    cli_search.add_unroll_arg(decode)
    memory = sub.add_parser("memory", help="recomputing attention, sqrt_t and depth under a budget (reference dims)")
    memory.add_argument("--batch", type=int, default=64, help="sentences a batch")
    memory.add_argument("--length", type=int, default=128, help="attention T = S")
    memory.add_argument("--lengths", default="64,128,256,512,1024", help="sqrt_t target lengths (source length 50)")
    memory.add_argument("--time-len", type=int, default=64, help="target length of the sqrt_t step timing")
    memory.add_argument("--depth-len", type=int, default=100, help="T = S of the depth check")
    memory.add_argument("--vocab", type=int, default=0, help="vocabulary size; 0: data.vocab_size")
    memory.add_argument("--only", choices=("attention", "sqrt_t", "depth"), help="run one part")
    memory.add_argument("--hidden", type=int, default=512, help="LSTM units (the reference model's)")
    memory.add_argument("--attention", default="bahdanau", choices=("bahdanau", "general", "dot"), help="its kind")
    memory.add_argument("--repeats", type=int, default=5, help="timed repeats (the median counts)")
    for p in (train, decode, memory):
        cli.add_config_args(p)
    return parser


def _decode(config, args) -> dict:
    from nmt.decode import BeamConfig, Translator
    from nmt.tools.bench_decode import bench_decode, load_model

    config, model, params, sp, sources, label, lexicon = load_model(config, args.run, args.overrides, args.which)
    cfg = BeamConfig(beam=args.beam, alpha=args.alpha, topk=args.topk, stop=args.stop)
    translator = Translator(
        [(model, params)],
        sp,
        config.data,
        cfg,
        shortlister=cli_search.shortlister(args, lexicon),
        slots=cli_search.slots(args),
        unroll=cli_search.unroll(args),
    )
    res = bench_decode(
        translator, sources[: args.sentences], args.batch1_sentences, args.repeats, baseline=not args.no_baseline
    )
    return dict(res, model=label if args.run else f"preset {args.preset}, {label}", stop=args.stop)


def _variants(specs: list[str]) -> dict | None:
    """--variant NAME=OVERRIDES -> {NAME: [override, ...]}, in the order given."""
    import shlex

    from nmt.config import ConfigError

    out = {}
    for spec in specs:
        name, _, rest = spec.partition("=")
        if not name or not rest:
            raise ConfigError(f"--variant {spec!r}: expected NAME=section.field=value [section.field=value ...]")
        out[name] = shlex.split(rest)
    return out or None


def main(argv=None):
    args = parser().parse_args(argv)

    def go():
        from nmt.tools.results import print_report

        config = cli.config_from_args(args)
        if args.what == "train":
            from nmt.tools.bench_train import bench_train

            res = bench_train(config, args.steps, args.warmup, _variants(args.variant), args.rounds, args.profile)
            print_report(f"train step, preset {args.preset}", res)
        elif args.what == "decode":
            print_report(f"beam search, beam {args.beam}", _decode(config, args))
        else:
            from nmt.tools.bench_memory import memory_bench

            res = memory_bench(
                config,
                args.vocab or config.data.vocab_size,
                args.only,
                args.batch,
                args.length,
                tuple(int(x) for x in args.lengths.split(",")),
                args.time_len,
                args.depth_len,
                args.hidden,
                args.attention,
                args.repeats,
            )
            print_report("memory: recomputing attention, sqrt_t, depth", res)

    cli.main_guard(go, "nmt.bench", compilation_cache=False)  # compile_s times compiling, not loading


if __name__ == "__main__":
    main()
