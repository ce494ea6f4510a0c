"""Shared fixtures: a mocked HTTP layer (aioresponses), the sandbox, a fake sleep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core

BASE = "http://api.test"


class _StreamWriterStandIn:
    """Only ``output_size`` is read from a response's stream writer."""

    output_size = 0


class _ClientResponse(aiohttp.ClientResponse):
    # aioresponses 0.7.9 builds ClientResponse without the `stream_writer`
    # argument aiohttp 3.14 made required (aioresponses issue #289, fix in open
    # PR #288). Drop this shim once a release carries the fix.
    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _StreamWriterStandIn())
        super().__init__(method, url, **kwargs)


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    """aioresponses, working on aiohttp 3.14."""
    monkeypatch.setattr(aioresponses_core, "ClientResponse", _ClientResponse)
    with aioresponses() as m:
        yield m


class FakeSleep:
    """Records the delays asked for and returns at once (after yielding to the loop)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def no_leaks() -> AsyncIterator[None]:
    """Fails the test if it leaves tasks behind."""
    before = asyncio.all_tasks()
    yield
    for _ in range(5):
        await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
    assert not leaked, f"leaked tasks: {leaked}"
