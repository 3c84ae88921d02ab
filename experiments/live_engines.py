"""One live search against several at once on the one device, in one process without HTTP (`nmt.serve --engines`).

    python experiments/live_engines.py --name live_engines
    python experiments/live_engines.py --flags=--shortlist,256 --name live_engines_shortlist

`nmt.serve --engines N` runs N engine threads, each with a live search of its own (`Translator.replica`), a request
going to the least busy. Here the same searches are driven as the server's engines drive them (submit, then chunks of 8
decoder steps until idle), each from its own thread, under a backlog of the 1,000 test2016 sentences dealt out in
turn; one search and N take turns for --rounds rounds, the order alternating by round. All take the lane cap the
first one measures at warm-up (as the server's engines do). Reported: sentences a second of each, their medians over
rounds, the ratios N / 1 round by round, and the share of a core each thread of the process used (XLA's own threads
show how much of the 2 cores one search leaves idle). Writes <--name>.json into --out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import serve_load  # noqa: E402

from nmt.tools.results import write_result  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dealt(translators: list, sentences: list[str]) -> dict:
    """The sentences dealt out among the translators, each driven by a thread of its own: sentences a second, and
    the busiest threads' shares of a core (the driving threads' own are gone with them)."""
    threads = [
        threading.Thread(target=serve_load.backlog, args=(t, sentences[i :: len(translators)]))
        for i, t in enumerate(translators)
    ]
    before, start = serve_load.thread_cpu(os.getpid()), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds, after = time.perf_counter() - start, serve_load.thread_cpu(os.getpid())
    shares = sorted(((after[t][1] - before.get(t, ("", 0.0))[1]) / seconds for t in after), reverse=True)
    return {"sentences_per_s": len(sentences) / seconds, "busiest_thread_cores": [round(s, 3) for s in shares[:6]]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=os.path.join(ROOT, "runs", "multi30k"))
    p.add_argument("--flags", default="", help="nmt.serve's search flags, comma-separated (--slots 64 added)")
    p.add_argument("--engines", type=int, default=2, help="searches at once, against one")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    p.add_argument("--name", default="live_engines")
    args = p.parse_args(argv)
    from nmt.tools.machine import describe

    run, sentences = serve_load.run_and_sentences(args.run)
    flags = [f for f in args.flags.split(",") if f] + ["--slots", "64"]
    warmed = serve_load.warmed_translators(run, {str(i): flags for i in range(args.engines)})
    translators = list(warmed.values())
    sides = {"1": translators[:1], str(args.engines): translators}
    rounds = []
    for k in range(args.rounds):
        order = list(sides) if k % 2 == 0 else list(sides)[::-1]
        rounds.append({name: dealt(sides[name], sentences) for name in order})
        print(f"round {k + 1}: " + ", ".join(f"{n}: {r['sentences_per_s']:.1f}/s" for n, r in rounds[-1].items()))
    n = str(args.engines)
    ratios = [r[n]["sentences_per_s"] / r["1"]["sentences_per_s"] for r in rounds]
    result = {"machine": describe(), "run": args.run, "step": run.step, "flags": flags, "engines": args.engines}
    result["lane_cap"] = translators[0].lane_info()["lane_cap"]
    result["rounds"] = rounds
    result["median_sentences_per_s"] = {s: statistics.median(r[s]["sentences_per_s"] for r in rounds) for s in sides}
    result["engines_over_one"] = {"median": statistics.median(ratios), "per_round": ratios}
    write_result(args.out, args.name + ".json", result)


if __name__ == "__main__":
    main()
