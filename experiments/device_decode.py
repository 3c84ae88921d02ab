"""Decode check for a GPU machine (runnable on CPU with --cpu): the reference model, beam 5, test_2016_flickr.

Targets on a GPU: batch-1 latency <= 10 ms per sentence, speed-up over the per-step-graph baseline >= 5x at batch 1,
and batch-64 throughput. The corpus does not travel with the repo: copy it into an ignored folder that the device
call carries, e.g.
    echo /.data/ >> .git/info/exclude && cp -r ../shared/data/multi30k .data
    # device run (carry .data):  PYTHONPATH=. python3 experiments/device_decode.py --data-dir .data --out $OUT
    # here, on the CPU:          python experiments/device_decode.py --cpu --data-dir ../shared/data/multi30k
Writes decode_<platform>.json (into --out, default experiments/results) and prints it as the last line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cpu", action="store_true", help="run on the CPU (fewer sentences) to check the script")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    p.add_argument("--checkpoint", help="a trained run directory (default: untrained reference parameters)")
    args = p.parse_args()
    if args.cpu:
        os.environ["JAX_PLATFORMS"] = "cpu"
    import jax
    platform = jax.devices()[0].platform
    if not args.cpu and platform != "gpu":
        sys.exit(f"device_decode: no GPU visible (devices: {jax.devices()}); use --cpu to run on the CPU")
    from nmt import bench
    argv = ["decode", f"data.dir={args.data_dir}", "--beam", "5"]
    argv += ["--sentences", "128", "--batch1-sentences", "10", "--repeats", "2"] if args.cpu else \
        ["--sentences", "1000", "--batch1-sentences", "100", "--repeats", "5"]
    if args.checkpoint:
        argv += ["--checkpoint", args.checkpoint]
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        bench.main(argv)
    text = buf.getvalue()
    print(text, end="")
    result = json.loads(text.strip().splitlines()[-1])
    result["platform"] = platform
    bench.write_result(args.out, f"decode_{platform}.json", result)


if __name__ == "__main__":
    main()
