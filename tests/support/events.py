"""Waits for events, never for a time.

A test waits for what it needs to have happened (N requests seen, a page held,
the loop's tasks gone), with a deadline far above any machine's need that only
turns a broken test into a failure instead of a hang. Where only a condition
can be watched (a scheduler's state, a counter of another thread), it is
polled every few milliseconds: the wait still ends on the condition, so a
machine twice as fast or twice as loaded changes nothing but the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import flolive

_SDK = Path(flolive.__file__).parent
_SANDBOX = _SDK / "sandbox"

#: Seconds a wait may take before the test fails (only a broken test gets near it).
DEADLINE = 30.0
#: How often a condition that cannot notify is looked at.
POLL = 0.002


def wait_until(condition: Callable[[], bool], *, timeout: float = DEADLINE, what: str = "") -> None:
    """Block the calling thread until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what or "condition never became true"
        time.sleep(POLL)


async def until(
    condition: Callable[[], bool], *, timeout: float = DEADLINE, what: str = ""
) -> None:
    """Wait in the running loop until ``condition()`` holds (the loop runs on)."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(POLL)
    except TimeoutError:
        raise AssertionError(what or "condition never became true") from None


async def turns(n: int = 3) -> None:
    """Let the loop run ``n`` times: what is scheduled now (an async
    generator's finalizer, a cancelled task's cleanup) runs; no time passes."""
    for _ in range(n):
        await asyncio.sleep(0)


def running_tasks() -> set[asyncio.Task[Any]]:
    """The running loop's tasks but the caller's own. With the server on a
    thread of its own (:class:`~tests.support.servers.ThreadedSandbox`), these
    are the client's: none left means nothing can send another request."""
    me = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not me}


async def settled(keep: set[asyncio.Task[Any]], *, timeout: float = DEADLINE) -> None:
    """Wait until every task of the loop but those in ``keep`` (and the
    caller's) has finished: a task that never ends fails the test."""
    try:
        async with asyncio.timeout(timeout):
            while left := running_tasks() - keep:
                await asyncio.wait(left)
    except TimeoutError:
        raise AssertionError(f"tasks never finished: {running_tasks() - keep}") from None


def sdk_tasks() -> set[asyncio.Task[Any]]:
    """The running loop's tasks that run the SDK's own code (not its
    sandbox's, nor aiohttp's): a listing's page fetches, a cursor's
    read-ahead, whatever the SDK names them."""
    found = set()
    for task in running_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        where = Path(code.co_filename) if code is not None else None
        if where is not None and where.is_relative_to(_SDK) and not where.is_relative_to(_SANDBOX):
            found.add(task)
    return found


@contextlib.asynccontextmanager
async def background(coro: Coroutine[Any, Any, Any]) -> AsyncIterator[asyncio.Task[Any]]:
    """``coro`` as a task while the block runs, cancelled at its end: the
    task must still be running then, and end cancelled."""
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the background task ended before it was cancelled")
