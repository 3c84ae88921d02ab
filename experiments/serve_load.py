"""Load test of `python -m nmt.serve` against its offline search, its one-at-a-time self and OpenNMT-py's server.

    python experiments/serve_load.py                         # the default run, whole vocabulary and --shortlist 256
    python experiments/serve_load.py --variants whole --seconds 10 --no-peer     # a quick look

Everything runs on this machine, one server at a time, on 127.0.0.1 only, bounded in requests and seconds. Each
request is one test_2016_flickr sentence (taken in turn). For each nmt variant (beam 5, --slots 64; whole vocabulary,
and --shortlist 256):
- offline: `python -m nmt.bench decode --no-baseline` with the same flags (batch-1 latency over the first 50
  sentences; the 64-slot queue's sentences a second over 1,000), first, with no server running, and (in runs after
  serve_load_engines.json) once more after the variant's server (`offline_after`): the machine's speed drifts
  within a run, so `over_offline` holds the server to the faster of the two (up to that file, to the first alone);
- the engine alone: one live search in this process without HTTP, driven as the server's engines drive theirs, under
  a backlog of all 1,000 sentences and under the Poisson sweep below (`--no-engine-alone` leaves it out);
- one client, one sentence at a time: the same 50 sentences, 3 times each (the median per sentence, then over them):
  the HTTP + queue overhead is its median minus the offline batch-1 median (`overhead_ms`), and, paired,
  the median over sentences of each one's latency minus its bare batch-1 search run in this process just before
  each request (`paired_overhead_ms`; from 2026-12-06 on): the offline figure is minutes and a process away, and the
  machine's speed drifts between the two by more than the overhead;
- closed loop: 1, 4, 16 and 64 clients, each sending its next sentence when the last is answered;
- Poisson: MLPerf's LoadGen (`mlcommons-loadgen`, the Server scenario, as MLPerf's GNMT benchmark) at each offered
  load of the sweep; the sweep of a variant stops after the first load it cannot sustain.
The *before*: the same server with --slots 1 --engines 1 (one sentence at a time, a batch-1 search). The peer:
OpenNMT-py 3.5.1's `onmt_server` (Flask on waitress) serving its `rnn.yaml` model from runs/opennmt_peer/ (set up by
experiments/opennmt_race.py --set-up-only, then trained with its own `train_timed.py`: the figures of 2026-12-05 used
`TRAIN_BUDGET_S=600`, 500 steps, train perplexity 15), beam 5, batch 32, 2 threads, with loads of its own (Flask and
waitress are installed into its venv the first time).

Each point: achieved sentences a second, latency p50/p90/p99 from the client (issue to answer), the server's queue
and compute milliseconds (nmt only), errors, and LoadGen's verdict (Poisson). A load is *sustained* when at least 95%
of the requests issued were answered, none failed and p99 <= --p99-ms. Writes serve_load.json and serve_load.png
(latency against offered load) into --out. The results file of 2026-12-05 came from
    python experiments/serve_load.py --seconds 15 --loads 50,100,125,140,150,160,175,200,225,250,275,300,325,350 \
        --before-loads 25,50,60,70 --peer-loads 4,6,8,10,12
and README's Serve section quotes its OpenNMT-py figures, beside serve_load_cap16.json from
    python experiments/serve_load.py --variants whole --seconds 15 --loads 100,125,140,150,160 --before-loads 25 \
        --clients 16 --no-peer --lane-cap 16 --name serve_load_cap16

Whether the host's work between chunks overlaps the next chunk (`nmt.serve --overlap`; docs/serving.md), as measured on
2026-12-06 (the files serve_load_overlap.json and serve_load_overlap_shortlist.json):
    python experiments/serve_load.py --variants whole,whole_overlap --no-peer --seconds 15 \
        --loads 100,115,125,140,150 --before-loads 25 --clients 64 --name serve_load_overlap
    python experiments/serve_load.py --variants shortlist256_overlap,shortlist256 --no-peer --seconds 15 \
        --loads 150,175,200,225,250,275 --before-loads 25 --clients 64 --name serve_load_overlap_shortlist

A lane cap of 24 and the encoder unrolled by 8, beside the server as it is (2026-12-06, serve_load_levers.json; in
docs/serving.md):
    python experiments/serve_load.py --variants whole,whole_cap24,whole_unroll8 --no-peer --seconds 15 \
        --loads 100,115,125,140,150,160 --before-loads 25 --clients 64 --name serve_load_levers
    python experiments/serve_load.py --variants whole_unroll8,whole_cap24,whole --no-peer --seconds 15 \
        --loads 100,115,125,140 --before-loads 25 --clients 64 --name serve_load_levers_reversed

The 8 ms budget's servers and lazy writes (2026-12-06, serve_load_lazy.json), the interpreter's switch interval with
the one-at-a-time overhead paired (serve_load_switch.json), and chunks of 4 decoder steps (serve_load_chunk4.json, then the other order); in
docs/serving.md, beside experiments/live_ab.py's in-process turns and experiments/serve_turns.py's servers in turns:
    python experiments/serve_load.py --variants whole,whole_lazy,shortlist256_lazy,shortlist256 --no-peer --seconds 15 \
        --loads 100,115,125,140,150,160,175,200,225,250 --before-loads 25 --clients 16,64 --name serve_load_lazy
    python experiments/serve_load.py --variants whole_lazy_switch,whole_lazy,shortlist256_lazy,shortlist256_lazy_switch \
        --no-peer --no-engine-alone --seconds 15 --loads 100,115,125,140,150,160,175,200,225 --before-loads 25 \
        --clients 64 --name serve_load_switch
    python experiments/serve_load.py --variants whole_chunk4,whole --no-peer --no-engine-alone --seconds 15 \
        --loads 100,115,125,140,150 --before-loads 25 --clients 64 --name serve_load_chunk4
    python experiments/serve_load.py --variants whole,whole_chunk4 --no-peer --no-engine-alone --seconds 15 \
        --loads 100,115,125,140,150 --before-loads 25 --clients 64 --name serve_load_chunk4_reversed

Blocked candidate selection (auto's choice from 2026-12-06 on; serve_load_blocked.json), then early shrink beside it
(the default since; serve_load_shrink.json, in docs/serving.md beside the two compared in turns by
experiments/serve_turns.py), the same servers that afternoon with the peer in the same run (serve_load_peer.json; the
peer retrained by its recipe for 600 s, model_step_509.pt; from then on each results file names the peer's
checkpoint), with two engines the default (serve_load_engines.json), and again an hour later with the offline search
measured after each server too and the servers' cores recorded (serve_load_after.json, the figures of README's Serve
section). A variant is flags over the server's defaults of the day:
    python experiments/serve_load.py --variants whole,shortlist256 --no-peer --seconds 15 \
        --loads 100,110,120,130,140,150,160,175,200,225,250 --before-loads 25 --clients 16,64 --name serve_load_blocked
    python experiments/serve_load.py --variants whole,shortlist256 --no-peer --seconds 15 \
        --loads 100,115,125,140,150,160,175,200,225,250,275 --before-loads 25,50 --clients 1,4,16,64 \
        --name serve_load_shrink
    python experiments/serve_load.py --variants whole,shortlist256 --seconds 15 \
        --loads 100,115,125,140,150,160,175,200,225,250,275 --before-loads 25,50 --peer-loads 2,4,6,8,10 \
        --clients 1,4,16,64 --name serve_load_peer           # and again: serve_load_engines, serve_load_after

The load generator runs on the same 2 cores as the server it measures, so every figure here includes the client's
own CPU time; each point records the share of a core the client used (`client_cpu_cores`) and the server's, in all and
by kind of thread (`server_cpu_cores`: nmt.serve's event loop, XLA's intra-op pool, the rest). Its HTTP client is
aiohttp: httpx took 2.3 times its CPU a request (0.17 of a core at 100 requests/s against 0.073).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import aiohttp
import httpx
import jax
import numpy as np

from nmt.tools.results import write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.path.join(ROOT, "runs", "opennmt_peer")
VARIANTS = {
    "whole": [],
    "shortlist256": ["--shortlist", "256"],
    "whole_stop_current": ["--stop", "current"],  # OpenNMT-py's stop rule (docs/decoding.md)
    "shortlist256_stop_current": ["--shortlist", "256", "--stop", "current"],
    "whole_overlap": ["--overlap"],  # the host's work between two chunks overlapping the next one
    "shortlist256_overlap": ["--shortlist", "256", "--overlap"],
    "whole_unroll8": ["--unroll", "8"],  # the encoder's recurrence unrolled by 8 (experiments/encoder_unroll.py)
    "whole_cap24": ["--lane-cap", "24"],  # a wider lane while sentences wait (nmt.decode.lanes)
    "whole_lazy": ["--lazy-writes"],  # arrivals held on the host while enough wait on the device (nmt.decode.live)
    "shortlist256_lazy": ["--shortlist", "256", "--lazy-writes"],
    "whole_chunk4": ["--chunk-steps", "4"],  # a look at new requests every 4 decoder steps (8 by default)
    # the engine thread waits less for the interpreter while the HTTP thread runs (Python's default: 5 ms)
    "whole_lazy_switch": ["--lazy-writes", "--switch-interval-ms", "0.5"],
    "shortlist256_lazy_switch": ["--shortlist", "256", "--lazy-writes", "--switch-interval-ms", "0.5"],
    # candidate selection with one top-k over each beam's logits, auto's choice before the blocked one (nmt.decode.topk)
    "whole_fused": ["--topk", "fused"],
    "shortlist256_blocked": ["--shortlist", "256", "--topk", "blocked"],
    # a chunk ends once the next narrower lane holds its sentences (nmt.decode.live; the default from 2026-12-06 on)
    "whole_shrink": ["--early-shrink"],
    "shortlist256_shrink": ["--shortlist", "256", "--early-shrink"],
    "whole_fixed": ["--no-early-shrink"],  # every chunk runs its --chunk-steps (the default before)
    "shortlist256_fixed": ["--shortlist", "256", "--no-early-shrink"],
    # engine threads, each with a live search of its own on the one device (nmt.serve.engine.Pool; 2 the default
    # from 2026-12-06 on, 1 before)
    "whole_engines2": ["--engines", "2"],
    "shortlist256_engines2": ["--shortlist", "256", "--engines", "2"],
    "whole_engines1": ["--engines", "1"],
    "shortlist256_engines1": ["--shortlist", "256", "--engines", "1"],
    "whole_engines3": ["--engines", "3"],
    "shortlist256_engines3": ["--shortlist", "256", "--engines", "3"],
}
# flags of the server (and of the engine alone), not of the offline search, and how many values each takes
SERVER_ONLY = {
    "--overlap": 0,
    "--lane-cap": 1,
    "--lazy-writes": 0,
    "--early-shrink": 0,
    "--no-early-shrink": 0,
    "--chunk-steps": 1,
    "--switch-interval-ms": 1,
    "--engines": 1,
}


def search_flags(flags: list[str]) -> list[str]:
    """A variant's flags that the offline search takes too."""
    out, skip = [], 0
    for flag in flags:
        if skip:
            skip -= 1
        elif flag in SERVER_ONLY:
            skip = SERVER_ONLY[flag]
        else:
            out.append(flag)
    return out


