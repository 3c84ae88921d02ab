"""Two settings of the live search (`nmt.decode.live`) in one process, in turns: the server's engine without HTTP.

    python experiments/live_ab.py --b=--lazy-writes --names eager,lazy --name lazy_writes
    python experiments/live_ab.py --b=--chunk-steps,4 --names chunk8,chunk4 --name chunk_steps
    python experiments/live_ab.py --a=--shortlist,256 --b=--shortlist,256,--lazy-writes --names eager,lazy
    python experiments/live_ab.py --a=--no-early-shrink --b=--early-shrink --names fixed,shrink --loads 100,115,125 \
        --name early_shrink

Two translators of the same run, each with its nmt.serve flags (--a, --b: comma-separated; --slots 64 added), with
the same lane cap (the one the first measures at warm-up, unless the flags give one), driven as the server's engine
drives them (`serve_load.engine_alone`: submit what has arrived, then a chunk of --chunk-steps decoder steps, 8 unless
the flags say). Each round runs both, their order alternating by round: under a backlog of the 1,000 test2016
sentences, then under Poisson arrivals at each of --loads for --seconds. Reported per setting: the medians over rounds
of sentences a second and p50/p99 latency, and the encoder calls a sentence; and the ratios b / a of the backlog's
sentences a second, round by round. Writes <--name>.json into --out. Measured on 2026-12-06 (2-core development
machine; docs/serving.md): lazy_writes.json and chunk_steps.json from the first two commands, early_shrink.json from the
last (run as `--b=--early-shrink` while fixed chunks were the default: the same two settings).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import serve_load  # noqa: E402

from nmt.tools.results import write_result  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one_round(translators: dict, sentences: list[str], loads: list[float], args) -> dict:
    out = {}
    for name, (translator, steps) in translators.items():
        before = translator.lane_info()
        point = serve_load.engine_alone(translator, sentences, loads, args, steps, stop_at_first_miss=False)
        after = translator.lane_info()
        point["encoder_calls_per_sentence"] = (after["encoder_calls"] - before["encoder_calls"]) / (
            after["written"] - before["written"]
        )
        out[name] = point
    return out


def summary(rounds: list[dict], names: list[str]) -> dict:
    med = statistics.median
    out = {}
    for name in names:
        points = [r[name] for r in rounds]
        out[name] = {
            "backlog_sentences_per_s": med([p["backlog_sentences_per_s"] for p in points]),
            "encoder_calls_per_sentence": med([p["encoder_calls_per_sentence"] for p in points]),
            "poisson": [
                {
                    "offered_per_s": ps[0]["offered_per_s"],
                    **{k: med([p[k] for p in ps]) for k in ("sentences_per_s", "p50_ms", "p99_ms")},
                    "sustained_rounds": sum(p["sustained"] for p in ps),
                }
                for ps in zip(*(p["poisson"] for p in points))
            ],
        }
    a, b = names
    ratios = [r[b]["backlog_sentences_per_s"] / r[a]["backlog_sentences_per_s"] for r in rounds]
    out["backlog_b_over_a"] = {"median": med(ratios), "per_round": ratios}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=os.path.join(ROOT, "runs", "multi30k"))
    p.add_argument("--a", default="", help="the first setting's nmt.serve flags, comma-separated (default: none)")
    p.add_argument("--b", required=True, help="the second setting's nmt.serve flags, comma-separated")
    p.add_argument("--names", default="a,b", help="the two settings' names in the results")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--loads", default="100,115", help="Poisson loads (sentences/s)")
    p.add_argument("--seconds", type=float, default=15.0, help="seconds of each Poisson load")
    p.add_argument("--p99-ms", type=float, default=500.0, help="the latency bound of a sustained load")
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    p.add_argument("--name", default="live_ab")
    args = p.parse_args(argv)
    from nmt.tools.machine import describe

    run, sentences = serve_load.run_and_sentences(args.run)
    names = args.names.split(",")
    if len(names) != 2 or names[0] == names[1]:
        p.error(f"--names takes two different names, got {args.names!r}")
    flags = {name: [f for f in text.split(",") if f] + ["--slots", "64"] for name, text in zip(names, (args.a, args.b))}
    translators = {
        name: (translator, serve_load.flag_value(flags[name], "--chunk-steps", 8))
        for name, translator in serve_load.warmed_translators(run, flags).items()
    }
    loads = [float(x) for x in args.loads.split(",")]
    rounds = []
    for k in range(args.rounds):
        order = names if k % 2 == 0 else names[::-1]
        rounds.append(one_round({name: translators[name] for name in order}, sentences, loads, args))
        print(
            f"round {k + 1}: " + ", ".join(f"{n} {r['backlog_sentences_per_s']:.1f}/s" for n, r in rounds[-1].items())
        )
    result = {"machine": describe(), "run": args.run, "step": run.step, "flags": flags, "seconds": args.seconds}
    caps = {name: t.lane_info()["lane_cap"] for name, (t, _) in translators.items()}
    result.update(lane_cap=caps, rounds=rounds, **summary(rounds, names))
    write_result(args.out, args.name + ".json", result)


if __name__ == "__main__":
    main()
