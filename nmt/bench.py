"""`python -m nmt.bench train|decode|memory [--preset reference] [section.field=value ...]`

Benchmarks print a human-readable table, then one JSON object as the last line.
"""
from __future__ import annotations

import json
import os

from nmt import cli
from nmt.translate import add_speed_args


def print_report(title: str, result: dict) -> None:
    print(f"\n{title}")
    for k, v in result.items():
        print(f"  {k:<22} {v:,.4g}" if isinstance(v, (int, float)) else f"  {k:<22} {v}")
    print(json.dumps(result))


def write_result(out_dir: str, name: str, result: dict) -> None:
    """Writes `result` to `out_dir/name` (indented JSON) and prints it as the last line, as every benchmark does."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, name), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))


def main(argv=None):
    parser = cli.Parser(prog="nmt.bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    train = sub.add_parser("train", help="training step throughput and MFU")
    cli.add_config_args(train)
    train.set_defaults(preset="reference")
    train.add_argument("--steps", type=int, default=20, help="timed steps (after warm-up)")
    train.add_argument("--warmup", type=int, default=3)
    decode = sub.add_parser("decode", help="beam search latency/throughput against the per-step-graph baseline")
    cli.add_config_args(decode)
    decode.set_defaults(preset="reference")
    decode.add_argument("--checkpoint", help="a run directory to take the model from (default: the preset's model "
                                             "with untrained parameters)")
    decode.add_argument("--beam", type=int, default=5)
    decode.add_argument("--alpha", type=float, default=0.6)
    decode.add_argument("--sentences", type=int, default=1000, help="test_2016_flickr sentences for batch 64")
    decode.add_argument("--batch1-sentences", type=int, default=50, help="sentences timed one at a time")
    decode.add_argument("--repeats", type=int, default=3)
    add_speed_args(decode)
    memory = sub.add_parser("memory", help="recomputing attention, sqrt_t and depth under a budget (reference dims)")
    cli.add_config_args(memory)
    memory.set_defaults(preset="reference")
    memory.add_argument("--batch", type=int, default=64)
    memory.add_argument("--length", type=int, default=128, help="attention T = S (default: 128)")
    memory.add_argument("--lengths", default="64,128,256,512,1024", help="sqrt_t target lengths (source length 50)")
    memory.add_argument("--time-len", type=int, default=64, help="target length of the sqrt_t step timing")
    memory.add_argument("--depth-len", type=int, default=100, help="T = S of the depth check (default: 100)")
    memory.add_argument("--vocab", type=int, default=0, help="vocabulary size (default: data.vocab_size)")
    memory.add_argument("--only", choices=("attention", "sqrt_t", "depth"), help="run one part")
    memory.add_argument("--hidden", type=int, default=512)
    memory.add_argument("--attention", default="bahdanau", choices=("bahdanau", "general", "dot"))
    memory.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    def go():
        config = cli.config_from_args(args)
        if args.what == "train":
            from nmt.bench_train import bench_train
            print_report(f"train step, preset {args.preset}", bench_train(config, args.steps, args.warmup))
        elif args.what == "decode":
            print_report(f"beam search, beam {args.beam}", run_decode_bench(config, args))
        else:
            print_report("memory: recomputing attention, sqrt_t, depth", run_memory_bench(config, args))

    cli.main_guard(go, "nmt.bench")


def run_memory_bench(config, args) -> dict:
    from nmt import bench_memory as bm
    vocab = args.vocab or config.data.vocab_size
    res = {}
    if args.only in (None, "attention"):
        print("recomputing attention vs autodiff")
        res.update(bm.bench_attention(args.attention, args.batch, args.length, args.length, args.hidden,
                                      args.repeats))
    if args.only in (None, "sqrt_t"):
        print("sqrt_t vs none, whole train step")
        lengths = tuple(int(x) for x in args.lengths.split(","))
        res.update(bm.bench_sqrt_t(config, vocab, args.batch, 50, lengths, max(lengths), args.time_len,
                                   min(args.repeats, 3)))
    if args.only in (None, "depth"):
        print("depth under the budget of none with 2+2 layers")
        res.update(bm.bench_depth(config, vocab, args.batch, args.depth_len))
    return res


def run_decode_bench(config, args) -> dict:
    import jax

    from nmt import step as step_lib
    from nmt.bench_decode import bench_decode
    from nmt.config import ConfigError, with_overrides
    from nmt.data import load_data
    from nmt.decode import BeamConfig
    from nmt.decode.shortlist import train_lexicon
    from nmt.inference import load_run
    from nmt.translate import shortlister, slots_arg
    if args.checkpoint:
        model_overrides = [o for o in args.overrides if not o.startswith("data.")]
        if model_overrides:
            raise ConfigError(f"{model_overrides[0]}: with --checkpoint the model comes from the run; only data.* "
                              "overrides apply")
        run = load_run(args.checkpoint)
        config = with_overrides(run.config, args.overrides)
        model, params, sp, source = run.model, run.params, run.sp, f"{args.checkpoint}@{run.step}"
        data = load_data(config.data, vocab_path=args.checkpoint + "/vocab.model")
        lister = shortlister(args, run, print)
    else:
        data = load_data(config.data)
        sp = data.sp
        model = step_lib.make_model(config, sp.vocab_size())
        params = step_lib.init_state(model, step_lib.make_optimizer(config.train), jax.random.key(0)).params
        source = f"preset {args.preset}, untrained parameters"
        lister = shortlister(args, None, print, args.shortlist and train_lexicon(
            data.train.examples.src, data.train.examples.tgt, sp.vocab_size()))
    cfg = BeamConfig(beam=args.beam, alpha=args.alpha, topk=args.topk)
    res = bench_decode(model, params, sp, data.test.src_text[:args.sentences], config.data.buckets, cfg,
                       args.batch1_sentences, args.repeats, shortlister=lister, slots=slots_arg(args))
    return dict(res, model=source)


if __name__ == "__main__":
    main()