def flag_value(flags: list[str], name: str, default: int | None = None) -> int | None:
    """The number a server flag is given in a variant's flags (--lane-cap None: the server measures it)."""
    return int(flags[flags.index(name) + 1]) if name in flags else default


def run_and_sentences(run_dir: str) -> tuple:
    """The run of `run_dir` and the test_2016_flickr source sentences of its corpus: the requests of every load test."""
    from nmt.data.multi30k import locate
    from nmt.run import load_run

    run = load_run(run_dir)
    path = locate("test_2016_flickr", "en", "multi30k", run.config.data.dir)
    with (gzip.open if path.endswith(".gz") else open)(path, "rt", encoding="utf-8") as f:
        return run, [line.strip() for line in f]


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None}
    p = np.percentile(np.asarray(values) * 1000, [50, 90, 99])
    return {"p50_ms": float(p[0]), "p90_ms": float(p[1]), "p99_ms": float(p[2])}


class Target:
    """One server under test: how to ask it for one sentence, and what it answers; pid: its process, whose CPU each
    point records (`cpu_use`)."""

    def __init__(self, name: str, url: str, peer: bool, pid: int | None = None):
        self.name, self.url, self.peer, self.pid = name, url, peer, pid

    def request(self, sentence: str) -> tuple[str, dict]:
        if self.peer:
            return f"{self.url}/translator/translate", [{"src": sentence, "id": 100}]
        return f"{self.url}/v1/translate", {"text": [sentence]}

    def answer(self, body) -> tuple[str, float | None, float | None]:
        """(translation, queue ms, compute ms) from the JSON body of a 200 answer."""
        if self.peer:
            if not isinstance(body, list):
                raise RuntimeError(f"the peer answered {body}")
            return body[0][0]["tgt"], None, None
        return body["translations"][0]["text"], body["queue_ms"], body["compute_ms"]


