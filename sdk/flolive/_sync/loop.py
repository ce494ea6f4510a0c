"""The event loop thread of a sync client, and the calls other threads make into it.

A :class:`LoopThread` is an anyio blocking portal: an asyncio event loop
running in a thread of its own, where the async client lives. Other threads
hand it coroutine functions with :meth:`LoopThread.call` and block until the
result comes back; a Ctrl+C while they wait cancels what they asked for, and
waits for its cleanup, before ``KeyboardInterrupt`` reaches them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import weakref
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

from anyio.from_thread import start_blocking_portal

from .. import ClientNotOpenError

R = TypeVar("R")

CLOSED_MESSAGE = "this flolive.sync.Client is closed"

SIGNAL_CHECK = 0.1
"""Seconds a waiting thread blocks at a time. Python runs signal handlers
between bytecodes: a Ctrl+C arriving just before a thread blocks in C would
otherwise wait until the result came, however long that takes."""


class Closable(Protocol):
    def close(self) -> None: ...


class Closing:
    """``with obj:`` returns ``obj`` and calls ``obj.close()`` on exit, however
    the block ends."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Call(Generic[R]):
    """One coroutine function run as a task on the loop thread for a waiting thread.

    It reaches the loop with ``call_soon_threadsafe``, which never blocks
    (anyio's ``start_task_soon`` waits until the task is spawned, and a Ctrl+C
    landing in that wait would leave the call running unseen). It is cancelled
    with :meth:`asyncio.Task.cancel`, once, as an async caller would be:
    cancelling a portal's cancel scope would cancel every later ``await`` of the
    task too, and so cut short the cleanup a pager runs as it stops (awaiting
    the fetches it cancels).
    """

    def __init__(self, fn: Callable[[], Awaitable[R]]) -> None:
        self._fn = fn
        self._task: asyncio.Task[R] | None = None
        self._cancelled = False
        self.future: concurrent.futures.Future[R] = concurrent.futures.Future()
        self.finished = threading.Event()

    def start(self) -> None:
        """On the loop thread: start the task, unless it was cancelled first."""
        if not self._cancelled:
            self._task = asyncio.get_running_loop().create_task(_await(self._fn))
            self._task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[R]) -> None:
        if task.cancelled():
            self.future.cancel()
        elif (exc := task.exception()) is not None:
            self.future.set_exception(exc)
        else:
            self.future.set_result(task.result())
        self.finished.set()

    def wait(self) -> R:
        """On the calling thread: the call's result, or its exception."""
        while not self.finished.wait(SIGNAL_CHECK):
            pass
        return self.future.result()

    def cancel(self, loop: asyncio.AbstractEventLoop) -> None:
        """From any other thread: cancel the call and wait until its cleanup ran."""
        if self.finished.is_set():
            return
        try:
            loop.call_soon_threadsafe(self._cancel_on_loop)
        except RuntimeError:  # the loop is closed: nothing runs any more
            return
        self.finished.wait()

    def _cancel_on_loop(self) -> None:
        # Callbacks reach the loop in order: start() ran before this, if it was sent.
        self._cancelled = True
        if self._task is None:  # it never started, and now never will
            self.future.cancel()
            self.finished.set()
        else:
            self._task.cancel()


async def _await(fn: Callable[[], Awaitable[R]]) -> R:
    return await fn()


async def _where() -> tuple[int, asyncio.AbstractEventLoop]:
    return threading.get_ident(), asyncio.get_running_loop()


class LoopThread:
    """The event loop thread of one sync client, shared by the clients derived from it.

    Attributes:
        portal: the anyio blocking portal running the loop.
        closed: ``True`` once :meth:`close` began; calls are refused from then on.
        passes: the passes still open (held weakly): closed before the session.
    """

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self.portal = self._stack.enter_context(start_blocking_portal(name="flolive.sync.Client"))
        try:
            self._thread, self._loop = self.portal.call(_where)
        except BaseException:
            self._stack.close()
            raise
        self.closed = False
        self.passes: weakref.WeakSet[Closable] = weakref.WeakSet()
        self._calls: set[_Call[Any]] = set()
        # Reentrant: a pass dropped while this thread holds the lock closes through a call.
        self._lock = threading.RLock()
        self._spawned: set[asyncio.Task[None]] = set()

    def in_loop_thread(self) -> bool:
        """Whether the calling thread is the loop thread (which must never wait for it)."""
        return threading.get_ident() == self._thread

    def call(self, fn: Callable[[], Awaitable[R]], *, closing: bool = False) -> R:
        """Await ``fn()`` on the loop thread and return its result (or raise its error).

        A call still running as the client closes raises
        :class:`~flolive.ClientNotOpenError`; ``closing=True`` is for the
        cleanup that runs while it closes.
        """
        call = _Call(fn)
        with self._lock:
            if self.closed and not closing:
                raise ClientNotOpenError(CLOSED_MESSAGE)
            self._calls.add(call)
        try:
            try:
                self._loop.call_soon_threadsafe(call.start)
            except RuntimeError:  # the loop has stopped
                raise ClientNotOpenError(CLOSED_MESSAGE) from None
            return call.wait()
        except concurrent.futures.CancelledError:
            if self.closed:
                raise ClientNotOpenError(f"{CLOSED_MESSAGE} (closed while this call ran)") from None
            raise
        except BaseException:
            # Ctrl+C while waiting: cancel the call and wait for its cleanup, so
            # no request or fetch of it outlives this frame. (A no-op once it finished.)
            call.cancel(self._loop)
            raise
        finally:
            with self._lock:
                self._calls.discard(call)

    def send(self, fn: Callable[[], object], *, closing: bool = False) -> None:
        """Have ``fn()`` run soon on the loop thread, without waiting for it."""
        with self._lock:
            if self.closed and not closing:
                raise ClientNotOpenError(CLOSED_MESSAGE)
            try:
                self._loop.call_soon_threadsafe(fn)
            except RuntimeError:  # the loop has stopped
                raise ClientNotOpenError(CLOSED_MESSAGE) from None

    def spawn(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Start ``fn()`` on the loop thread without waiting for it, as cleanup
        that cannot wait (from the loop thread itself, or a finaliser)."""

        def start() -> None:
            task = asyncio.get_running_loop().create_task(_await(fn))
            self._spawned.add(task)  # the loop holds tasks weakly
            task.add_done_callback(self._spawned.discard)

        with contextlib.suppress(RuntimeError):  # the loop is closed, and the pass with it
            self._loop.call_soon_threadsafe(start)

    def close(self, aclose: Callable[[], Awaitable[None]]) -> None:
        """Cancel the calls in flight, close the open passes, await ``aclose()``
        (the async client's), then stop the loop thread and join it. Idempotent."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            calls = list(self._calls)
        try:
            for call in calls:
                call.cancel(self._loop)
            for p in list(self.passes):
                p.close()
            self.portal.call(aclose)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop the loop thread and join it, cancelling whatever still runs there."""
        self.closed = True
        with contextlib.suppress(RuntimeError):  # already stopped
            self.portal.call(self.portal.stop, True)
        self._stack.close()
