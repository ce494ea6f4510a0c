"""Credentials: a static token, a username/password login, or a caller's provider.

Secrets live only here and in the ``Authorization`` header of outgoing
requests; no repr, log line or exception carries them.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Awaitable, Callable

from .errors import FloliveError, InvalidCredentials, RequestContext

TokenProvider = Callable[[], Awaitable[str]]
"""An async callable returning a bearer token; called before every request."""

LoginFunc = Callable[[str, str], Awaitable[str]]

# C0 controls and DEL: CR/LF would split the header, NUL truncate it; none
# belongs in a bearer token. aiohttp would raise a bare ValueError, mid-request.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_token(token: str, context: RequestContext | None = None) -> str:
    """``token`` if it can be sent in a header, else :class:`InvalidCredentials`
    (whose message never shows the token)."""
    if not isinstance(token, str) or not token:
        raise InvalidCredentials("the token is empty or not a string", context=context)
    if _CONTROL.search(token):
        raise InvalidCredentials(
            "the token holds a control character (CR, LF, NUL, ...); refused before sending",
            context=context,
        )
    return token


class Auth:
    """No credentials: requests go out without ``Authorization``."""

    #: Whether a 401 may be answered by getting a new token and trying once more.
    refreshable = False
    kind = "none"

    async def token(self) -> str | None:
        return None

    async def refresh(self, stale: str | None) -> None:
        """Make a token other than ``stale`` available, if this auth can."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class StaticToken(Auth):
    kind = "token"

    def __init__(self, token: str) -> None:
        self._token = check_token(token)

    async def token(self) -> str | None:
        return self._token


class ProviderAuth(Auth):
    refreshable = True
    kind = "provider"

    def __init__(self, provider: TokenProvider) -> None:
        self._provider = provider

    async def token(self) -> str | None:
        return await self._provider()


class PasswordAuth(Auth):
    """Logs in lazily, shares the token, and re-logs in once per stale token:
    however many requests in flight get 401 with token A, only the first to
    take the lock logs in; the others find a token other than A and reuse it.

    A failed login is shared the same way: the requests that waited for it
    fail with (a copy of) its error instead of each trying again, so a burst
    of concurrent page requests costs one login against a failing server."""

    refreshable = True
    kind = "password"

    def __init__(self, username: str, password: str, login: LoginFunc) -> None:
        self._username = username
        self._password = password
        self._login = login
        self._token: str | None = None
        self._lock = asyncio.Lock()
        self._logins = 0  # logins started, so a waiter knows one ran meanwhile
        self._failure: FloliveError | None = None

    async def token(self) -> str | None:
        if self._token is None:
            await self._login_once(None)
        return self._token

    async def refresh(self, stale: str | None) -> None:
        await self._login_once(stale)

    async def _login_once(self, stale: str | None) -> None:
        # A login running now counts as one we waited for.
        seen = self._logins - self._lock.locked()
        async with self._lock:
            if self._token is not None and self._token != stale:
                return  # someone else logged in while we waited
            failure = self._failure if self._logins != seen else None
            if failure is None:
                self._logins += 1
                self._token = None
                try:
                    self._token = await self._login(self._username, self._password)
                    self._failure = None
                    return
                except FloliveError as exc:
                    # A copy taken now: the raised one gets its requester's
                    # page; each waiter's copy gets its own.
                    self._failure = copy.copy(exc)
                    raise
        # Outside the except and the lock: a fresh copy, without a traceback
        # shared between tasks.
        raise copy.copy(failure)