class Recorder:
    def __init__(self):
        self.latency, self.queue, self.compute, self.errors = [], [], [], 0
        self.answers: dict[int, str] = {}

    async def one(self, http: aiohttp.ClientSession, target: Target, index: int, sentence: str) -> None:
        url, body = target.request(sentence)
        start = time.perf_counter()
        try:
            async with http.post(url, json=body, timeout=aiohttp.ClientTimeout(total=60)) as response:
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                text, queue, compute = target.answer(await response.json(content_type=None))
        except (TimeoutError, aiohttp.ClientError, RuntimeError, KeyError, ValueError):
            self.errors += 1
            return
        self.latency.append(time.perf_counter() - start)
        self.answers[index] = text
        if queue is not None:
            self.queue.append(queue / 1000)
            self.compute.append(compute / 1000)

    def summary(self, seconds: float) -> dict:
        queue, compute = _percentiles(self.queue), _percentiles(self.compute)
        return {
            "answered": len(self.latency),
            "errors": self.errors,
            "sentences_per_s": len(self.latency) / seconds,
            **_percentiles(self.latency),
            "queue_p50_ms": queue["p50_ms"],
            "queue_p99_ms": queue["p99_ms"],
            "compute_p50_ms": compute["p50_ms"],
            "compute_p99_ms": compute["p99_ms"],
            # longer translations take longer to search: the two servers' models are compared on this too
            "mean_output_words": statistics.mean(len(t.split()) for t in self.answers.values())
            if self.answers
            else None,
        }


