"""The clients compared, each run alone in a worker subprocess.

Every client reads the whole list and counts the items, in page order.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import msgspec

from flolive import Client
from flolive.models import Envelope, Participant

from .server import PATH

Runner = Callable[[str, int, int], Awaitable[int] | int]


async def sdk_items(url: str, page_size: int, concurrency: int) -> int:
    """The SDK's concurrent pager, item by item."""
    n = 0
    async with Client(base_url=url, max_concurrency=concurrency, page_size=page_size) as c:
        async for _ in c.campaign_participants(1, 2):
            n += 1
    return n


async def sdk_pages(url: str, page_size: int, concurrency: int) -> int:
    """The SDK's concurrent pager, page by page."""
    n = 0
    async with Client(base_url=url, max_concurrency=concurrency, page_size=page_size) as c:
        async for page in c.campaign_participants(1, 2).pages():
            n += len(page.items)
    return n


async def sdk_collect(url: str, page_size: int, concurrency: int) -> int:
    """The SDK, everything into one list (memory grows with the list)."""
    async with Client(base_url=url, max_concurrency=concurrency, page_size=page_size) as c:
        return len(await c.campaign_participants(1, 2).collect())


def sync_items(url: str, page_size: int, concurrency: int) -> int:
    """The sync client (``flolive.sync``) on the same pager, item by item."""
    from flolive import sync

    n = 0
    with sync.Client(base_url=url, max_concurrency=concurrency, page_size=page_size) as c:
        for _ in c.campaign_participants(1, 2):
            n += 1
    return n


def sync_pages(url: str, page_size: int, concurrency: int) -> int:
    """The sync client (``flolive.sync``) on the same pager, page by page."""
    from flolive import sync

    n = 0
    with sync.Client(base_url=url, max_concurrency=concurrency, page_size=page_size) as c:
        for page in c.campaign_participants(1, 2).pages():
            n += len(page.items)
    return n


async def aiohttp_json_sequential(url: str, page_size: int, concurrency: int) -> int:
    """What many users write first: one page after another, ``resp.json()``."""
    n = 0
    page = 0
    async with aiohttp.ClientSession() as s:
        while True:
            async with s.get(url + PATH, params={"page": page, "size": page_size}) as r:
                body = await r.json()
            for _ in body["content"]:
                n += 1
            page += 1
            if page >= body["pageable"]["totalPages"]:
                return n


def _pydantic_models() -> type:
    import pydantic

    class PParticipant(pydantic.BaseModel):
        id: int
        iccid: str
        status: str
        attempt: int
        code: str
        message: str
        timestamp: dt.datetime

    class PPageable(pydantic.BaseModel):
        page: int
        size: int
        totalPages: int
        totalElements: int

    class PEnvelope(pydantic.BaseModel):
        errorCode: str = ""
        errorMessage: str = ""
        content: list[PParticipant] | str
        pageable: PPageable | str

    return PEnvelope


async def httpx_pydantic_sequential(url: str, page_size: int, concurrency: int) -> int:
    """The common modern stack: httpx, pages in sequence, validated by pydantic."""
    import httpx

    model = _pydantic_models()
    n = 0
    page = 0
    async with httpx.AsyncClient(base_url=url) as c:
        while True:
            r = await c.get(PATH, params={"page": page, "size": page_size})
            env = model.model_validate_json(r.content)  # type: ignore[attr-defined]
            for _ in env.content:
                n += 1
            page += 1
            if page >= env.pageable.totalPages:
                return n


async def _ideal_stream(url: str, page_size: int, concurrency: int) -> AsyncIterator[Participant]:
    decoder = msgspec.json.Decoder(Envelope[Participant])
    sem = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as s:

        async def fetch(page: int) -> Envelope[Participant]:
            async with (
                sem,
                s.get(url + PATH, params={"page": page, "size": page_size}) as r,
            ):
                body = await r.read()
            return decoder.decode(body)

        first = await fetch(0)
        assert isinstance(first.content, list)
        assert not isinstance(first.pageable, str | None)
        for item in first.content:
            yield item
        pages = first.pageable.total_pages
        window: collections.deque[asyncio.Task[Envelope[Participant]]] = collections.deque()
        nxt = 1
        try:
            while nxt < pages or window:
                while nxt < pages and len(window) < 2 * concurrency:
                    window.append(asyncio.create_task(fetch(nxt)))
                    nxt += 1
                env = await window.popleft()
                assert isinstance(env.content, list)
                for item in env.content:
                    yield item
        finally:
            for t in window:
                t.cancel()


async def ideal(url: str, page_size: int, concurrency: int) -> int:
    """The floor: aiohttp + msgspec into the same Structs, a sliding window of
    page tasks under a semaphore, items in order, nothing else."""
    n = 0
    async for _ in _ideal_stream(url, page_size, concurrency):
        n += 1
    return n


async def _patient(url: str, page_size: int, concurrency: int, **options: Any) -> int:
    """The SDK with 20 retries, for a server that refuses what comes too fast."""
    from flolive import RetryPolicy

    retry = RetryPolicy(max_retries=20)
    async with Client(
        base_url=url, max_concurrency=concurrency, page_size=page_size, retry=retry, **options
    ) as c:
        return len(await c.campaign_participants(1, 2).collect())


async def sdk_patient(url: str, page_size: int, concurrency: int) -> int:
    """Rate-limited case: the client's defaults, with retries to spare."""
    return await _patient(url, page_size, concurrency)


async def sdk_adaptive(url: str, page_size: int, concurrency: int) -> int:
    """Rate-limited case: adaptive concurrency (halve on push-back)."""
    return await _patient(url, page_size, concurrency, adaptive_concurrency=True)


async def sdk_max_rate(url: str, page_size: int, concurrency: int) -> int:
    """Rate-limited case: the quota given as ``max_rate`` ($BENCH_MAX_RATE)."""
    return await _patient(url, page_size, concurrency, max_rate=float(os.environ["BENCH_MAX_RATE"]))


CLIENTS: dict[str, Runner] = {
    "sdk": sdk_items,
    "sdk.pages": sdk_pages,
    "sdk.collect": sdk_collect,
    "sync": sync_items,
    "sync.pages": sync_pages,
    "ideal": ideal,
    "aiohttp+json seq": aiohttp_json_sequential,
    "httpx+pydantic seq": httpx_pydantic_sequential,
    "sdk.patient": sdk_patient,
    "sdk.adaptive": sdk_adaptive,
    "sdk.max_rate": sdk_max_rate,
}
