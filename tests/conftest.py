"""Shared fixtures: a mocked HTTP layer (aioresponses), sandboxes (plain,
gated, and on a thread of their own), a fake sleep, a task-leak check."""

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


# -- a sandbox on its own loop, for code that runs loops of its own (dlt, Dask) --
class ThreadedSandbox:
    """A :class:`~flolive.sandbox.Sandbox` served from its own event loop in a
    background thread, for code that runs loops of its own (dlt, Dask tasks,
    synchronous APIs). ``middlewares`` run before the sandbox's own.

    Read ``sandbox.stats`` or ``sandbox.log`` through :meth:`call`, on the
    server's loop."""

    def __init__(
        self, sandbox: Any, middlewares: list[Any], runner_options: dict[str, Any]
    ) -> None:
        import threading

        self.sandbox = sandbox
        self._middlewares = middlewares
        self._runner_options = runner_options
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
            runner = web.AppRunner(
                app, access_log=None, handle_signals=False, **self._runner_options
            )
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
        self._loop.run_until_complete(_stop_runner(runner))
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


async def _stop_runner(runner: Any) -> None:
    # A connection accepted just before the server closes (a fetch cancelled as
    # a test ends makes one) is set up by a task of its own; on Python 3.11
    # that task fails once the server is closed, and leaks the socket. Let such
    # tasks finish first, then close the listening socket with no await in
    # between, so that no new one starts.
    while accepting := [
        t for t in asyncio.all_tasks() if t.get_coro().__name__ == "_accept_connection2"
    ]:
        await asyncio.wait(accepting)
    for site in list(runner.sites):
        await site.stop()
    await runner.cleanup()


@pytest.fixture
def threaded_sandbox() -> Iterator[Any]:
    """``threaded_sandbox(middlewares=[...], runner_options={...}, **Sandbox
    kwargs)`` -> a started :class:`ThreadedSandbox` (``runner_options`` go to
    ``aiohttp.web.AppRunner``); every one is stopped after the test."""
    from flolive.sandbox import Sandbox

    started: list[ThreadedSandbox] = []

    def start(
        middlewares: list[Any] | None = None,
        runner_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> ThreadedSandbox:
        server = ThreadedSandbox(Sandbox(**kwargs), middlewares or [], runner_options or {})
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()
