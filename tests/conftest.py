"""Fixtures only: the mocked HTTP layer, sandboxes (plain, gated, and on a
thread of their own), a fake sleep, a task-leak check. What they are built on
lives in :mod:`tests.support`."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aioresponses import aioresponses

from flolive.sandbox import Sandbox

from .support.clients import BASE, FakeSleep
from .support.events import running_tasks, turns
from .support.servers import CANCEL_HELD, PageGate, RequestGate, ThreadedSandbox, mocked_http

# Still imported from here by test_cli.py, test_export.py and
# test_export_subscribers.py; new code imports them from tests.support.
__all__ = ["BASE", "FakeSleep", "PageGate", "ThreadedSandbox"]


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    """aioresponses, working on aiohttp 3.14."""
    with mocked_http() as m:
        yield m


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def no_leaks() -> AsyncIterator[None]:
    """Fails the test if it leaves tasks behind."""
    before = running_tasks()
    yield
    await turns(5)
    leaked = running_tasks() - before
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


@pytest.fixture
def threaded_sandbox() -> Iterator[Callable[..., ThreadedSandbox]]:
    """``threaded_sandbox(middlewares=[...], runner_options={...}, **Sandbox
    kwargs)`` -> a started :class:`ThreadedSandbox` (``runner_options`` go to
    ``aiohttp.web.AppRunner``); every one is stopped after the test."""
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


@pytest.fixture
def held_sandbox(
    threaded_sandbox: Callable[..., ThreadedSandbox],
) -> Callable[..., tuple[ThreadedSandbox, RequestGate]]:
    """``held_sandbox(hold, **Sandbox kwargs)`` -> ``(server, gate)``: a
    sandbox on a thread of its own (every task of the test's loop is then the
    client's) behind a :class:`RequestGate` (``hold``, or one made of the
    predicate ``hold``) holding requests until their client gives up (the
    server then cancels the handler)."""

    def start(
        hold: RequestGate | Callable[..., bool], **kwargs: Any
    ) -> tuple[ThreadedSandbox, RequestGate]:
        gate = hold if isinstance(hold, RequestGate) else RequestGate(hold)
        options = {"middlewares": [gate.middleware], "runner_options": CANCEL_HELD}
        return threaded_sandbox(**options, **kwargs), gate

    return start
