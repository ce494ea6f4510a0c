"""The embedded sandbox: a local server speaking floLIVE API v2 (needs only aiohttp).

Example::

    from flolive import Client
    from flolive.sandbox import Sandbox

    async with Sandbox() as url, Client(base_url=url) as client:
        n = len(await client.campaign_participants(1, 1).collect())   # 988

The server (and with it ``aiohttp.web``) is imported on first use of
:class:`Sandbox`, :class:`Faults` or :class:`SandboxStats`, so that
:mod:`flolive.sandbox.data` and :mod:`flolive.sandbox.faults` stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .data import DEFAULT_CAMPAIGN_SIZES, DataSet

if TYPE_CHECKING:
    from .server import Faults, Sandbox, SandboxStats

__all__ = ["DEFAULT_CAMPAIGN_SIZES", "DataSet", "Faults", "Sandbox", "SandboxStats"]

_SERVER_NAMES = frozenset({"Faults", "Sandbox", "SandboxStats"})


def __getattr__(name: str) -> Any:
    if name in _SERVER_NAMES:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
