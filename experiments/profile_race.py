"""Where each side of the race spends its training step, side by side by part: nmt's `opennmt_rnn` step profiled by
`python -m nmt.bench train --profile` and OpenNMT-py's by experiments/peer_profile.py (torch's profiler), one after
the other on the same machine, nothing else running.

    python experiments/profile_race.py            # about 4 min; the peer set up by experiments/opennmt_race.py

Each side's parts are its shares of its profiled operations' time, put in milliseconds per 1,000 target tokens
with its own unprofiled speed (nmt: its median over --steps timed steps; the peer: its median over 29 steps before
the profile). nmt's recurrent products and input projections are one part here ("LSTM products"), as torch's LSTM
leaves no mark of which product was which. Writes experiments/results/profile_race.json.

Result (profile_race.json; the 2-core development machine, jax 0.10.2 against torch 2.13.0+cpu, 2026-12-05), ms per
1,000 target tokens, nmt against the peer: LSTM products 338 / 317, output layer and loss 176 / 154, attention 45 /
10, copies/transposes/masking 40 / 29, optimizer update 29 / 14, other 27 / 36, dropout masks 10 / 20; whole steps
664 / 581 (nmt 0.87x the peer's tokens/s). What it says and what it does not:
- nmt is behind on its matrix products and its optimizer: its LSTM products by 7% although XLA's products at these shapes
  are as fast as torch's (experiments/opennmt_race.py records both), its output layer and loss by 14%, its
  optimizer update (Adam, clipping and the non-finite guard) by 2x; its copies cost 11 ms more.
- The peer's encoder runs oneDNN's fused LSTM layer (`aten::mkldnn_rnn_layer` and its backward, 0.15 s of its 1.0 s
  step); nmt's encoder is a scan of products and element-wise gates.
- The attention rows are not alike: the peer's counts its batched products and softmax only (its score and output
  projections are plain products, counted with the LSTM's); nmt's counts everything in its attention scope.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from nmt.tools.machine import describe
from nmt.tools.results import write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.path.join(ROOT, "runs", "opennmt_peer")
NMT_PARTS = {  # nmt.tools.profile's part -> the common part
    "recurrent products": "LSTM products",
    "input projections": "LSTM products",
    "output layer and loss": "output layer and loss",
    "attention": "attention",
    "copies, transposes, masking": "copies/transposes/masking",
    "dropout masks": "dropout masks",
    "optimizer update": "optimizer update",
    "other operations": "other",
}


def nmt_side(steps: int) -> dict:
    cmd = [sys.executable, "-m", "nmt.bench", "train", "--preset", "opennmt_rnn", "--steps", str(steps), "--profile"]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout.splitlines()[-1])
    parts = {}
    for name, part in out["profile"]["parts"].items():
        common = NMT_PARTS.get(name, "other")
        parts[common] = parts.get(common, 0.0) + part["share"]
    return {"tokens_per_s": out["tokens_per_s"], "step_s": out["step_s"], "shares": parts, "bench": out}


def peer_side(work: str) -> dict:
    cmd = [os.path.join(work, "venv", "bin", "python"), os.path.join(ROOT, "experiments", "peer_profile.py")]
    cmd += ["-config", "config/rnn.yaml", "-log_file", os.path.join(work, "run", "profile.log")]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=work).stdout.splitlines()[-1])
    shares = {name: part["share"] for name, part in out["parts"].items()}
    return {"tokens_per_s": out["tokens_per_s_unprofiled"], "step_s": out["step_s_unprofiled"], "shares": shares, **out}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=10, help="nmt's timed and profiled steps")
    p.add_argument("--peer", default=PEER, help="the peer's work folder (experiments/opennmt_race.py --set-up-only)")
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    args = p.parse_args(argv)
    sides = {"nmt": nmt_side(args.steps), "opennmt_py": peer_side(args.peer)}
    table = {}
    for side, res in sides.items():
        per_k = 1e6 / res["tokens_per_s"]  # ms per 1,000 target tokens
        for part, share in res["shares"].items():
            table.setdefault(part, {})[side + "_ms_per_1k_tokens"] = share * per_k
    for row in table.values():
        if len(row) == 2:
            row["nmt_over_peer"] = row["nmt_ms_per_1k_tokens"] / row["opennmt_py_ms_per_1k_tokens"]
    result = {"machine": describe(), "parts": table, "sides": sides}
    result["nmt_over_peer_tokens_per_s"] = sides["nmt"]["tokens_per_s"] / sides["opennmt_py"]["tokens_per_s"]
    for part, row in sorted(table.items(), key=lambda kv: -kv[1].get("opennmt_py_ms_per_1k_tokens", 0)):
        print(f"{part:28s} " + "  ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
    write_result(args.out, "profile_race.json", result)


if __name__ == "__main__":
    main()
