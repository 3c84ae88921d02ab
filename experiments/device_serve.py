"""The serving load test on a GPU machine (runnable on the CPU with --cpu): `nmt.serve` under Poisson and closed-loop
load, beside its offline search and its one-at-a-time self, as experiments/serve_load.py measures it here.

    python -m nmt.release --run runs/multi30k --out released/multi30k                    # here, once
    python experiments/device_serve.py --data-dir DIR --run released/multi30k           # on the GPU, about 4 minutes
    python experiments/device_serve.py --cpu --data-dir DIR --run released/multi30k     # here: small loads, a check

The target on one H200: >= 1,000 sentences/s at p99 <= 100 ms (MLPerf v0.5's GNMT Server: 1,581 samples/s on 8 T4s
at p97 <= 250 ms). No peer on the GPU machine (OpenNMT-py is not installed there). Writes serve_load_<platform>.json
and .png (into --out, default experiments/results).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_load  # noqa: E402

GPU = ["--loads", "250,500,1000,1500,2000,3000,4000", "--before-loads", "100,200,400", "--seconds", "10"]
GPU += ["--clients", "1,16,64,256", "--p99-ms", "100"]
CPU = ["--loads", "10,20", "--before-loads", "5", "--seconds", "3", "--clients", "1,4", "--offline-sentences", "100"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cpu", action="store_true", help="run on the CPU with small loads, to check the script")
    p.add_argument("--data-dir", required=True, help="the Multi30k folder")
    p.add_argument("--run", required=True, help="the run (or released run) to serve")
    p.add_argument("--variants", default="whole", help="as serve_load.py's (whole, shortlist256, whole_overlap, ...)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = p.parse_args()
    os.environ["NMT_DATA_DIR"] = os.path.abspath(args.data_dir)
    if args.cpu:
        os.environ["JAX_PLATFORMS"] = "cpu"  # the servers and benches started below inherit it
    platform = "cpu" if args.cpu else "gpu"
    serve_load.main(
        [
            "--run",
            args.run,
            "--variants",
            args.variants,
            "--no-peer",
            "--out",
            args.out,
            "--name",
            f"serve_load_{platform}",
            *(CPU if args.cpu else GPU),
        ]
    )


if __name__ == "__main__":
    main()
