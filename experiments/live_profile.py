"""Where the live search's time goes under Poisson load: the server's engine without HTTP, every device call waited for.

    python experiments/live_profile.py --settings=--no-early-shrink/--early-shrink --names fixed,shrink \
        --qps 110 --name live_profile

A Translator of the run per setting (nmt.serve flags, comma-separated, settings separated by "/"; --slots 64 added),
warmed up, then driven as `serve_load.engine_alone` drives it (submit what has arrived, then a chunk of 8 decoder
steps) at --qps Poisson arrivals of test2016 sentences for --seconds, the settings taking turns round by round. Each of
the live queue's device calls is waited for where it is made, so that its time is its own and not the next call's
(this slows the search a little; the shares are what it is for): the chunks, the writes (encoding the arrivals), the
moves between lanes and the reads. Per setting and round: those seconds and their shares of the wall time, the
chunks, and per lane the chunks run, their median milliseconds a decoder step and the busy share of their slot-steps
(the state's `busy` count over lane x steps), with the busy share over all chunks; latency p50/p99. Writes
<--name>.json into --out. Measured on 2026-12-06 (2-core development machine; docs/serving.md, "Blocked candidate
selection and early shrink"): live_profile.json from the command above.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import serve_load  # noqa: E402

from nmt.tools.results import write_result  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHASES = ("_chunk", "write", "_move", "_read")


def instrument(live) -> tuple[dict, list]:
    """Wraps the live queue's device calls so that each waits for its results: (seconds by phase, one (lane, steps,
    busy slot-steps) record per chunk)."""
    import jax

    seconds, chunks = defaultdict(float), []

    def timed(name, fn):
        def call(*args, **kwargs):
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            jax.block_until_ready((live.state, live.memory))
            seconds[name] += time.perf_counter() - start
            if name == "_chunk" and int(live.state.steps):
                chunks.append((live.lane, int(live.state.steps), int(live.state.busy), time.perf_counter() - start))
            return out

        return call

    for name in PHASES:
        setattr(live, name, timed(name, getattr(live, name)))
    return seconds, chunks


def drive(translator, sentences: list[str], qps: float, seconds: float, seed: int) -> dict:
    live = translator._stream().live
    phases, chunks = instrument(live)
    _, latency, wall = serve_load.poisson_in_process(translator, sentences, qps, seconds, seed=seed)
    for name in PHASES:  # unwrapped again
        delattr(live, name)
    lanes = {}
    for lane in sorted({c[0] for c in chunks}):
        mine = [c for c in chunks if c[0] == lane]
        lanes[str(lane)] = {
            "chunks": len(mine),
            "ms_per_step": statistics.median(1e3 * c[3] / c[1] for c in mine),
            "busy_share": sum(c[2] for c in mine) / sum(lane * c[1] for c in mine),
        }
    return {
        "sentences_per_s": len(latency) / wall,
        "p50_ms": float(np.percentile(latency, 50) * 1e3),
        "p99_ms": float(np.percentile(latency, 99) * 1e3),
        "wall_s": wall,
        "seconds": {name.strip("_"): phases[name] for name in PHASES},
        "shares": {name.strip("_"): phases[name] / wall for name in PHASES},
        "chunks": len(chunks),
        "busy_share": sum(c[2] for c in chunks) / sum(c[0] * c[1] for c in chunks),
        "lanes": lanes,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=os.path.join(ROOT, "runs", "multi30k"))
    p.add_argument("--settings", required=True, help='nmt.serve flags per setting: comma-separated, "/" between')
    p.add_argument("--names", required=True, help="the settings' names, comma-separated")
    p.add_argument("--qps", type=float, default=110.0, help="offered Poisson load, sentences/s")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    p.add_argument("--name", default="live_profile")
    args = p.parse_args(argv)
    from nmt.tools.machine import describe

    run, sentences = serve_load.run_and_sentences(args.run)
    names, settings = args.names.split(","), args.settings.split("/")
    if len(names) != len(settings) or len(set(names)) != len(names):
        p.error(f"--names {args.names!r} must name each of the {len(settings)} settings once")
    flags = {name: [f for f in text.split(",") if f] + ["--slots", "64"] for name, text in zip(names, settings)}
    translators = serve_load.warmed_translators(run, flags)
    rounds = []
    for k in range(args.rounds):
        order = names if k % 2 == 0 else names[::-1]
        rounds.append({name: drive(translators[name], sentences, args.qps, args.seconds, k) for name in order})
        print(f"round {k + 1}: " + ", ".join(f"{n} busy share {r['busy_share']:.2f}" for n, r in rounds[-1].items()))
    result = {"machine": describe(), "run": args.run, "step": run.step, "flags": flags, "qps": args.qps}
    result["lane_cap"] = {name: t.lane_info()["lane_cap"] for name, t in translators.items()}
    result["rounds"] = rounds
    result["median"] = {
        name: {
            key: statistics.median(r[name][key] for r in rounds)
            for key in ("sentences_per_s", "p50_ms", "p99_ms", "busy_share", "chunks")
        }
        | {
            f"{phase}_share": statistics.median(r[name]["shares"][phase] for r in rounds)
            for phase in ("chunk", "write", "move", "read")
        }
        for name in names
    }
    write_result(args.out, args.name + ".json", result)


if __name__ == "__main__":
    main()
