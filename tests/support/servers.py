"""Servers for tests: the mocked HTTP layer (aioresponses), aiohttp apps
served on 127.0.0.1 in the test's loop, the sandbox on a thread of its own,
and gates that hold requests until a test lets them go (the events a test
waits for instead of a time)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
from aiohttp import web
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core

from flolive.sandbox import Sandbox

from .events import DEADLINE

# -- the mocked HTTP layer -----------------------------------------------------


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


@contextlib.contextmanager
def mocked_http() -> Iterator[aioresponses]:
    """aioresponses, working on aiohttp 3.14."""
    saved = aioresponses_core.ClientResponse
    aioresponses_core.ClientResponse = _ClientResponse  # type: ignore[misc]
    try:
        with aioresponses() as m:
            yield m
    finally:
        aioresponses_core.ClientResponse = saved  # type: ignore[misc]


# -- gates ---------------------------------------------------------------------


class PageGate:
    """``Sandbox(before_page=PageGate(n))``: serves list pages numbered below
    ``limit`` and holds the others until the limit is raised, so an export
    cannot finish before a test lets it, however fast the machine. Tells which
    page requests are being held (the event a test waits for). The sandbox
    runs in the test's loop."""

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


def pages_from(first: int) -> Callable[[web.Request], bool]:
    """Requests of list pages numbered ``first`` or more (logins and single GETs pass)."""
    return lambda request: int(request.query.get("page", "0")) >= first


#: Every request of a list page but the first.
later_pages = pages_from(1)

#: ``runner_options`` of a server that cancels a held handler when its client goes away.
CANCEL_HELD = {"handler_cancellation": True, "shutdown_timeout": 1.0}


class RequestGate:
    """Server middleware (``middlewares=[gate.middleware]``) holding the
    requests ``hold`` picks until :meth:`open` (or until their client goes
    away, on a server with ``handler_cancellation``), counting what it sees.
    It runs before the sandbox's own middleware, so a held request has not
    yet been counted, authenticated or answered. Safe from any thread: wait
    with :meth:`wait_until` from a thread, :meth:`until` from a loop."""

    def __init__(self, hold: Callable[[web.Request], bool]) -> None:
        self.hold = hold
        self.cond = threading.Condition()
        self.seen = 0
        self.held = 0
        self.cancelled = 0
        self.opened = False
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    @classmethod
    def after(cls, n: int) -> RequestGate:
        """A gate holding every request after the first ``n``."""
        gate = cls(lambda _request: gate.seen > n)
        return gate

    @classmethod
    def nth(cls, n: int) -> RequestGate:
        """A gate holding the ``n``-th request only."""
        gate = cls(lambda _request: gate.seen == n)
        return gate

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        released = asyncio.Event()
        with self.cond:
            self.seen += 1
            held = not self.opened and self.hold(request)
            if held:
                self.held += 1
                self._waiting.append((asyncio.get_running_loop(), released))
            self.cond.notify_all()
        if held:
            try:
                await released.wait()
            except asyncio.CancelledError:
                with self.cond:
                    self.cancelled += 1
                    self.cond.notify_all()
                raise
        return await handler(request)  # type: ignore[no-any-return]

    def open(self) -> None:
        """Let every held request go on, and every later one pass."""
        with self.cond:
            self.opened = True
            waiting, self._waiting = self._waiting, []
        for loop, released in waiting:
            if not loop.is_closed():
                loop.call_soon_threadsafe(released.set)

    def wait_until(self, ready: Callable[[RequestGate], bool]) -> None:
        """Block until ``ready(gate)`` holds (the deadline only guards against a hang)."""
        with self.cond:
            assert self.cond.wait_for(lambda: ready(self), timeout=DEADLINE), vars(self)

    async def until(self, ready: Callable[[RequestGate], bool]) -> None:
        """:meth:`wait_until` from a loop, which runs on (the server may be on it)."""
        await asyncio.to_thread(self.wait_until, ready)


# -- serving apps ----------------------------------------------------------------


async def start_app(
    app: web.Application, ssl_context: ssl.SSLContext | None = None, **runner_options: Any
) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on a free port of 127.0.0.1 in the running loop (over TLS
    with ``ssl_context``): its runner and base URL (stop it with :func:`stop_runner`)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, **runner_options)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"{'https' if ssl_context else 'http'}://{host}:{port}"


@contextlib.asynccontextmanager
async def serving(
    app: web.Application, ssl_context: ssl.SSLContext | None = None, **runner_options: Any
) -> AsyncIterator[str]:
    """``async with serving(app) as url``: ``app`` served in the test's loop."""
    runner, url = await start_app(app, ssl_context, **runner_options)
    try:
        yield url
    finally:
        await stop_runner(runner)


def answering(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.Application:
    """An app that answers every method and path with ``handler``."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def sandbox_app(sandbox: Sandbox, middlewares: list[Any] = ()) -> web.Application:  # type: ignore[assignment]
    """The sandbox's app with ``middlewares`` run before its own."""
    app = sandbox.app()
    app.middlewares[0:0] = list(middlewares)
    return app


async def stop_runner(runner: web.AppRunner) -> None:
    # A connection accepted just before the server closes (a fetch cancelled as
    # a test ends makes one) is set up by a task of its own; on Python 3.11
    # that task fails once the server is closed, and leaks the socket. Let such
    # tasks finish first, then close the listening socket with no await in
    # between, so that no new one starts.
    while accepting := [
        t
        for t in asyncio.all_tasks()
        if t.get_coro().__name__ == "_accept_connection2"  # type: ignore[union-attr]
    ]:
        await asyncio.wait(accepting)
    for site in list(runner.sites):
        await site.stop()
    await runner.cleanup()


class ThreadedSandbox:
    """A :class:`~flolive.sandbox.Sandbox` served from its own event loop in a
    background thread, for code that runs loops of its own (dlt, Dask tasks,
    synchronous APIs), and for tests that count the client's tasks (the
    server's are then on another loop). ``middlewares`` run before the
    sandbox's own.

    Read ``sandbox.stats`` or ``sandbox.log`` through :meth:`call`, on the
    server's loop, where a value must be consistent with others."""

    def __init__(
        self, sandbox: Sandbox, middlewares: list[Any], runner_options: dict[str, Any]
    ) -> None:
        self.sandbox = sandbox
        self._middlewares = middlewares
        self._runner_options = runner_options
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sandbox", daemon=True)
        self.url = ""
        self._error: BaseException | None = None

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = sandbox_app(self.sandbox, self._middlewares)
        try:
            runner, self.url = self._loop.run_until_complete(start_app(app, **self._runner_options))
        except BaseException as exc:
            self._error = exc
            self._started.set()
            raise
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(stop_runner(runner))
        self._loop.close()

    def start(self) -> ThreadedSandbox:
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error
        return self

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the server's loop; its result."""
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
