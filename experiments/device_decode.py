"""Decode check for a GPU machine (runnable on CPU with --cpu): a trained model, beam 5, test_2016_flickr.

Targets on a GPU: batch-1 latency <= 10 ms per sentence, speed-up over the per-step-graph baseline >= 5x at batch 1,
and batch-64 throughput. The GPU machine needs the corpus and a model; `nmt.release` makes the model a third of the
size by leaving the optimizer state behind:
    python -m nmt.release --checkpoint runs/multi30k --out released/multi30k
    python experiments/device_decode.py --data-dir DIR --checkpoint released/multi30k            # on the GPU
    python experiments/device_decode.py --cpu --data-dir DIR --checkpoint released/multi30k      # here, on the CPU
Without --checkpoint the reference preset's untrained parameters are timed (their outputs run to the length limit).
Writes decode_<platform>.json (into --out, default experiments/results) and prints it as the last line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

WHILE_GRAPHS = "--xla_gpu_enable_command_buffer=FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,CONDITIONAL,WHILE"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cpu", action="store_true", help="run on the CPU (fewer sentences) to check the script")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    p.add_argument("--checkpoint", help="a trained run directory (default: untrained reference parameters)")
    p.add_argument("--while-graphs", action="store_true",
                   help="let XLA put while loops and conditionals into CUDA graphs (no host sync per decode step)")
    p.add_argument("--shortlist", type=int, default=0,
                   help="per-sentence vocabulary shortlists of this size (the run's lexicon.npz, which nmt.release "
                        "copies, or the corpus to train one)")
    p.add_argument("--slots", type=int, default=0, help="batch 64 as continuous batching over this many slots")
    p.add_argument("--topk", choices=("auto", "fused", "plain"), default="auto", help="beam search's candidate "
                   "selection (see nmt.translate --help)")
    p.add_argument("--sentences", type=int, help="batch-64 sentences (default: 1000, --cpu 128)")
    p.add_argument("--batch1-sentences", type=int, help="sentences timed one at a time (default: 100, --cpu 10)")
    p.add_argument("--repeats", type=int, help="timed repeats (default: 5, --cpu 2)")
    args = p.parse_args()
    if args.cpu:
        os.environ["JAX_PLATFORMS"] = "cpu"
    if args.while_graphs:
        os.environ["XLA_FLAGS"] = " ".join(filter(None, (os.environ.get("XLA_FLAGS"), WHILE_GRAPHS)))
    import jax
    platform = jax.devices()[0].platform
    if not args.cpu and platform != "gpu":
        sys.exit(f"device_decode: no GPU visible (devices: {jax.devices()}); use --cpu to run on the CPU")
    from nmt import bench
    argv = ["decode", f"data.dir={args.data_dir}", "--beam", "5"]
    sizes = (128, 10, 2) if args.cpu else (1000, 100, 5)
    sizes = [given or default for given, default in zip((args.sentences, args.batch1_sentences, args.repeats), sizes)]
    argv += ["--sentences", str(sizes[0]), "--batch1-sentences", str(sizes[1]), "--repeats", str(sizes[2])]
    if args.checkpoint:
        argv += ["--checkpoint", args.checkpoint]
    if args.shortlist:
        argv += ["--shortlist", str(args.shortlist)]
    if args.slots:
        argv += ["--slots", str(args.slots)]
    argv += ["--topk", args.topk]
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        bench.main(argv)
    text = buf.getvalue()
    print(text, end="")
    result = json.loads(text.strip().splitlines()[-1])
    result["platform"] = platform
    result["xla_flags"] = os.environ.get("XLA_FLAGS", "")
    variant = (("_while_graphs", args.while_graphs), (f"_shortlist{args.shortlist}", args.shortlist),
               (f"_slots{args.slots}", args.slots), (f"_topk_{args.topk}", args.topk != "auto"))
    bench.write_result(args.out, f"decode_{platform}{''.join(name for name, on in variant if on)}.json", result)


if __name__ == "__main__":
    main()