def _client() -> aiohttp.ClientSession:
    """The load generator's HTTP client (inside a running event loop): aiohttp, whose C parser costs the shared
    cores less a request than httpx (`client_cpu_cores`)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))


def one_at_a_time(target: Target, sentences: list[str], repeats: int = 3, bare=None) -> dict:
    """The median over sentences of each sentence's median latency, one request in flight at a time. bare: for each
    sentence, a call of the bare batch-1 search in this process (`bare_batch1`), run just before each of its requests
    while the server idles: the overhead is then paired with a search of the same sentence in the same second, free of
    the machine's drift between processes and minutes."""

    async def go():
        per, alone = [[] for _ in sentences], [[] for _ in sentences]
        async with _client() as http:
            for _ in range(repeats):
                for i, s in enumerate(sentences):
                    if bare is not None:
                        start = time.perf_counter()
                        jax.block_until_ready(bare[i]())
                        alone[i].append(time.perf_counter() - start)
                    rec = Recorder()
                    await rec.one(http, target, i, s)
                    per[i].extend(rec.latency)
        return per, alone

    per, alone = asyncio.run(go())
    out = {"p50_ms": 1000 * statistics.median(statistics.median(x) for x in per if x)}
    out.update(sentences=sum(1 for x in per if x), repeats=repeats)
    if bare is not None:
        out["bare_p50_ms"] = 1000 * statistics.median(statistics.median(x) for x in alone)
        out["paired_overhead_ms"] = 1000 * statistics.median(
            statistics.median(x) - statistics.median(y) for x, y in zip(per, alone) if x
        )
    return out


def bare_batch1(translator, sentences: list[str]) -> list:
    """For each sentence, a call of the compiled batch-1 search that `nmt.bench decode` times (`beam_decode` of the
    sentence alone, padded to its bucket; its shortlist made on the host inside the call), compiled here first."""
    from nmt.decode import beam_decode
    from nmt.decode.search import max_output_len
    from nmt.tools.bench_decode import server_batches

    ((model, params),) = translator.models
    lists = (lambda src: None) if translator.shortlister is None else translator.shortlister
    ids = [x[: max(translator.buckets) - 1] for x in translator.sp.encode(sentences)]
    calls = []
    for one in ids:
        (batch,) = server_batches([one], translator.buckets, 1)
        src, cfg = batch["src"], translator.cfg
        calls.append(
            lambda src=src: beam_decode(
                model,
                params,
                src,
                cfg,
                max_output_len(src.shape[1], cfg),
                shortlist=lists(src),
                projected=translator.projected,
            )["tokens"]
        )
    for call in calls:
        jax.block_until_ready(call())
    return calls


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """{thread id: (its name, its CPU seconds so far)} of a process's threads (Linux)."""
    out, tick = {}, os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                name, fields = f.read().split("(", 1)[1].rsplit(")", 1)
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            continue
        fields = fields.split()
        out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return out


def server_cpu(pid: int) -> dict[str, float]:
    """A server's CPU seconds so far by kind of thread: its main thread (nmt.serve's HTTP event loop), XLA's
    intra-op pool (`tf_XLAEigen` threads), and the others (nmt.serve's engine threads and the XLA runtime's threads
    that run the programs they call: their names do not tell them apart)."""
    out = {"main_thread": 0.0, "xla_pool": 0.0, "other_threads": 0.0}
    for tid, (name, seconds) in thread_cpu(pid).items():
        out["main_thread" if tid == pid else "xla_pool" if name == "tf_XLAEigen" else "other_threads"] += seconds
    return out


