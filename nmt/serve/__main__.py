"""`python -m nmt.serve --run RUN_DIR [--run RUN_DIR2 ...] [--host 127.0.0.1] [--port 8080] [search options]`

Serves translations over HTTP: `POST /v1/translate` with {"text": [...], "nbest": k, "timeout_ms": t} (and "beam",
"alpha", which must be the server's), `GET /health/live`, `GET /health/ready` (503 while warming up or draining),
`GET /v1/models`, `GET /metrics` (Prometheus). Every request's sentences join one compiled continuous-batching search
(with one model: a live queue refilled between chunks of --chunk-steps decoder steps). Every program is compiled
before /health/ready turns 200. SIGTERM or Ctrl-C: ready turns 503, requests in flight finish within --drain-s, then
the server exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
import time

from nmt import cli, cli_search

logger = logging.getLogger("nmt.serve")


def parser() -> cli.Parser:
    p = cli.Parser(prog="nmt.serve", description=__doc__.split("\n\n")[1])
    cli.add_run_args(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8080, help="port to listen on")
    p.add_argument("--nbest", type=int, default=1, help="the most hypotheses a request may ask for (at most --beam)")
    p.add_argument("--max-queue", type=int, default=4096, help="sentences waiting or searched at most (429 beyond)")
    p.add_argument("--max-sentences", type=int, default=256, help="sentences a request at most (413 beyond)")
    p.add_argument("--max-body-bytes", type=int, default=1 << 20, help="bytes a request body at most (413 beyond)")
    p.add_argument("--drain-s", type=float, default=30.0, help="seconds that requests in flight get after SIGTERM")
    _add_live_args(p)
    cli_search.add_search_args(p)
    cli_search.add_unroll_arg(p)
    return p


def _add_live_args(p: cli.Parser) -> None:
    """How the live search runs: engines, chunks, lanes and the switches measured in docs/serving.md."""
    p.add_argument("--chunk-steps", type=int, default=8, help="decoder steps between two looks at new requests")
    p.add_argument(
        "--engines",
        type=int,
        default=2,
        help="engine threads, each with a live search of its own on the one device; a request goes to the least busy "
        '(default 2: on a CPU one search leaves cores idle that another\'s chunks use; docs/serving.md, "Engines")',
    )
    p.add_argument(
        "--lanes",
        default=None,
        help="slot counts the live search moves between, comma-separated, the smallest that holds its queue each "
        "chunk (default: 1,2,3,4,6,8,12,16,... and --slots; --lanes 64 keeps all 64 slots always)",
    )
    p.add_argument(
        "--lane-cap",
        type=int,
        default=None,
        help="the most slots the live search uses while sentences wait for one (default: measured at warm-up, the "
        "widest lane whose step takes at most 8 ms, or twice the one-slot step where that is longer; --lane-cap equal "
        "to --slots: every slot)",
    )
    p.add_argument(
        "--no-solo",
        action="store_true",
        help="search a sentence that finds the server idle in the live queue too, not alone at batch 1",
    )
    p.add_argument(
        "--overlap",
        action="store_true",
        help="leave each chunk of the live search running while the host reads back, answers and admits (default: "
        "the host waits for each chunk, and the device for the host)",
    )
    p.add_argument(
        "--lazy-writes",
        action="store_true",
        help="hold arrivals on the host while the lane cap's worth of sentences wait on the device, and encode them "
        "together when it runs low (default: each chunk encodes what arrived since the last)",
    )
    p.add_argument(
        "--early-shrink",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="end a chunk of the live search as soon as the next narrower lane holds its sentences, so that the next "
        "chunk runs there and arrivals join sooner (default; --no-early-shrink: every chunk runs its --chunk-steps)",
    )
    p.add_argument(
        "--switch-interval-ms",
        type=float,
        default=None,
        help="Python's thread switch interval (sys.setswitchinterval): how long the engine thread may wait for the "
        "interpreter while the HTTP thread runs (default: Python's, 5 ms)",
    )


def main(argv=None):
    args = parser().parse_args(argv)

    def go():
        from nmt.config import ConfigError
        from nmt.decode.lanes import default_lanes
        from nmt.serve.app import Service, make_app
        from nmt.serve.engine import Pool

        cfg, slots = cli_search.nbest_search(args)
        for name in ("max_queue", "max_sentences", "max_body_bytes", "chunk_steps", "engines"):
            if getattr(args, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
        if args.switch_interval_ms is not None:
            if not args.switch_interval_ms > 0:
                raise ConfigError(f"--switch-interval-ms must be > 0, got {args.switch_interval_ms}")
            sys.setswitchinterval(args.switch_interval_ms / 1000)
        runs, translator = cli_search.load_translator(args, cfg, slots)
        translator.lanes, translator.solo = _lanes(args.lanes, slots), not args.no_solo
        translator.overlap, translator.lazy_writes = args.overlap, args.lazy_writes
        translator.early_shrink = args.early_shrink
        if args.lane_cap is not None and not (slots and 1 <= args.lane_cap <= slots):
            raise ConfigError(f"--lane-cap must be between 1 and --slots ({slots}), got {args.lane_cap}")
        translator.lane_cap = args.lane_cap
        info = {
            "runs": args.run,
            "step": runs[0].step,
            "checkpoint": runs[0].which,
            "beam": cfg.beam,
            "alpha": cfg.alpha,
            "stop": cfg.stop,
            "nbest": args.nbest,
            "slots": slots,
            "lanes": list(translator.lanes or default_lanes(slots)) if slots else None,
            "lane_cap": args.lane_cap,  # until warm-up measures it
            "solo": translator.solo if slots else None,
            "overlap": translator.overlap if slots else None,
            "lazy_writes": translator.lazy_writes if slots else None,
            "early_shrink": translator.early_shrink if slots else None,
            "shortlist": args.shortlist or None,
            "unroll": translator.models[0][0].cfg.unroll,  # the encoder's, as it translates
            "engines": args.engines,
        }
        engines = Pool(translator, args.engines, args.max_queue, args.chunk_steps)
        service = Service(engines, info, args.max_sentences, args.max_body_bytes)
        engines.start(ready=lambda: _ready(service, translator))
        _serve(make_app(service), service, args)

    cli.main_guard(go, "nmt.serve")


def _lanes(text: str | None, slots: int | None) -> tuple[int, ...] | None:
    from nmt.config import ConfigError

    if text is None:
        return None
    try:
        lanes = sorted({int(x) for x in text.split(",")})
    except ValueError:
        raise ConfigError(f"--lanes must be comma-separated numbers of slots, got {text!r}") from None
    if not slots or lanes[0] < 1 or lanes[-1] > slots:
        raise ConfigError(f"--lanes must be between 1 and --slots ({slots}), got {text!r}")
    return tuple(sorted({*lanes, slots}))


def _ready(service, translator) -> None:
    lanes = translator.lane_info(counts=False)  # the settings warm-up fixed: counts would be stale at once
    service.info.update(lanes)
    service.ready = True
    cap = f"; the live search uses at most {lanes['lane_cap']} of its slots" if lanes else ""
    logger.info(f"ready: every program is compiled{cap}")


def _serve(app, service, args) -> None:
    """Runs uvicorn until SIGTERM or SIGINT, then drains: ready turns 503 and the requests in flight get --drain-s."""
    import uvicorn

    class Server(uvicorn.Server):
        def capture_signals(self):  # ours: a signal starts the drain, and the drain ends the server
            import contextlib

            @contextlib.contextmanager
            def handlers():
                if threading.current_thread() is threading.main_thread():
                    for sig in (signal.SIGINT, signal.SIGTERM):
                        signal.signal(sig, lambda s, _: setattr(service, "draining", True))
                yield

            return handlers()

    server = Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", lifespan="off"))

    async def run():
        async def drain():
            while not service.draining:
                await asyncio.sleep(0.05)
            logger.info(f"draining: {service.engine.in_flight()} requests in flight, {args.drain_s:g} s at most")
            end = time.monotonic() + args.drain_s
            while service.engine.in_flight() and time.monotonic() < end:
                await asyncio.sleep(0.05)
            server.should_exit = True

        task = asyncio.ensure_future(drain())
        logger.info(f"listening on http://{args.host}:{args.port} (warming up)")
        await server.serve()
        task.cancel()

    asyncio.run(run())
    service.engine.stop()
    logger.info("stopped")


if __name__ == "__main__":
    main()
