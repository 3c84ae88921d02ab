"""`python -m nmt.serve` variants measured in turns: every server up at once, each measurement point run on each in turn.

    python experiments/serve_turns.py --variants whole,whole_chunk4 --loads 100,115,125,140 --name serve_turns_chunk4
    python experiments/serve_turns.py --variants whole,whole_unroll8 --lane-cap 24 --loads 100,115,125,140 \
        --name serve_turns_unroll8
    python experiments/serve_turns.py --variants whole,whole_fused --loads 100,115,125,140,150,160 \
        --name serve_turns_blocked       # --topk auto (blocked) against fused
    python experiments/serve_turns.py --variants whole_fixed,whole_shrink --loads 100,115,125,140,150,160 \
        --name serve_turns_shrink        # --early-shrink against fixed chunks
    python experiments/serve_turns.py --variants whole,whole_engines3,shortlist256,shortlist256_engines3 \
        --loads 100,115,125,140,150,160,175,200,225,250,275 --name serve_turns_engines3    # three engines against two
    python experiments/serve_turns.py --variants shortlist256_engines3,shortlist256,whole_engines3,whole \
        --loads 100,115,125,140,150,160,175,200,225,250,275 --name serve_turns_engines3_reversed

A variant is flags over the server's defaults of the day, so `whole` in a results file is the server as it was then:
fused candidate selection and fixed chunks up to serve_turns_blocked.json, blocked selection and fixed chunks in
serve_turns_shrink.json (run as `--variants whole,whole_shrink` before early shrink became the default).

experiments/serve_load.py measures its variants one after the other, minutes apart, and this machine's speed drifts
by more than most levers are worth between them. Here every variant's server (serve_load.py's VARIANTS, beam 5,
--slots 64, each on its own loopback port) is started and warmed up first, one at a time (an idle server takes no CPU),
and then each point is measured on every server in turn, the order alternating from point to point: one client one
sentence at a time (the overhead paired with the bare batch-1 search in this process, as serve_load.py pairs it),
closed-loop clients (--clients), and MLPerf LoadGen's Poisson loads (--loads; a server leaves the sweep after its first
load it does not sustain: p99 <= --p99-ms, 95% answered, no errors). The same bounds as serve_load.py: loopback only,
--seconds a point. Writes <--name>.json into --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import serve_load  # noqa: E402

from nmt.tools.results import write_result  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def in_turns(variants: list[str], turn: int) -> list[str]:
    return variants if turn % 2 == 0 else variants[::-1]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=os.path.join(ROOT, "runs", "multi30k"))
    p.add_argument("--variants", required=True, help=f"two or more of {list(serve_load.VARIANTS)}")
    p.add_argument("--loads", default="100,115,125,140", help="offered Poisson loads (sentences/s)")
    p.add_argument("--clients", default="64", help="closed-loop clients")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--max-requests", type=int, default=20000)
    p.add_argument("--p99-ms", type=float, default=500.0)
    p.add_argument(
        "--lane-cap", type=int, help="every server's --lane-cap, where its variant has none (default: measured)"
    )
    p.add_argument("--port", type=int, default=8090, help="the first server's port; the others follow")
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    p.add_argument("--name", default="serve_turns")
    args = p.parse_args(argv)
    from nmt.tools.machine import describe

    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in serve_load.VARIANTS]
    if unknown or len(variants) < 2:
        p.error(f"--variants takes two or more of {list(serve_load.VARIANTS)}, got {args.variants!r}")
    run, sentences = serve_load.run_and_sentences(args.run)
    flags = {v: [*serve_load.VARIANTS[v], "--slots", "64"] for v in variants}
    for v in variants:  # one cap for all, so that the variants differ in their own flags only
        if args.lane_cap and "--lane-cap" not in flags[v]:
            flags[v] += ["--lane-cap", str(args.lane_cap)]
    bare = {v: serve_load.bare_batch1(serve_load.search_translator(run, flags[v]), sentences[:50]) for v in variants}
    result = {"machine": describe(), "run": args.run, "step": run.step, "seconds": args.seconds, "p99_ms": args.p99_ms}
    result["servers"] = {v: {"flags": flags[v], "closed_loop": [], "poisson": []} for v in variants}
    logs, procs, targets = tempfile.mkdtemp(prefix="serve_turns_"), [], {}
    try:
        with open(os.path.join(logs, "servers.log"), "w") as log:
            for i, v in enumerate(variants):
                procs.append(serve_load.start_nmt(args.run, args.port + i, flags[v], log))
                targets[v] = serve_load.Target(v, f"http://127.0.0.1:{args.port + i}", peer=False, pid=procs[-1].pid)
                info = httpx.get(targets[v].url + "/v1/models").json()["models"][0]
                result["servers"][v]["server_info"] = info
            turn = 0
            for v in in_turns(variants, turn):
                single = serve_load.one_at_a_time(targets[v], sentences[:50], bare=bare[v])
                result["servers"][v]["one_at_a_time"] = single
                print(f"{v} one at a time: {json.dumps(single)}", flush=True)
            for n in [int(x) for x in args.clients.split(",")]:
                turn += 1
                for v in in_turns(variants, turn):
                    point = serve_load.cpu_use(
                        serve_load.closed_loop, targets[v], sentences, n, args.seconds, args.max_requests
                    )
                    result["servers"][v]["closed_loop"].append(point)
                    print(f"{v} {n} clients: {json.dumps(point)}", flush=True)
            going = set(variants)
            for qps in [float(x) for x in args.loads.split(",")]:
                turn += 1
                for v in [v for v in in_turns(variants, turn) if v in going]:
                    point = serve_load.cpu_use(
                        serve_load.poisson, targets[v], sentences, qps, args.seconds, args.p99_ms, logs
                    )
                    result["servers"][v]["poisson"].append(point)
                    print(f"{v} Poisson {qps:g}/s: {json.dumps(point)}", flush=True)
                    if not point["sustained"]:
                        going.discard(v)
    finally:
        for proc in procs:
            serve_load.stop_server(proc)
    for side in result["servers"].values():
        side["highest_sustained_per_s"] = serve_load.highest_sustained(side["poisson"])
    write_result(args.out, args.name + ".json", result)


if __name__ == "__main__":
    main()
