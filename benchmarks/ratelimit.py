"""Listings behind a rate-limiting gateway: ``python -m benchmarks.ratelimit``.

Campaign 1's 988 participants, one page per item (988 pages) behind 100
requests/s burst 10, and two per page (494 pages) behind 40 requests/s burst 5
with ``max_concurrency=16``; each with the default settings and with
``adaptive_concurrency=True``; against the sandbox's own ``rate_limit`` and
against a real nginx ``limit_req`` in front of the sandbox (skipped, with a
message, when nginx is not installed). Reported per case, median of the
runs: time / (pages / rate), the share of answers that were 429, and whether
every item came exactly once. Targets: 100/10 at most 1.05x and 5% 429;
40/5 at most 1.15x, every listing complete.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from flolive import Client, FloliveError

from .gateway import nginx, nginx_binary, sandbox

#: (rate, burst, page size, client settings, time target, 429 share target)
GATEWAYS = (
    (100, 10, 1, {}, 1.05, 0.05),
    (40, 5, 2, {"max_concurrency": 16}, 1.15, None),
)
SETTINGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("default", {}),
    ("adaptive", {"adaptive_concurrency": True}),
)
ITEMS = 988


async def listing(url: str, page_size: int, **settings: Any) -> dict[str, Any]:
    """One listing of campaign 1; what it took."""
    start = time.perf_counter()
    async with Client(base_url=url, page_size=page_size, **settings) as client:
        try:
            ids = [p.id async for p in client.campaign_participants(1, 1)]
            error = None
        except FloliveError as exc:
            ids, error = [], f"{type(exc).__name__}: {exc}"
        stats = client.stats
    return {
        "seconds": time.perf_counter() - start,
        "exact": error is None and len(ids) == ITEMS == len(set(ids)),
        "share": stats.throttles / max(stats.requests, 1),
        "error": error,
        "rate": stats.rate,
    }


def run_case(url: str, rate: int, page_size: int, runs: int, **settings: Any) -> dict[str, Any]:
    pages = -(-ITEMS // page_size)
    results = []
    for _ in range(runs):
        time.sleep(1.0)  # the gateway's bucket drains between runs
        results.append(asyncio.run(listing(url, page_size, **settings)))
    return {
        "ratio": statistics.median(r["seconds"] for r in results) / (pages / rate),
        "share": statistics.median(r["share"] for r in results),
        "exact": all(r["exact"] for r in results),
        "errors": [r["error"] for r in results if r["error"]],
        "pages": pages,
    }


def main(argv: list[str] | None = None) -> list[str]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ratelimit", description=__doc__)
    p.add_argument("--runs", type=int, default=3, help="runs per case (3; median)")
    p.add_argument("--no-nginx", action="store_true", help="the sandbox's rate_limit only")
    args = p.parse_args(argv)
    lines = []
    for rate, burst, page_size, base, max_ratio, max_share in GATEWAYS:
        gateways = ["sandbox"] + ([] if args.no_nginx else ["nginx"])
        for gateway in gateways:
            if gateway == "nginx" and nginx_binary() is None:
                lines.append(f"nginx {rate}/{burst}: skipped, nginx is not installed")
                continue
            with sandbox((rate, burst) if gateway == "sandbox" else None) as api:
                ctx: AbstractContextManager[str]
                ctx = nginx(api, rate, burst) if gateway == "nginx" else nullcontext(api)
                with ctx as url:
                    for name, extra in SETTINGS:
                        r = run_case(url, rate, page_size, args.runs, **base, **extra)
                        ok = r["ratio"] <= max_ratio and r["exact"]
                        if max_share is not None:
                            ok = ok and r["share"] <= max_share
                        line = (
                            f"{gateway:7} {rate:3}/s burst {burst:2} {r['pages']} pages "
                            f"{name:8}: {r['ratio']:.3f}x the rate's time, "
                            f"{100 * r['share']:.1f}% 429, "
                            f"{'every item once' if r['exact'] else 'INCOMPLETE'}"
                            f" [{'met' if ok else 'MISSED'}]"
                        )
                        if r["errors"]:
                            line += f" errors: {r['errors']}"
                        print(line, flush=True)
                        lines.append(line)
    return lines


if __name__ == "__main__":
    main()
