"""Case ``ratelimit-series``: requests per second and 429s over time against a
rate-limited server.

The server is the pre-encoded benchmark server (:mod:`benchmarks.server`)
behind a token bucket of ``rate`` requests/s and ``burst`` tokens, as a
gateway's rate limit is: a request that finds the bucket empty is answered
429 with ``Retry-After: 1``. It records the time and status of every answer,
which the case reads back (``GET /_log``) after each client's run, and turns
into a time series of accepted and refused requests per second.

Run alone: ``python -m benchmarks.ratelimit_series serve --total N --rate R --burst B``
prints the port, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from aiohttp import web

from .processes import serving
from .server import build_app

HERE = Path(__file__).resolve().parent
#: Width of one bar of the time series, in seconds.
BIN = 0.25
#: The clients compared (see :data:`benchmarks.clients.CLIENTS`).
CLIENTS = ("sdk.patient", "sdk.adaptive", "sdk.max_rate")


def rate_limited_app(total: int, rate: float, burst: int) -> web.Application:
    app = build_app(total, 0.0)
    log: list[tuple[float, int]] = []
    bucket = {"tokens": float(burst), "at": time.monotonic()}

    @web.middleware
    async def limit(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path == "/_log":
            body = json.dumps(log)
            log.clear()
            return web.Response(text=body, content_type="application/json")
        now = time.monotonic()
        tokens = min(float(burst), bucket["tokens"] + (now - bucket["at"]) * rate)
        bucket["at"] = now
        if tokens < 1:
            bucket["tokens"] = tokens
            log.append((now, 429))
            return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
        bucket["tokens"] = tokens - 1
        log.append((now, 200))
        return await handler(request)

    app.middlewares.append(limit)
    app.router.add_get("/_log", lambda _r: web.Response())  # answered by the middleware
    return app


async def _serve(args: argparse.Namespace) -> None:
    runner = web.AppRunner(rate_limited_app(args.total, args.rate, args.burst), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()


def server(total: int, rate: float, burst: int) -> AbstractContextManager[str]:
    args = ["benchmarks.ratelimit_series", "serve", "--total", str(total)]
    return serving([*args, "--rate", str(rate), "--burst", str(burst)], "rate-limited server")


def series(log: list[tuple[float, int]]) -> dict[str, list[float]]:
    """Accepted and refused answers per second, in bins of :data:`BIN` seconds
    from the first request."""
    if not log:
        return {"t": [], "ok": [], "throttled": []}
    start = log[0][0]
    bins = int((log[-1][0] - start) / BIN) + 1
    ok, throttled = [0.0] * bins, [0.0] * bins
    for t, status in log:
        i = int((t - start) / BIN)
        (ok if status == 200 else throttled)[i] += 1 / BIN
    return {"t": [i * BIN for i in range(bins)], "ok": ok, "throttled": throttled}


def case_ratelimit_series(args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    from .__main__ import measure

    total, size, conc = args.series_total, 10, 16
    rate, burst = args.series_rate
    res: dict[str, Any] = {}
    with server(total, rate, burst) as url:
        for client in CLIENTS:
            m = measure(client, url, size, conc, env={"BENCH_MAX_RATE": str(rate)})
            if m["items"] != total:
                raise RuntimeError(f"{client} read {m['items']} items, expected {total}")
            with urllib.request.urlopen(f"{url}/_log") as answer:
                log = json.loads(answer.read())
            s = series(log)
            refused = sum(1 for _, status in log if status == 429)
            res[client] = m | {"requests": len(log), "throttled": refused, "series": s}
    pages = -(-total // size)
    lines = [
        f"### 10. Requests over time behind a rate limit: {total:,} participants, "
        f"pages of {size} ({pages} pages), a token bucket of {rate:g} requests/s and "
        f"{burst} tokens, concurrency {conc}",
        "",
        "| client | wall (s) | requests | 429s | pages/s |",
        "|---|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {c} | {r['wall']:.2f} | {r['requests']} | {r['throttled']} | {pages / r['wall']:.1f} |"
        for c, r in res.items()
    )
    lines += [
        "",
        f"The floor is {pages / rate:.1f} s ({pages} pages at {rate:g}/s, less the burst). "
        "sdk.patient is the default client with 20 retries; sdk.adaptive adds "
        "adaptive_concurrency; sdk.max_rate gives the quota as max_rate.",
    ]
    report["ratelimit_series"] = {"params": [total, size, conc, rate, burst], "results": res}
    return lines


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ratelimit_series")
    p.add_argument("command", choices=["serve"])
    p.add_argument("--total", type=int, required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--burst", type=int, required=True)
    args = p.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
