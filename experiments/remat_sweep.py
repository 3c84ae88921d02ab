"""Ablation sweep: memory policy × target length × encoder depth -> compiled memory (and optionally step time).

    python experiments/remat_sweep.py                      # reference dims, batch 64, compile only
    python experiments/remat_sweep.py --time               # also time real steps (slow on a CPU)
    python experiments/remat_sweep.py --tiny --out DIR     # a minute: tiny model and lengths

Writes remat_sweep.csv/.json and two plots under experiments/results/ (or --out): temp memory against target length
on log-log axes per policy, and the memory-time Pareto front (with --time). Source length is fixed (--src-len).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from nmt.memory.sweep import POLICIES, sweep, write  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny model and lengths (seconds)")
    p.add_argument("--time", action="store_true", help="also time steps")
    p.add_argument("--rows", type=int, default=64)
    p.add_argument("--src-len", type=int, default=50)
    p.add_argument("--lengths", default="32,64,128,256,512,1024", help="target lengths")
    p.add_argument("--depths", default="2,4,8", help="encoder depths")
    p.add_argument("--policies", help="policies, separated by ';' (default: all; with --tiny: none, full, sqrt_t "
                                      "and one offload)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = p.parse_args(argv)
    if args.tiny:
        preset, policies, lengths, depths, rows, src, vocab = \
            "tiny", ("none", "full", "sqrt_t", "offload:dec_h,attn_context"), (8, 32), (2,), 4, 8, 50
    else:
        preset, policies, lengths, depths, rows, src, vocab = \
            "reference", POLICIES, [int(x) for x in args.lengths.split(",")], \
            [int(x) for x in args.depths.split(",")], args.rows, args.src_len, 8000
    policies = args.policies.split(";") if args.policies else policies
    rows_out = sweep(preset, policies, lengths, depths, rows, src, vocab, args.time)
    write(rows_out, args.out)
    print(json.dumps({"rows": len(rows_out), "out": args.out}))


if __name__ == "__main__":
    main()
