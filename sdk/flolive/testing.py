"""A pytest plugin for testing your own code against :mod:`flolive.sandbox`.

Installed with flolive-sdk and loaded by pytest on its own (the ``pytest11``
entry point ``flolive``; ``pytest -p no:flolive`` turns it off). Fixtures:

``flolive_sandbox``
    The base URL (``http://127.0.0.1:PORT``) of a running sandbox with the
    default data, new for each test.
``flolive_sandbox_factory``
    ``flolive_sandbox_factory(**options) -> str``: starts another sandbox with
    :class:`~flolive.sandbox.Sandbox` options (``page_base=1``,
    ``faults=Faults(...)``, ``token="t"``, ...) and returns its URL.
``flolive_client``
    An open :class:`flolive.Client` on ``flolive_sandbox`` (async; runs on the
    test's event loop under pytest-asyncio, in its ``auto`` and ``strict`` modes).
``flolive_sync_client``
    An open :class:`flolive.sync.Client` on ``flolive_sandbox``.

Example::

    async def test_campaign_has_everyone(flolive_client):
        assert len(await flolive_client.campaign_participants(1, 1).collect()) == 988

The sandboxes run on an event loop of their own, in a thread, so one sandbox
serves async tests (on any loop scope), sync tests and the sync client alike;
``before_page`` callbacks given to the factory run on that loop. Each is
started on 127.0.0.1 and stopped, its thread joined, when the test's fixtures
are torn down, after the clients on it are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

try:
    import pytest
except ImportError as exc:  # pragma: no cover - pytest loads this module
    raise ImportError(
        "flolive.testing is a pytest plugin and needs pytest: pip install 'flolive-sdk[testing]'"
    ) from exc

from .client import Client

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

    from . import sync
    from .sandbox import Sandbox

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = [
    "SandboxThread",
    "flolive_client",
    "flolive_sandbox",
    "flolive_sandbox_factory",
    "flolive_sync_client",
]


class SandboxThread:
    """Sandboxes served from one event loop on a thread of its own.

    Use it as a context manager: :meth:`start` starts a sandbox and returns its
    URL; leaving the ``with`` stops every sandbox it started (last first),
    then the loop, and joins the thread.
    """

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._portal: BlockingPortal | None = None

    def __enter__(self) -> SandboxThread:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._portal = None
        self._stack.close()

    def start(self, **options: Any) -> str:
        """Start a :class:`~flolive.sandbox.Sandbox` with ``options``; its URL."""
        from anyio.from_thread import start_blocking_portal

        from .sandbox import Sandbox

        sandbox = Sandbox(**options)  # bad options fail here, before any thread starts
        if self._portal is None:
            self._portal = self._stack.enter_context(
                start_blocking_portal("asyncio", name="flolive-sandbox")
            )
        url = self._portal.call(sandbox.start)
        self._stack.callback(self._portal.call, _stop, sandbox)
        return url


async def _stop(sandbox: Sandbox) -> None:
    # On Python 3.11 a connection accepted just before the server closes is set
    # up by a task of its own that fails once the server is closed, leaking the
    # socket (a ResourceWarning in the user's test run). Let such tasks end,
    # then stop: the listening socket closes before stop() first awaits, so no
    # new one can start in between.
    while pending := [t for t in asyncio.all_tasks() if _accepting(t)]:
        await asyncio.wait(pending)
    await sandbox.stop()


def _accepting(task: asyncio.Task[Any]) -> bool:
    return getattr(task.get_coro(), "__name__", "") == "_accept_connection2"


@pytest.fixture
def flolive_sandbox_factory() -> Iterator[Callable[..., str]]:
    """``flolive_sandbox_factory(**options) -> url``: a running
    :class:`flolive.sandbox.Sandbox` made with ``options``, stopped after the test."""
    with SandboxThread() as sandboxes:
        yield sandboxes.start


@pytest.fixture
def flolive_sandbox(flolive_sandbox_factory: Callable[..., str]) -> str:
    """The base URL of a running :class:`flolive.sandbox.Sandbox` with the
    default data (customers 1..9; campaign 1 of customer 1 has 988
    participants), stopped after the test."""
    return flolive_sandbox_factory()


def _async_fixture(fn: _F) -> _F:
    try:
        import pytest_asyncio
    except ImportError:
        # Without pytest-asyncio a plain async fixture, for whichever plugin
        # runs the test's loop.
        return cast(_F, pytest.fixture(fn))
    # pytest-asyncio's own marker: strict mode runs only fixtures marked so.
    return cast(_F, pytest_asyncio.fixture(fn))


@_async_fixture
async def flolive_client(flolive_sandbox: str) -> AsyncIterator[Client]:
    """An open :class:`flolive.Client` on ``flolive_sandbox`` (default
    options, no proxy from the environment), closed after the test. Async: it
    runs on the test's event loop."""
    async with Client(base_url=flolive_sandbox, trust_env=False) as client:
        yield client


@pytest.fixture
def flolive_sync_client(flolive_sandbox: str) -> Iterator[sync.Client]:
    """An open :class:`flolive.sync.Client` on ``flolive_sandbox`` (default
    options, no proxy from the environment), closed after the test."""
    from .sync import Client as SyncClient

    with SyncClient(base_url=flolive_sandbox, trust_env=False) as client:
        yield client
