"""The one client factory of the tests, and the stand-in sleep it uses."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from flolive import Client

from .hostile import TOKEN

#: The base URL of the mocked HTTP layer (aioresponses).
BASE = "http://api.test"
_CREDENTIALS = ("token", "token_provider", "username", "password")


class FakeSleep:
    """Records the delays asked for and returns at once (after yielding to the loop)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


class _Served(Protocol):
    @property
    def url(self) -> str: ...


def make_client(
    server: str | _Served = BASE, *, speculate: int | None = 0, **options: Any
) -> Client:
    """A :class:`~flolive.Client` of ``server`` (a base URL, or a test server
    with a ``url``; default: the mocked :data:`BASE`).

    Unless ``options`` say otherwise: the token :data:`~tests.support.hostile.TOKEN`
    (when no credentials are given), backoff that returns at once (a new
    :class:`FakeSleep`; pass ``sleep=`` to read its calls), and ``speculate=0``,
    so that the requests a test counts are the ones it caused
    (``speculate=None``: the client's own default)."""
    url = server if isinstance(server, str) else server.url
    if not any(name in options for name in _CREDENTIALS):
        options["token"] = TOKEN
    options.setdefault("sleep", FakeSleep())
    if speculate is not None:
        options["speculate"] = speculate
    return Client(base_url=url, **options)
