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


class ThreadedSandbox:
    """A :class:`~flolive.sandbox.Sandbox` served from its own event loop in a
    background thread, for code that runs loops of its own (dlt, Dask tasks,
    synchronous APIs). ``middlewares`` run before the sandbox's own.

    Read ``sandbox.stats`` or ``sandbox.log`` through :meth:`call`, on the
    server's loop."""

    def __init__(self, sandbox: Any, middlewares: list[Any]) -> None:
        import threading

        self.sandbox = sandbox
        self._middlewares = middlewares
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sandbox", daemon=True)
        self.url = ""
        self._error: BaseException | None = None

    def _serve(self) -> None:
        from aiohttp import web

        async def start() -> web.AppRunner:
            app = self.sandbox.app()
            app.middlewares[0:0] = self._middlewares
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            self.url = f"http://{host}:{port}"
            return runner

        asyncio.set_event_loop(self._loop)
        try:
            runner = self._loop.run_until_complete(start())
        except BaseException as exc:
            self._error = exc
            self._started.set()
            raise
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def start(self) -> ThreadedSandbox:
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error
        return self

    def call(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` on the server's loop; its result."""
        import concurrent.futures

        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as exc:
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return done.result()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()


@pytest.fixture
def threaded_sandbox() -> Iterator[Any]:
    """``threaded_sandbox(middlewares=[...], **Sandbox kwargs)`` -> a started
    :class:`ThreadedSandbox`; every one is stopped after the test."""
    from flolive.sandbox import Sandbox

    started: list[ThreadedSandbox] = []

    def start(middlewares: list[Any] | None = None, **kwargs: Any) -> ThreadedSandbox:
        server = ThreadedSandbox(Sandbox(**kwargs), middlewares or [])
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()