def cpu_use(fn, target: Target, *args) -> dict:
    """fn(target, *args) with the share of a core that this process (the load generator, which on 2 cores takes it
    from the server under test) used meanwhile, and the server's by kind of thread (`server_cpu`) and in all."""
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    server = server_cpu(target.pid) if target.pid else None
    out = fn(target, *args)
    after, seconds = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - start
    used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    out = {**out, "client_cpu_cores": used / seconds}
    if server is not None:
        now = server_cpu(target.pid)
        cores = {kind: (now[kind] - server[kind]) / seconds for kind in now}
        out["server_cpu_cores"] = {"total": sum(cores.values()), **cores}
    return out


def closed_loop(target: Target, sentences: list[str], clients: int, seconds: float, max_requests: int) -> dict:
    async def go():
        rec, counter, end = Recorder(), iter(range(max_requests)), time.perf_counter() + seconds

        async def client():
            for n in counter:
                if time.perf_counter() > end:
                    return
                await rec.one(http, target, n, sentences[n % len(sentences)])

        start = time.perf_counter()
        async with _client() as http:
            await asyncio.gather(*(client() for _ in range(clients)))
        return rec.summary(time.perf_counter() - start)

    return {"clients": clients, **asyncio.run(go())}


async def _open() -> aiohttp.ClientSession:
    return _client()


