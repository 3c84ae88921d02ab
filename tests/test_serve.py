"""`python -m nmt.serve` as a client sees it: a real uvicorn server on 127.0.0.1 over a tiny trained run, a real
HTTP client (httpx); the same translations as nmt.translate, many clients at once, and every fault answered alone."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.helpers import ROOT, free_port, run_cli

LINES = [
    "the cat sees a dog",
    "a man eats a green apple",
    "",
    "red car drives fast",
    "woman runs",
    "the house",
    "big tree " * 30,
    "a small blue car",
    "the man sees the tree",
    "green apple",
]
OPTIONS = ["--beam", "3", "--slots", "4"]


def _start(run: str, port: str, *extra: str) -> subprocess.Popen:
    # one slot: the same translations as any other number of slots (tests/test_continuous.py), and requests that
    # stay in the queue long enough for a client to go away while they wait
    cmd = [
        sys.executable,
        "-m",
        "nmt.serve",
        "--run",
        run,
        "--port",
        port,
        "--beam",
        "3",
        "--slots",
        "1",
        "--nbest",
        "2",
        *extra,
    ]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, PYTHONPATH=ROOT, JAX_LOG_COMPILES="1"),
    )


def _wait_ready(url: str, proc: subprocess.Popen, seconds: float = 240) -> None:
    end = time.time() + seconds
    while time.time() < end:
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not get ready")


# a tiny run trained long enough to write real translations (the session's tiny_run ends most at once), so that
# requests keep the search busy for a while
RUN = os.path.join(ROOT, "tests", "data", "runs_2026_12_05", "luong_ema")


@pytest.fixture(scope="module")
def server():
    port = free_port()
    proc = _start(RUN, port, "--max-queue", "300", "--max-sentences", "64", "--max-body-bytes", "20000")
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, proc)
    yield url, proc
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def _translate(url: str, body, timeout: float = 60, **kw) -> httpx.Response:
    return httpx.post(f"{url}/v1/translate", json=body, timeout=timeout, **kw)


def test_the_server_translates_as_the_command_does_byte_for_byte(server, tmp_path):
    url, _ = server
    src = tmp_path / "in.txt"
    src.write_text("\n".join(LINES) + "\n")
    cli = run_cli("nmt.translate", "--run", RUN, "--input", str(src), "--nbest", "2", *OPTIONS, text=True)
    assert cli.returncode == 0, cli.stderr
    r = _translate(url, {"text": LINES, "nbest": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    served = "".join(
        f"{i}\t{h['score']:.4f}\t{h['text']}\n" for i, t in enumerate(body["translations"]) for h in t["nbest"]
    )
    assert served == cli.stdout
    assert [t["truncated"] for t in body["translations"]] == [line.startswith("big") for line in LINES]
    assert body["queue_ms"] >= 0 and body["compute_ms"] > 0


def test_many_clients_at_once_each_get_their_own_translations_in_order(server):
    url, _ = server
    expected = {line: t["text"] for line, t in zip(LINES, _translate(url, {"text": LINES}).json()["translations"])}

    async def client(k: int, http: httpx.AsyncClient):
        lines = [LINES[(k + j) % len(LINES)] for j in range(1 + k % 3)]
        r = await http.post(f"{url}/v1/translate", json={"text": lines}, timeout=120)
        return lines, r

    async def all_clients():
        async with httpx.AsyncClient() as http:
            return await asyncio.gather(*(client(k, http) for k in range(32)))

    for lines, r in asyncio.run(all_clients()):
        assert r.status_code == 200, r.text
        assert [t["text"] for t in r.json()["translations"]] == [expected[line] for line in lines]


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"text": ["a"], "colour": "red"}, 400, "colour: unknown field"),
        ({"text": "a cat"}, 400, "text: expected a list of strings"),
        ({"text": ["a"], "nbest": "2"}, 400, "nbest: expected an integer"),
        ({"text": ["a"], "nbest": 3}, 400, "nbest: between 1 and 2 on this server, got 3"),
        ({"text": ["a"], "beam": 5}, 400, "beam: this server searches with beam 3, got 5"),
        ({"text": ["a"], "timeout_ms": -1}, 400, "timeout_ms: expected a positive number"),
        ({"text": ["a"] * 65}, 413, "text: 65 sentences, at most 64 a request"),
        ({"text": ["a" * 25000]}, 413, "body: "),
    ],
)
def test_a_bad_request_gets_one_line_naming_what_is_wrong(server, body, status, message):
    url, _ = server
    r = _translate(url, body)
    assert r.status_code == status and r.json()["error"].startswith(message), r.text


def test_bodies_that_are_not_json_or_not_utf8_are_refused(server):
    url, _ = server
    for raw, message in (
        (b'{"text": [', "body: invalid JSON"),
        (b'{"text": ["\xff"]}', "body: invalid UTF-8"),
        (b"[1, 2]", "body: expected a JSON object"),
    ):
        r = httpx.post(f"{url}/v1/translate", content=raw, timeout=30)
        assert r.status_code == 400 and r.json()["error"].startswith(message), r.text


def test_a_full_queue_is_429_and_an_overdue_request_504_without_harming_the_others(server):
    url, _ = server
    long = ["the man sees the tree and the small blue car drives fast"] * 64

    async def burst():  # 8 x 64 sentences against a queue of 300
        async with httpx.AsyncClient() as http:
            return await asyncio.gather(
                *(http.post(f"{url}/v1/translate", json={"text": long}, timeout=120) for _ in range(8))
            )

    answers = asyncio.run(burst())
    statuses = [r.status_code for r in answers]
    assert 429 in statuses and 200 in statuses and set(statuses) <= {200, 429}, statuses
    assert all(r.headers["retry-after"] == "1" for r in answers if r.status_code == 429)
    texts = {tuple(t["text"] for t in r.json()["translations"]) for r in answers if r.status_code == 200}
    assert len(texts) == 1  # every answered request got the same, whole answer
    r = _translate(url, {"text": long, "timeout_ms": 1})
    assert r.status_code == 504 and "passed with" in r.json()["error"] and "of 64 lines" in r.json()["error"]
    assert _translate(url, {"text": LINES[:2]}).status_code == 200


def _metric(url: str, name: str) -> float:
    line = next(
        (l for l in httpx.get(f"{url}/metrics", timeout=10).text.splitlines() if l.startswith(name + " ")), f"{name} 0"
    )
    return float(line.split()[-1])


def test_a_client_that_goes_away_frees_its_slots_and_its_sentences_are_dropped(server):
    url, _ = server
    port = int(url.rsplit(":", 1)[1])
    long = ["big tree " * 12] * 64  # cut to the model's limit: the longest searches
    before = _metric(url, "nmt_sentences_total")
    gone = _metric(url, 'nmt_requests_total{status="disconnected"}')

    async def while_busy():
        async with httpx.AsyncClient() as http:
            ahead = [
                asyncio.ensure_future(http.post(f"{url}/v1/translate", json={"text": long}, timeout=120))
                for _ in range(3)
            ]
            await asyncio.sleep(0.05)
            body = json.dumps({"text": long}).encode()
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(
                b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + b"Content-Length: %d\r\n\r\n" % len(body)
                + body
            )
            await asyncio.sleep(0.02)
            sock.close()  # the client goes away before its answer
            return await asyncio.gather(*ahead)

    answers = asyncio.run(while_busy())
    assert [r.status_code for r in answers] == [200] * 3, [r.text for r in answers]
    end = time.time() + 30
    while time.time() < end and _metric(url, 'nmt_requests_total{status="disconnected"}') == gone:
        time.sleep(0.1)
    assert _metric(url, 'nmt_requests_total{status="disconnected"}') == gone + 1
    assert _metric(url, "nmt_slots_in_use") == 0
    assert _metric(url, "nmt_sentences_total") == before + 3 * 64  # none of the one that went away
    assert _translate(url, {"text": LINES[:1]}).status_code == 200


def test_health_models_and_metrics(server):
    url, _ = server
    assert httpx.get(f"{url}/health/live").json() == {"status": "live"}
    info = httpx.get(f"{url}/v1/models").json()["models"][0]
    assert info["beam"] == 3 and info["nbest"] == 2 and info["slots"] == 1
    assert info["lanes"] == [1] and info["lane_cap"] == 1 and list(info["lane_ms_per_step"]) == ["1"]  # measured
    assert info["lazy_writes"] is False and info["early_shrink"] is True
    assert "written" not in info and "encoder_calls" not in info  # counts are /metrics' (these were warm-up's)
    metrics = httpx.get(f"{url}/metrics").text
    for name in (
        "nmt_requests_total",
        "nmt_request_seconds_bucket",
        "nmt_queue_seconds_bucket",
        "nmt_slots_in_use",
        "nmt_sentences_total",
        "nmt_output_tokens_total",
    ):
        assert name in metrics, name


def test_sigterm_drains_the_requests_in_flight_then_exits_cleanly():
    """... with the host's work overlapping the search's chunks (`--overlap`): each copy of the lines gets the
    same translations, whenever it was searched."""
    port = free_port()
    proc = _start(RUN, port, "--drain-s", "30", "--max-sentences", "2000", "--overlap")
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, proc)

    async def during_drain():
        async with httpx.AsyncClient() as http:
            busy = LINES * 200  # long enough to be in flight when the signal comes
            pending = asyncio.ensure_future(http.post(f"{url}/v1/translate", json={"text": busy}, timeout=120))
            for _ in range(1000):  # until it is being searched
                if "\nnmt_slots_in_use 1.0" in (await http.get(f"{url}/metrics")).text:
                    break
                await asyncio.sleep(0.02)
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
            ready = await http.get(f"{url}/health/ready")
            refused = await http.post(f"{url}/v1/translate", json={"text": ["a"]})
            return await pending, ready, refused

    answer, ready, refused = asyncio.run(during_drain())
    assert answer.status_code == 200 and len(answer.json()["translations"]) == 200 * len(LINES)
    texts = [t["text"] for t in answer.json()["translations"]]
    assert texts == texts[: len(LINES)] * 200
    assert ready.status_code == 503 and refused.status_code == 503
    assert proc.wait(timeout=60) == 0


def test_an_error_inside_one_search_fails_its_requests_and_the_engine_goes_on():
    from nmt.decode import Hypothesis, Translation
    from nmt.serve.engine import Engine

    ok = Translation((Hypothesis("ok", 0.0),))

    class Flaky:
        """A translator whose first search fails."""

        def __init__(self):
            self.tickets, self.calls = [], 0

        def submit(self, lines):
            self.tickets.append(len(self.tickets) + 1)
            return self.tickets[-1]

        def collect(self, steps):
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("boom")
            done, self.tickets = {t: [ok] for t in self.tickets}, []
            return done

        def cancel(self, ticket):
            self.tickets = [t for t in self.tickets if t != ticket]

        def slot_use(self):
            return 0, 1

    engine = Engine(Flaky(), max_queue=10)
    engine.start()
    try:
        with pytest.raises(RuntimeError, match="boom"):
            engine.submit(["x"]).future.result(timeout=30)
        assert engine.submit(["y"]).future.result(timeout=30) == [ok]
    finally:
        engine.stop()


def test_the_server_refuses_bad_options_in_one_line(tiny_run):
    r = run_cli("nmt.serve", "--run", tiny_run, "--beam", "2", "--nbest", "3", text=True)
    assert r.returncode == 2 and r.stderr.strip() == "nmt.serve: error: --nbest must be between 1 and --beam (2), got 3"
    r = run_cli("nmt.serve", "--run", tiny_run, "--switch-interval-ms", "0", text=True)
    assert r.returncode == 2 and r.stderr.strip() == "nmt.serve: error: --switch-interval-ms must be > 0, got 0.0"


def test_nothing_is_compiled_once_the_server_is_ready(server):
    url, proc = server
    _translate(url, {"text": LINES, "nbest": 2})
    proc.send_signal(signal.SIGTERM)
    log = proc.communicate(timeout=60)[0]
    after = log.split("ready: every program is compiled", 1)[1]
    assert "Compiling" not in after, after[:3000]
    assert proc.returncode == 0


def test_a_pool_sends_each_request_to_the_least_busy_engine_and_bounds_the_queue_over_all():
    import concurrent.futures
    import threading

    from nmt.decode import Hypothesis, Translation
    from nmt.serve.engine import Overloaded, Pool

    ok = Translation((Hypothesis("ok", 0.0),))
    release = threading.Event()

    class Held:
        """A translator whose tickets complete once `release` is set."""

        def __init__(self):
            self.tickets, self.count, self.lane_cap = {}, 0, None

        def replica(self):
            return Held()

        def warm(self):
            self.lane_cap = self.lane_cap or 3  # the first measures a cap; the others get it

        def lane_info(self):
            return {"lane_cap": self.lane_cap}

        def submit(self, lines):
            self.count += 1
            self.tickets[self.count] = len(lines)
            return self.count

        def collect(self, steps):
            if not release.wait(0.01):
                return {}
            done, self.tickets = {t: [ok] * n for t, n in self.tickets.items()}, {}
            return done

        def progress(self, ticket):
            return 0, self.tickets[ticket]

        def cancel(self, ticket):
            self.tickets.pop(ticket)

        def slot_use(self):
            return len(self.tickets), 1

    ready = threading.Event()
    pool = Pool(Held(), 2, max_queue=5)
    pool.start(ready=ready.set)
    try:
        assert ready.wait(30)
        first, second = pool.engines
        assert second.translator is not first.translator and second.translator.lane_cap == 3
        a = pool.submit(["x", "y", "z"])
        b, c = pool.submit(["u"]), pool.submit(["v"])
        assert a.owner is first and b.owner is second and c.owner is second  # the one with fewer sentences queued
        with pytest.raises(Overloaded):
            pool.submit(["w"])  # 5 queued between the two: full, although neither holds 5
        pool.cancel(b)
        with pytest.raises(concurrent.futures.CancelledError):
            b.future.result(timeout=30)
        release.set()
        assert a.future.result(timeout=30) == [ok] * 3 and c.future.result(timeout=30) == [ok]
        assert pool.in_flight() == 0 and pool.submit(["w"]).future.result(timeout=30) == [ok]
    finally:
        release.set()
        pool.stop()


def test_two_engines_translate_as_the_command_does_and_compile_nothing_once_ready(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(LINES) + "\n")
    cli = run_cli("nmt.translate", "--run", RUN, "--input", str(src), *OPTIONS, text=True)
    assert cli.returncode == 0, cli.stderr
    expected = dict(zip(LINES, cli.stdout.split("\n")))
    port = free_port()
    proc = _start(RUN, port, "--engines", "2")
    two = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(two, proc)
        assert httpx.get(f"{two}/v1/models").json()["models"][0]["engines"] == 2

        async def all_clients():
            async with httpx.AsyncClient() as http:
                posts = [http.post(f"{two}/v1/translate", json={"text": LINES[k:]}, timeout=120) for k in range(32)]
                return await asyncio.gather(*posts)

        for k, r in enumerate(asyncio.run(all_clients())):
            assert r.status_code == 200, r.text
            assert [t["text"] for t in r.json()["translations"]] == [expected[line] for line in LINES[k:]]
    finally:
        proc.send_signal(signal.SIGTERM)
        log = proc.communicate(timeout=60)[0]
    assert "Compiling" not in log.split("ready: every program is compiled", 1)[1]
    assert proc.returncode == 0
