"""Shared fixtures: a mocked HTTP layer (aioresponses), the sandbox, a fake sleep,
servers on their own loop thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core
from anyio.from_thread import BlockingPortal, start_blocking_portal

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


class ThreadedServers:
    """Servers on an event loop in a thread of their own, for sync clients (whose
    calls block the calling thread, which may run a test's event loop)."""

    def __init__(self, portal: BlockingPortal) -> None:
        self.portal = portal
        self._runners: list[web.AppRunner] = []

    def sandbox(self, **options: Any) -> Sandbox:
        """Start a :class:`Sandbox` (its URL is ``.url``)."""
        sandbox = Sandbox(**options)
        sandbox.url = self.app(sandbox.app(), shutdown_timeout=1.0)
        return sandbox

    def app(self, app: web.Application, **runner_options: Any) -> str:
        """Serve an aiohttp application on 127.0.0.1; returns its base URL."""

        async def start() -> web.AppRunner:
            runner = web.AppRunner(app, access_log=None, **runner_options)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            return runner

        runner = self.portal.call(start)
        self._runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.portal.call(_stop_runners, self._runners)


async def _stop_runners(runners: list[web.AppRunner]) -> None:
    # A connection accepted just before its server closes (a fetch cancelled
    # as a test ends makes one) is set up by a task of its own; on Python 3.11
    # that task fails once the server is closed and leaks the socket. Let such
    # tasks finish first, then close the listening sockets with no await in
    # between, so that no new one starts.
    while accepting := [
        t for t in asyncio.all_tasks() if t.get_coro().__name__ == "_accept_connection2"
    ]:
        await asyncio.wait(accepting)
    for runner in runners:
        for site in list(runner.sites):
            await site.stop()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def threaded() -> Iterator[ThreadedServers]:
    """Start servers on their own loop thread; stopped at teardown."""
    with start_blocking_portal(name="test-servers") as portal:
        servers = ThreadedServers(portal)
        try:
            yield servers
        finally:
            servers.stop()