def poisson(target: Target, sentences: list[str], qps: float, seconds: float, p99_ms: float, log_dir: str) -> dict:
    """LoadGen's Server scenario at `qps` for `seconds`: Poisson arrivals, one sentence a query."""
    import mlperf_loadgen as lg

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    http = asyncio.run_coroutine_threadsafe(_open(), loop).result()
    rec = Recorder()

    async def query(sample):
        await rec.one(http, target, sample.index, sentences[sample.index])
        lg.QuerySamplesComplete([lg.QuerySampleResponse(sample.id, 0, 0)])

    issued = []

    def issue(samples):
        issued.extend(s.index for s in samples)
        for sample in samples:
            asyncio.run_coroutine_threadsafe(query(sample), loop)

    settings = lg.TestSettings()
    settings.scenario, settings.mode = lg.TestScenario.Server, lg.TestMode.PerformanceOnly
    settings.server_target_qps = qps
    settings.server_target_latency_ns = int(p99_ms * 1e6)
    settings.server_target_latency_percentile = 0.99
    settings.min_duration_ms = settings.max_duration_ms = int(seconds * 1000)
    settings.min_query_count, settings.max_query_count = 1, int(qps * seconds * 2) + 10
    log = lg.LogSettings()
    log.log_output.outdir, log.log_output.copy_summary_to_stdout = log_dir, False
    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(len(sentences), len(sentences), lambda _: None, lambda _: None)
    start = time.perf_counter()
    lg.StartTestWithLogSettings(sut, qsl, settings, log)
    elapsed = time.perf_counter() - start
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    asyncio.run_coroutine_threadsafe(http.close(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    with open(os.path.join(log_dir, "mlperf_log_summary.txt")) as f:
        summary = f.read()
    verdict = "VALID" if "Result is : VALID" in summary else "INVALID"
    out = {"offered_per_s": qps, "issued": len(issued), **rec.summary(elapsed), "loadgen": verdict}
    out["sustained"] = bool(
        out["errors"] == 0
        and out["answered"] >= 0.95 * len(issued)
        and out["p99_ms"] is not None
        and out["p99_ms"] <= p99_ms
    )
    return out


def highest_sustained(points: list[dict]) -> float:
    """The highest offered load of Poisson points that was sustained (0: none)."""
    return max((p["offered_per_s"] for p in points if p["sustained"]), default=0.0)


def search_translator(run, flags: list[str]):
    """A Translator in this process with a variant's search flags, lane cap, overlap and writes."""
    import argparse

    from nmt import cli_search
    from nmt.run.lexicon import lexicon_for_run
    from nmt.run.translation import translator_for

    parser = argparse.ArgumentParser()
    cli_search.add_search_args(parser)
    cli_search.add_unroll_arg(parser)
    options = parser.parse_args(["--beam", "5", *search_flags(flags)])
    lister = cli_search.shortlister(options, lambda: lexicon_for_run(run))
    translator = translator_for(
        run, cli_search.beam_config(options), 1, lister, cli_search.slots(options), unroll=cli_search.unroll(options)
    )
    translator.lane_cap, translator.overlap = flag_value(flags, "--lane-cap"), "--overlap" in flags
    translator.lazy_writes, translator.early_shrink = "--lazy-writes" in flags, "--no-early-shrink" not in flags
    return translator


def warmed_translators(run, flags: dict[str, list[str]]) -> dict:
    """{name: a warmed-up Translator with those flags (`search_translator`)}, all with the lane cap the first one
    measures at warm-up unless their flags give one, so that settings compared in one process differ in their own
    flags only."""
    translators = {}
    for name, own in flags.items():
        translator = search_translator(run, own)
        if translators and translator.lane_cap is None:
            translator.lane_cap = next(iter(translators.values())).lane_info()["lane_cap"]
        translator.warm()
        translators[name] = translator
    return translators


def poisson_in_process(translator, sentences: list[str], qps: float, seconds: float, steps: int = 8, seed: int = 0):
    """Poisson arrivals at `qps` for `seconds`, one sentence each, driven as the server's engine drives its Translator
    (submit what has arrived, then a chunk of `steps` decoder steps): (arrival times, latencies in s, elapsed s)."""
    arrivals = np.cumsum(np.random.default_rng(seed).exponential(1 / qps, int(qps * seconds)))
    when, latency, k, start = {}, [], 0, time.perf_counter()
    while k < len(arrivals) or not translator.idle():
        now = time.perf_counter() - start
        while k < len(arrivals) and arrivals[k] <= now:
            when[translator.submit([sentences[k % len(sentences)]])] = arrivals[k]
            k += 1
        if translator.idle():
            time.sleep(max(0.0, arrivals[k] - now))
            continue
        for ticket in translator.collect(steps):
            latency.append(time.perf_counter() - start - when.pop(ticket))
    return arrivals, latency, time.perf_counter() - start


def backlog(translator, sentences: list[str], steps: int = 8) -> None:
    """Every sentence submitted at once, one a ticket, then chunks of `steps` decoder steps until all are done."""
    for s in sentences:
        translator.submit([s])
    while not translator.idle():
        translator.collect(steps)


def engine_alone(
    translator, sentences: list[str], loads: list[float], args, steps: int = 8, stop_at_first_miss: bool = True
) -> dict:
    """The same search without HTTP: a Translator in this process (`search_translator`) driven as the server's
    engine drives it (submit what has arrived, run a chunk of decoder steps), under a backlog of every sentence at once
    and under Poisson arrivals at each load; what the server loses to HTTP, the client and their share of the CPU is
    the difference. The translator is warmed up already."""
    start = time.perf_counter()
    backlog(translator, sentences, steps)
    out = {"backlog_sentences_per_s": len(sentences) / (time.perf_counter() - start), "poisson": []}
    out["lanes"] = translator.lane_info()  # the cap its warm-up measured, each lane's step
    print(
        f"  engine alone, a backlog of {len(sentences)}: {out['backlog_sentences_per_s']:.1f} sentences/s", flush=True
    )
    for qps in loads:
        arrivals, latency, elapsed = poisson_in_process(translator, sentences, qps, args.seconds, steps)
        # the arrivals' own rate (a Poisson process's last arrival is not exactly at len / qps)
        point = {"offered_per_s": qps, "arrived_per_s": len(arrivals) / arrivals[-1]}
        point.update(sentences_per_s=len(latency) / elapsed, **_percentiles(latency))
        point["sustained"] = bool(
            point["sentences_per_s"] >= 0.95 * point["arrived_per_s"] and point["p99_ms"] <= args.p99_ms
        )
        out["poisson"].append(point)
        print(f"  engine alone, Poisson {qps:g}/s: {json.dumps(point)}", flush=True)
        if not point["sustained"] and stop_at_first_miss:
            break
    out["highest_sustained_per_s"] = highest_sustained(out["poisson"])
    return out


def _wait(url: str, proc: subprocess.Popen, path: str, seconds: float = 600) -> None:
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server at {url} exited with {proc.returncode}")
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server at {url} did not get ready in {seconds} s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_nmt(run: str, port: int, flags: list[str], log) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "nmt.serve", "--run", run, "--port", str(port), "--beam", "5", *flags]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    _wait(f"http://127.0.0.1:{port}", proc, "/health/ready")
    return proc


def peer_model(work: str = PEER) -> str:
    """The peer's latest checkpoint in `work`/run (model_step_N.pt, N its training steps)."""
    return max(
        (f for f in os.listdir(os.path.join(work, "run")) if f.startswith("model_step_") and f.endswith(".pt")),
        key=lambda f: int(f[len("model_step_") : -3]),
    )


def start_peer(port: int, vocab: str, log, work: str = PEER) -> subprocess.Popen:
    model = peer_model(work)
    conf = {
        "models_root": os.path.join(work, "run"),
        "models": [
            {
                "id": 100,
                "model": model,
                "timeout": -1,
                "load": True,
                "opt": {"gpu": -1, "beam_size": 5, "batch_size": 32, "max_length": 100},
                "tokenizer": {"type": "sentencepiece", "model": os.path.abspath(vocab)},
            }
        ],
    }
    path = os.path.join(work, "serve_conf.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    python = os.path.join(work, "venv", "bin", "python")
    if subprocess.run([python, "-c", "import flask, waitress"], capture_output=True).returncode:
        # onmt_server's own dependencies, which the training recipe does not install
        subprocess.run([python, "-m", "pip", "install", "-q", "flask", "waitress"], check=True)
    server = os.path.join(work, "venv", "bin", "onmt_server")
    cmd = [server, "--ip", "127.0.0.1", "--port", str(port), "--model_config", path]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=work, env=env)
    _wait(f"http://127.0.0.1:{port}", proc, "/translator/health")
    return proc


def offline(run: str, flags: list[str], sentences: int) -> dict:
    cmd = [sys.executable, "-m", "nmt.bench", "decode", "--run", run, "--no-baseline", "--beam", "5"]
    cmd += ["--sentences", str(sentences), *flags]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def sweep(target: Target, sentences, loads: list[float], args, log_dir: str) -> list[dict]:
    points = []
    for qps in loads:
        point = cpu_use(poisson, target, sentences, qps, args.seconds, args.p99_ms, log_dir)
        points.append(point)
        print(f"  {target.name} Poisson {qps:g}/s: {json.dumps(point)}", flush=True)
        if not point["sustained"]:
            break
    return points


def measure(target: Target, sentences, loads, clients, args, log_dir) -> dict:
    out = {"closed_loop": []}
    for n in clients:
        point = cpu_use(closed_loop, target, sentences, n, args.seconds, args.max_requests)
        out["closed_loop"].append(point)
        print(f"  {target.name} {n} clients: {json.dumps(point)}", flush=True)
    out["poisson"] = sweep(target, sentences, loads, args, log_dir)
    out["highest_sustained_per_s"] = highest_sustained(out["poisson"])
    # every load offered was sustained: the highest one is only a lower bound on what the server sustains
    out["lower_bound"] = bool(out["poisson"]) and out["poisson"][-1]["sustained"]
    return out


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def plot(result: dict, path: str, p99_ms: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, side in result["servers"].items():
        points = side["poisson"]
        if points:
            ax.plot([p["offered_per_s"] for p in points], [p["p99_ms"] for p in points], "o-", label=f"{name} p99")
            ax.plot(
                [p["offered_per_s"] for p in points], [p["p50_ms"] for p in points], ":", color=ax.lines[-1].get_color()
            )
    ax.axhline(p99_ms, color="grey", lw=0.8, ls="--")
    ax.set(xscale="log", yscale="log", xlabel="offered load (Poisson), sentences/s", ylabel="latency, ms (dotted: p50)")
    machine = result["machine"]
    ax.set_title(f"python experiments/serve_load.py: {machine['cpu']}, {machine['cores']} cores", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=os.path.join(ROOT, "runs", "multi30k"), help="the nmt run to serve")
    p.add_argument("--variants", default="whole,shortlist256", help=f"nmt variants, of {list(VARIANTS)}")
    p.add_argument("--loads", default="25,50,75,100,125,150,200,250,300,400", help="nmt's offered loads (/s)")
    p.add_argument("--before-loads", default="10,25,50,75,100,125,150", help="the one-at-a-time server's loads")
    p.add_argument("--peer-loads", default="1,2,4,6,8,10,12,16", help="the peer's offered loads (/s)")
    p.add_argument("--clients", default="1,4,16,64", help="closed-loop clients")
    p.add_argument("--seconds", type=float, default=20.0, help="seconds of each load point")
    p.add_argument("--max-requests", type=int, default=20000, help="requests of a closed-loop point at most")
    p.add_argument("--p99-ms", type=float, default=500.0, help="the latency bound of a sustained load")
    p.add_argument("--offline-sentences", type=int, default=1000, help="sentences of the offline throughput")
    p.add_argument("--no-engine-alone", action="store_true", help="leave out the search without HTTP")
    p.add_argument("--lane-cap", type=int, help="nmt.serve's --lane-cap, the search's too (default: each measures it)")
    p.add_argument("--no-peer", action="store_true", help="leave OpenNMT-py's server out")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--out", default=os.path.join(ROOT, "experiments", "results"))
    p.add_argument("--name", default="serve_load", help="the result files' name (.json, .png)")
    args = p.parse_args(argv)
    from nmt.config import get_config
    from nmt.data import load_data
    from nmt.tools.machine import describe

    run, sentences = run_and_sentences(args.run)
    clients = [int(x) for x in args.clients.split(",")]
    url = f"http://127.0.0.1:{args.port}"
    result = {"machine": describe(), "run": args.run, "step": run.step, "seconds": args.seconds, "p99_ms": args.p99_ms}
    result["servers"], result["offline"], result["one_at_a_time"] = {}, {}, {}
    logs = tempfile.mkdtemp(prefix="serve_load_")
    with open(os.path.join(logs, "servers.log"), "w") as log:
        for variant in args.variants.split(","):
            flags = [*VARIANTS[variant], "--slots", "64"]
            if args.lane_cap and "--lane-cap" not in flags:  # the script's cap, where the variant has none
                flags += ["--lane-cap", str(args.lane_cap)]
            result["offline"][variant] = off = offline(args.run, search_flags(flags), args.offline_sentences)
            print(f"{variant} offline: {json.dumps(off)}", flush=True)
            translator = search_translator(run, flags)
            if not args.no_engine_alone:  # one live search, whatever the server's --engines
                translator.warm()
                result.setdefault("engine_alone", {})[variant] = engine_alone(
                    translator, sentences, _floats(args.loads), args, flag_value(flags, "--chunk-steps", 8)
                )
            bare = bare_batch1(translator, sentences[:50])
            proc = start_nmt(args.run, args.port, flags, log)
            try:
                target = Target(variant, url, peer=False, pid=proc.pid)
                single = one_at_a_time(target, sentences[:50], bare=bare)
                single["overhead_ms"] = single["p50_ms"] - off["latency_ms_batch1"]
                result["one_at_a_time"][variant] = single
                print(f"{variant} one at a time: {json.dumps(single)}", flush=True)
                side = measure(target, sentences, _floats(args.loads), clients, args, logs)
                side["server_info"] = httpx.get(url + "/v1/models").json()["models"][0]  # its measured lane cap
                result["servers"][variant] = side
            finally:
                stop_server(proc)
            # the offline search once more after the server: the machine's speed drifts within a run, and the
            # faster of the two is the figure the server is held to
            after = offline(args.run, search_flags(flags), args.offline_sentences)
            result.setdefault("offline_after", {})[variant] = after
            best = max(off["sentences_per_s_batch64"], after["sentences_per_s_batch64"])
            side["over_offline"] = side["highest_sustained_per_s"] / best
        # one sentence at a time: one slot, one engine (serve_load_engines.json's ran two engines of one slot each)
        proc = start_nmt(args.run, args.port, ["--slots", "1", "--engines", "1"], log)
        try:
            result["servers"]["before"] = measure(
                Target("before", url, peer=False, pid=proc.pid),
                sentences,
                _floats(args.before_loads),
                clients,
                args,
                logs,
            )
        finally:
            stop_server(proc)
        if not args.no_peer:
            vocab = load_data(get_config("opennmt_rnn").data).vocab_path  # the pieces the peer was trained on
            proc = start_peer(args.port, vocab, log)
            try:
                result["servers"]["opennmt_py"] = measure(
                    Target("opennmt_py", url, peer=True, pid=proc.pid),
                    sentences,
                    _floats(args.peer_loads),
                    clients[:3],
                    args,
                    logs,
                )
                result["servers"]["opennmt_py"]["model"] = peer_model(PEER)
            finally:
                stop_server(proc)
    peer = result["servers"].get("opennmt_py", {}).get("highest_sustained_per_s")
    for side in result["servers"].values():
        if peer:
            side["over_peer"] = side["highest_sustained_per_s"] / peer
    os.makedirs(args.out, exist_ok=True)
    plot(result, os.path.join(args.out, args.name + ".png"), args.p99_ms)
    write_result(args.out, args.name + ".json", result)


if __name__ == "__main__":
    main()
