"""Shared fixtures: a mocked HTTP layer (aioresponses), sandboxes (plain and
gated), a fake sleep, a task-leak check."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core

from flolive.sandbox import Sandbox

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


# -- the sandbox, shared by the SDK, exporter and CLI tests ------------------


@pytest.fixture
async def start_sandbox() -> AsyncIterator[Callable[..., Awaitable[Sandbox]]]:
    """``await start_sandbox(**options)``: a started :class:`Sandbox`, stopped
    (after any :class:`PageGate` of it is opened) when the test ends."""
    started: list[Sandbox] = []

    async def start(**options: Any) -> Sandbox:
        sb = Sandbox(**options)
        await sb.start()
        started.append(sb)
        return sb

    yield start
    for sb in started:
        if isinstance(sb.before_page, PageGate):
            await sb.before_page.open_to(math.inf)  # let held requests end
        await sb.stop()


class PageGate:
    """``Sandbox(before_page=PageGate(n))``: serves list pages numbered below
    ``limit`` and holds the others until the limit is raised, so an export
    cannot finish before a test lets it, however fast the machine. Tells which
    page requests are being held (the event a test waits for)."""

    def __init__(self, limit: float = 0) -> None:
        self.limit = limit
        self.held: set[int] = set()
        #: Every page ever held, in order: ``until_held(page, since=mark)``
        #: ignores holds of requests from before ``mark = len(gate.log)``
        #: (say, of a killed process, whose handlers stay held).
        self.log: list[int] = []
        self._changed = asyncio.Condition()

    async def __call__(self, path: str, page: int) -> None:
        async with self._changed:
            if page < self.limit:
                return
            self.held.add(page)
            self.log.append(page)
            self._changed.notify_all()
            try:
                await self._changed.wait_for(lambda: page < self.limit)
            finally:
                self.held.discard(page)

    async def open_to(self, limit: float) -> None:
        """Serve every page below ``limit`` (``math.inf``: all of them)."""
        async with self._changed:
            self.limit = limit
            self._changed.notify_all()

    async def until_held(self, page: int, since: int = 0, timeout: float = 60) -> None:
        """Wait until a request for ``page`` made after hold number ``since``
        is being held (the timeout only bounds a broken test)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: page in self.log[since:])


@pytest.fixture
async def sandbox(start_sandbox: Callable[..., Awaitable[Sandbox]]) -> Sandbox:
    """A started sandbox with the default data (its base URL is ``sandbox.url``)."""
    return await start_sandbox()


@pytest.fixture
async def gated_sandbox(
    start_sandbox: Callable[..., Awaitable[Sandbox]],
) -> tuple[Sandbox, PageGate]:
    """A sandbox holding every list page until its gate is opened."""
    gate = PageGate()
    return await start_sandbox(before_page=gate), gate
