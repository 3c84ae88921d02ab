"""Soak of `python -m nmt.serve`: minutes of Poisson load with malformed requests and clients that go away.

    python experiments/serve_soak.py --qps 112                    # 10 minutes at 112 sentences/s (serve_soak.json)
    python experiments/serve_soak.py --qps 120 --minutes 1        # a quick look

The server (the default run, beam 5, --slots 64, 127.0.0.1 only) first translates every test_2016_flickr sentence
once, 64 a request: those are the expected answers. Then for --minutes, requests of one sentence each arrive as a
Poisson process at --qps (the issue's 80% of the highest sustained load of experiments/serve_load.py), of which 1% are
malformed (invalid JSON, a wrong type, an unknown field: each must get 400) and 1% come from clients that go away
after a few milliseconds. Every other request must be answered 200 with the expected translation of its own
sentence: one that gets another sentence's translation is *mixed up*, one that gets no answer *lost*; any other
difference is reported apart (a search over other batch shapes may round differently). The server's resident memory
is read every 10 s; after --warmup-s it must stay within 5% of its first reading. Its log is searched for
tracebacks. Writes serve_soak.json into --out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import tempfile
import time

import httpx
from serve_load import ROOT, run_and_sentences, start_nmt, stop_server

from nmt.tools.results import write_result

MALFORMED = [
    b'{"text": ["a man rides a horse"',  # invalid JSON
    b'{"text": "a man rides a horse"}',  # text is not a list
    b'{"text": ["a man"], "colour": 3}',  # an unknown field
    b'{"text": ["a man"], "nbest": "two"}',  # a wrong type
]


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024


async def soak(url: str, sentences: list[str], expected: list[str], args, pid: int) -> dict:
    counts = dict(sent=0, ok=0, mixed=0, lost=0, other=0, malformed=0, malformed_ok=0, gone=0, errors=0)
    memory, rng = [], random.Random(0)
    others = {}
    for i, text in enumerate(expected):
        others.setdefault(text, set()).add(i)

    async def one(http: httpx.AsyncClient, n: int) -> None:
        roll = rng.random()
        if roll < 0.01:
            counts["malformed"] += 1
            r = await http.post(f"{url}/v1/translate", content=MALFORMED[n % len(MALFORMED)], timeout=60)
            counts["malformed_ok"] += r.status_code == 400
            return
        i = n % len(sentences)
        if roll < 0.02:
            counts["gone"] += 1
            try:
                await http.post(f"{url}/v1/translate", json={"text": [sentences[i]]}, timeout=rng.uniform(0.001, 0.05))
            except httpx.TimeoutException:
                pass
            return
        counts["sent"] += 1
        try:
            r = await http.post(f"{url}/v1/translate", json={"text": [sentences[i]]}, timeout=60)
        except httpx.HTTPError:
            counts["lost"] += 1
            return
        if r.status_code != 200:
            counts["errors"] += 1
            return
        got = r.json()["translations"][0]["text"]
        if got == expected[i]:
            counts["ok"] += 1
        elif i not in others.get(got, {i}):
            counts["mixed"] += 1
        else:
            counts["other"] += 1

    async def watch(end: float) -> None:
        start = time.monotonic()
        while time.monotonic() < end:
            memory.append((time.monotonic() - start, rss_mib(pid)))
            await asyncio.sleep(10)

    end = time.monotonic() + 60 * args.minutes
    tasks, n = [], 0
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits) as http:
        watcher = asyncio.ensure_future(watch(end))
        next_at = time.monotonic()
        while next_at < end:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            tasks.append(asyncio.ensure_future(one(http, n)))
            n += 1
            next_at += rng.expovariate(args.qps)
            if len(tasks) > 2000:
                tasks = [t for t in tasks if not t.done()]
        await asyncio.gather(*tasks)
        await watcher
    after = [m for t, m in memory if t >= args.warmup_s]
    counts["requests"] = n
    counts["rss_mib"] = memory
    counts["rss_growth_after_warmup"] = (max(after) / after[0] - 1) if after else None
    return counts


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=os.path.join(ROOT, "runs", "multi30k"))
    p.add_argument("--qps", type=float, required=True, help="offered sentences a second (Poisson)")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--warmup-s", type=float, default=60.0, help="seconds before resident memory must stay flat")
    p.add_argument("--flags", default="--slots 64", help="the server's search options")
    p.add_argument("--port", type=int, default=8092)
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    args = p.parse_args(argv)
    from nmt.tools.machine import describe

    run, sentences = run_and_sentences(args.run)
    url = f"http://127.0.0.1:{args.port}"
    log_path = os.path.join(tempfile.mkdtemp(prefix="serve_soak_"), "server.log")
    with open(log_path, "w") as log:
        proc = start_nmt(args.run, args.port, args.flags.split(), log)
        try:
            expected = []
            for k in range(0, len(sentences), 64):
                r = httpx.post(f"{url}/v1/translate", json={"text": sentences[k : k + 64]}, timeout=300)
                r.raise_for_status()
                expected += [t["text"] for t in r.json()["translations"]]
            result = asyncio.run(soak(url, sentences, expected, args, proc.pid))
        finally:
            stop_server(proc)
    with open(log_path) as f:
        server_log = f.read()
    result.update(
        machine=describe(),
        qps=args.qps,
        minutes=args.minutes,
        flags=args.flags,
        server_exit=proc.returncode,
        tracebacks=server_log.count("Traceback"),
    )
    result["passed"] = bool(
        result["mixed"] == 0
        and result["lost"] == 0
        and result["errors"] == 0
        and result["malformed_ok"] == result["malformed"]
        and result["tracebacks"] == 0
        and result["rss_growth_after_warmup"] is not None
        and result["rss_growth_after_warmup"] <= 0.05
    )
    write_result(args.out, "serve_soak.json", result)


if __name__ == "__main__":
    main()
