"""Requests a listing costs, first pass and second pass: prints JSON.

Run by ``python -m benchmarks`` (case ``requests``) against the sandbox in
this process, which records every request it serves.
"""

from __future__ import annotations

import asyncio
import json

from flolive import Client
from flolive.sandbox import Sandbox

# name -> (campaign, page size): campaign 5 has 25 participants, campaign 1 988.
LISTS = {
    "1 page": (5, 25),
    "2 pages": (5, 13),
    "5 pages": (5, 5),
    "seed case (988)": (1, 10),
}


async def main() -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    sandbox = Sandbox(record=True)
    async with sandbox as url, Client(base_url=url, max_concurrency=16) as client:
        for name, (campaign, size) in LISTS.items():
            pager = client.campaign_participants(1, campaign, page_size=size)
            sandbox.log.clear()
            pages = pager.pages()
            async with pages:
                async for _ in pages:
                    pass
            first = len(sandbox.log)
            sandbox.log.clear()
            await pager.collect()
            out[name] = {"pages": pages.pages_read, "first": first, "second": len(sandbox.log)}
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
