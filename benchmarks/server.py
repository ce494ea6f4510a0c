"""A minimal API server for benchmarks, run in its own process.

Pages are assembled from pre-encoded content blocks (built once from the
sandbox's data), so the server spends next to no CPU per request and the
client is what gets measured. ``--sandbox`` serves the real sandbox instead
(to measure whether it would be the bottleneck).

Usage: ``python -m benchmarks.server --total 988 --latency 0.05`` prints the
port on stdout, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys

import msgspec
from aiohttp import web

from flolive.sandbox import DataSet, Sandbox

PATH = "/api/v2/customer/1/campaign/2/participants"
BLOCKS = 16


def build_app(total: int, latency: float, max_size: int = 2000) -> web.Application:
    data = DataSet()
    blocks: dict[int, list[bytes]] = {}

    def content(size: int, index: int) -> bytes:
        if size not in blocks:
            blocks[size] = [
                msgspec.json.encode(data.participants(1, 2, b * size, (b + 1) * size))
                for b in range(BLOCKS)
            ]
        start = index * size
        n = max(0, min(size, total - start))
        if n == size:
            return blocks[size][index % BLOCKS]
        return msgspec.json.encode(data.participants(1, 2, start, start + n))

    async def participants(request: web.Request) -> web.Response:
        if latency:
            await asyncio.sleep(latency)
        page = int(request.query.get("page", "0"))
        size = min(int(request.query.get("size", "20")), max_size)
        body = b"".join(
            (
                b'{"errorCode":"","errorMessage":"","content":',
                content(size, page),
                b',"pageable":{"page":%d,"size":%d,"totalPages":%d,"totalElements":%d}}'
                % (page, size, math.ceil(total / size), total),
            )
        )
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get(PATH, participants)
    return app


async def serve(args: argparse.Namespace) -> None:
    if args.sandbox:
        sandbox = Sandbox(latency=args.latency, campaign_sizes={2: args.total})
        url = await sandbox.start()
        port = int(url.rsplit(":", 1)[1])
    else:
        runner = web.AppRunner(build_app(args.total, args.latency), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
    print(port, flush=True)
    await asyncio.Event().wait()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--total", type=int, required=True)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--sandbox", action="store_true")
    args = p.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
