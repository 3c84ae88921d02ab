"""The HTTP API (Starlette, an ASGI app served by uvicorn): `POST /v1/translate`, `GET /health/live`,
`GET /health/ready`, `GET /v1/models` and `GET /metrics`. The handlers never touch the device: they validate, hand
the sentences to the engine thread and await its future."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nmt.serve import metrics
from nmt.serve.engine import Overdue, Overloaded, Pool

logger = logging.getLogger(__name__)
FIELDS = ("text", "nbest", "beam", "alpha", "timeout_ms")


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Service:
    """What the handlers share: the engines, the search they were compiled for, the limits, and readiness."""

    def __init__(self, engine: Pool, info: dict, max_sentences: int, max_body_bytes: int):
        self.engine, self.info = engine, info
        self.max_sentences, self.max_body_bytes = max_sentences, max_body_bytes
        self.ready = False
        self.draining = False

    async def body(self, request: Request) -> dict:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise BadRequest(413, f"body: {declared} bytes, at most {self.max_body_bytes}")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > self.max_body_bytes:
                raise BadRequest(413, f"body: more than {self.max_body_bytes} bytes")
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise BadRequest(400, f"body: invalid UTF-8 at byte {e.start}") from None
        except json.JSONDecodeError as e:
            raise BadRequest(400, f"body: invalid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
        if not isinstance(data, dict):
            raise BadRequest(400, f"body: expected a JSON object with {', '.join(FIELDS)}")
        return data

    def options(self, data: dict) -> tuple[list[str], int, float | None]:
        """(lines, nbest, timeout in seconds) of a request; BadRequest names the field that is wrong."""
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise BadRequest(400, f"{unknown[0]}: unknown field; expected {', '.join(FIELDS)}")
        text = data.get("text")
        if not isinstance(text, list) or not all(isinstance(t, str) for t in text):
            raise BadRequest(400, "text: expected a list of strings")
        if len(text) > self.max_sentences:
            raise BadRequest(413, f"text: {len(text)} sentences, at most {self.max_sentences} a request")
        nbest = _number(data, "nbest", int, 1)
        if not 1 <= nbest <= self.info["nbest"]:
            raise BadRequest(400, f"nbest: between 1 and {self.info['nbest']} on this server, got {nbest}")
        for field in ("beam", "alpha"):
            value = _number(data, field, int if field == "beam" else float, self.info[field])
            if value != self.info[field]:
                raise BadRequest(400, f"{field}: this server searches with {field} {self.info[field]}, got {value}")
        timeout = _number(data, "timeout_ms", float, None)
        if timeout is not None and timeout <= 0:
            raise BadRequest(400, f"timeout_ms: expected a positive number, got {timeout}")
        return [t.strip() for t in text], nbest, None if timeout is None else timeout / 1000

    async def translate(self, request: Request) -> Response:
        arrived = time.monotonic()
        if self.draining or not self.ready:
            return _answer(503, {"error": "not ready" if not self.ready else "draining"}, arrived)
        try:
            lines, nbest, timeout_s = self.options(await self.body(request))
            job = self.engine.submit(lines, timeout_s)
        except BadRequest as e:
            return _answer(e.status, {"error": str(e)}, arrived)
        except Overloaded:
            return _answer(
                429, {"error": f"the queue is full ({self.engine.max_queue} sentences)"}, arrived, {"Retry-After": "1"}
            )
        future = asyncio.wrap_future(job.future)
        gone = asyncio.ensure_future(_disconnected(request))
        await asyncio.wait({future, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not future.done():
            self.engine.cancel(job)
            metrics.REQUESTS.labels("disconnected").inc()
            return Response(status_code=499)
        gone.cancel()
        try:
            translations = future.result()
        except Overdue as e:
            ms = round(1000 * (job.deadline - job.arrived))
            return _answer(
                504, {"error": f"timeout_ms {ms} passed with {e.done} of {e.total} lines translated"}, arrived
            )
        except Exception as e:  # noqa: BLE001 - one request's failure is its own 500
            return _answer(500, {"error": f"{type(e).__name__}: {e}"}, arrived)
        metrics.QUEUE.observe(job.started - job.arrived)
        body = {
            "translations": [_result(t, nbest) for t in translations],
            "queue_ms": round(1000 * (job.started - job.arrived), 2),
            "compute_ms": round(1000 * (time.monotonic() - job.started), 2),
        }
        return _answer(200, body, arrived)

    async def live(self, request: Request) -> Response:
        return JSONResponse({"status": "live"})

    async def ready_check(self, request: Request) -> Response:
        ok = self.ready and not self.draining
        return JSONResponse(
            {"status": "ready" if ok else "draining" if self.draining else "warming up"}, status_code=200 if ok else 503
        )

    async def models(self, request: Request) -> Response:
        return JSONResponse({"models": [self.info]})

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def _disconnected(request: Request) -> None:
    """Returns when the client goes away: the body is read, so the next ASGI message is the disconnect (waited for,
    not polled: polling every request in flight took a share of the CPU that the search needs)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _number(data: dict, field: str, kind: type, default):
    value = data.get(field, default)
    ok = value is None or (isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool))
    if not ok:
        raise BadRequest(400, f"{field}: expected {'an integer' if kind is int else 'a number'}, got {value!r}")
    return value


def _result(translation, nbest: int) -> dict:
    best = translation.hypotheses[0]
    out = {"text": best.text, "score": best.score, "truncated": translation.truncated}
    if nbest > 1:
        out["nbest"] = [{"text": h.text, "score": h.score} for h in translation.hypotheses[:nbest]]
    return out


def _answer(status: int, body: dict, arrived: float, headers: dict | None = None) -> JSONResponse:
    metrics.REQUESTS.labels(str(status)).inc()
    metrics.LATENCY.observe(time.monotonic() - arrived)
    return JSONResponse(body, status_code=status, headers=headers)


def make_app(service: Service) -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/translate", service.translate, methods=["POST"]),
            Route("/health/live", service.live),
            Route("/health/ready", service.ready_check),
            Route("/v1/models", service.models),
            Route("/metrics", service.metrics),
        ]
    )
