"""Start-up and compile time of translation, end to end: `python -m nmt.translate` against OpenNMT-py's
`onmt_translate`, test_2016_flickr (1,000 sentences), beam 5, each command timed from launch to exit.

    python experiments/startup.py                 # about 5 min; needs runs/ttq_nmt and the peer's run_ttq checkpoint
    python experiments/startup.py --eval-buckets 16,32,64   # nmt translating in 3 bucket shapes: startup_eval_buckets.json
    python experiments/startup.py --checkpoint RUN --peer-checkpoint run_ttq/model_step_N.pt --repeats 3

nmt runs cold (an empty compilation cache, as on a fresh machine) and warm (the same command again, its programs
read from JAX's persistent cache) in turns; the peer (batch 32 sentences, as its recipe's translate_eval.sh, on its
pre-encoded pieces; nmt reads raw text) takes its turn between them. Both use the machine's 2 cores. The trained
models come from experiments/time_to_quality.py (nmt's default preset, and OpenNMT-py's `rnn.yaml` after 40
minutes). Writes startup.json into --out (default experiments/results): the medians and nmt ÷ peer, cold and warm.

Results, on the development machine (2 cores, 24 GiB, no GPU; 2026-11-30; two rounds each, medians; nmt's run is
runs/ttq_nmt, the default preset's 2,500 steps; the peer's its 40-minute checkpoint, step 2,645):

| nmt translating in | cold | warm | OpenNMT-py | cold ÷ peer | warm ÷ peer |
|---|---|---|---|---|---|
| the training buckets (17 shapes; startup.json, before the cache fix below) | 21.3 s | 21.4 s | 14.5 s | 1.47 | 1.48 |
| `--eval-buckets 16,32,64` (3 shapes; startup_eval_buckets_fixed_batches.json) | 9.2 s | 7.5 s | 13.6 s | 0.68 | 0.55 |
| the same, beam search with continuous batching by default (`--slots 64`; startup_eval_buckets.json, three rounds) | **6.8 s** | **5.7 s** | 14.1 s | **0.48** | **0.41** |

- Compiling one beam-search program per bucket shape was most of nmt's start-up: with 3 shapes instead of 17 the
  command takes 9.2 s from launch instead of 21.3 s, and the default preset now evaluates and translates in those 3
  (`data.eval_buckets`). Outputs are identical cold and warm.
- The first measurement showed no gain from the warm cache: with JAX_COMPILATION_CACHE_DIR set, nmt left JAX's
  1-second threshold for caching a program in place, and most of these compile faster. The threshold (0.2 s) now
  applies whichever way the folder is chosen; warm then saves 1.7 s (9.2 → 7.5 s).
- Of the 7.5 s that remained warm, imports took about 1 s (jax 0.35 s; `python -X importtime`) and the search most
  of the rest: in fixed batches each batch runs until its slowest sentence ends. `nmt.translate` and `nmt.evaluate`
  now search with continuous batching (`--slots 64`, nmt/decode/continuous.py) unless told otherwise (`--slots 0`):
  the same output, byte for byte (tested, and compared here), 5.7 s warm instead of 7.5 s. sacrebleu is no longer
  imported by translation.
- Targets: never slower than the peer cold (0.48×: met); ≤ 0.5× warm (**0.41×: met**).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from nmt import cli
from nmt.tools.results import write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_WORK = os.path.join(ROOT, "runs", "opennmt_peer")


def _timed(cmd: list[str], **kw) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, **kw)
    return time.perf_counter() - t


def nmt_once(checkpoint: str, source: str, cache: str, out: str) -> float:
    return _timed(
        [
            sys.executable,
            "-m",
            "nmt.translate",
            "--run",
            checkpoint,
            "--beam",
            "5",
            "--input",
            source,
            "--output",
            out,
        ],
        env=dict(os.environ, JAX_COMPILATION_CACHE_DIR=cache),
    )


def peer_once(checkpoint: str, out: str) -> float:
    return _timed(
        [
            os.path.join(PEER_WORK, "venv", "bin", "onmt_translate"),
            "-model",
            checkpoint,
            "-src",
            "data/test_2016_flickr.sp.en",
            "-output",
            out,
            "-beam_size",
            "5",
            "-batch_size",
            "32",
            "-batch_type",
            "sents",
            "-gpu",
            "-1",
        ],
        cwd=PEER_WORK,
        env=dict(os.environ, OMP_NUM_THREADS="2"),
    )


def with_eval_buckets(run: str, buckets: list[int], where: str) -> str:
    """A view of `run` (its checkpoints linked) whose configuration batches translation by `buckets`."""
    os.makedirs(where)
    with open(os.path.join(run, "config.json")) as f:
        config = json.load(f)
    config["data"]["eval_buckets"] = buckets
    with open(os.path.join(where, "config.json"), "w") as f:
        json.dump(config, f)
    shutil.copy(os.path.join(run, "vocab.model"), where)
    os.symlink(os.path.abspath(os.path.join(run, "checkpoints")), os.path.join(where, "checkpoints"))
    return where


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=os.path.join(ROOT, "runs", "ttq_nmt"))
    p.add_argument("--peer-checkpoint", help="default: the newest run_ttq/model_step_*.pt of the peer")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--eval-buckets", help="e.g. 16,32,64: translate with these buckets instead of the run's")
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    args = p.parse_args(argv)
    peer_ckpt = args.peer_checkpoint or max(
        glob.glob(os.path.join(PEER_WORK, "run_ttq", "model_step_*.pt")),
        key=lambda f: int(re.search(r"(\d+)\.pt$", f).group(1)),
    )
    source = os.path.join(PEER_WORK, "data", "test_2016_flickr.en")
    times = {"nmt_cold": [], "nmt_warm": [], "peer": []}
    work = tempfile.mkdtemp(prefix="startup-")
    checkpoint = args.checkpoint
    try:
        if args.eval_buckets:
            buckets = [int(x) for x in args.eval_buckets.split(",")]
            checkpoint = with_eval_buckets(args.checkpoint, buckets, os.path.join(work, "run"))
        for r in range(args.repeats):
            cache = os.path.join(work, f"cache{r}")
            times["nmt_cold"].append(nmt_once(checkpoint, source, cache, os.path.join(work, "nmt.txt")))
            times["peer"].append(peer_once(peer_ckpt, os.path.join(work, "peer.txt")))
            times["nmt_warm"].append(nmt_once(checkpoint, source, cache, os.path.join(work, "nmt_warm.txt")))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
        with open(os.path.join(work, "nmt.txt")) as a, open(os.path.join(work, "nmt_warm.txt")) as b:
            same = a.read() == b.read()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    write_result(
        args.out,
        f"startup{'_eval_buckets' if args.eval_buckets else ''}.json",
        {
            "eval_buckets": args.eval_buckets or "the run's",
            "seconds": times,
            "median_s": med,
            "cold_over_peer": med["nmt_cold"] / med["peer"],
            "warm_over_peer": med["nmt_warm"] / med["peer"],
            "warm_output_identical": same,
            "nmt_checkpoint": os.path.relpath(args.checkpoint, ROOT),
            "peer_checkpoint": os.path.relpath(peer_ckpt, ROOT),
            "command": "nmt.translate --beam 5 (test_2016_flickr); onmt_translate -beam_size 5 -batch_size 32",
        },
    )


if __name__ == "__main__":
    cli.main_guard(main, "startup")
