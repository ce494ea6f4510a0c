"""The transport: the one place where a request is limited, sent, retried and
turned into a typed result or a typed error.

Order of a request attempt, and why:

1. wait while a ``Retry-After`` pause is on (a 429 pauses the whole client);
2. get the auth token *before* taking a slot, so a login never waits behind
   requests that are themselves waiting for that login;
3. take a slot of the client-wide limiter, *then* start the timeout, so time
   queued behind other requests never counts against a request;
4. read the whole body as bytes, give the slot back, then decode;
5. on a retryable failure, sleep *without* the slot and go again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import EllipsisType
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from ._auth import Auth
from ._codec import RequestInfo, error_from_response
from ._limiter import Limiter
from .errors import (
    APIError,
    AuthenticationError,
    ClientNotOpenError,
    DeadlineExceeded,
    FloliveError,
    HTTPStatusError,
    RateLimited,
    RequestTimeout,
    TransportError,
)
from .retry import RetryPolicy

logger = logging.getLogger("flolive")

R = TypeVar("R")
A = TypeVar("A")

Sleep = Callable[[float], Awaitable[None]]
Parse = Callable[[bytes, int, RequestInfo], R]


@dataclass(slots=True)
class ClientStats:
    """Counters of one client, readable at any time as ``client.stats``.

    Attributes:
        requests: HTTP requests sent (every attempt, logins included).
        retries: attempts that were retries of a failed attempt.
        throttles: responses that said to slow down (429, and GLOBAL_1001).
        bytes_received: response body bytes read.
        logins: logins performed (username/password auth).
        in_flight: requests being sent right now.
        max_in_flight: the most requests ever in flight at once.
    """

    requests: int = 0
    retries: int = 0
    throttles: int = 0
    bytes_received: int = 0
    logins: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


class _PauseGate:
    """Closed while any request sleeps out a 429's ``Retry-After``; every
    other request of the client waits at the gate instead of hammering on."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._closers = 0

    @property
    def is_open(self) -> bool:
        return self._closers == 0

    async def wait(self) -> None:
        while self._closers:
            await self._open.wait()

    async def pause(self, sleep: Sleep, seconds: float) -> None:
        self._closers += 1
        self._open.clear()
        try:
            await sleep(seconds)
        finally:
            self._closers -= 1
            if not self._closers:
                self._open.set()


def _is_pushback(exc: FloliveError) -> bool:
    """Answers that say "fewer requests at once": 429, GLOBAL_1001, 503, and
    500 too (the vendor's servers answer 500 when called too fast)."""
    if isinstance(exc, APIError):
        return exc.code == "GLOBAL_1001"
    return isinstance(exc, HTTPStatusError) and exc.http_status in (429, 500, 503)


def _is_retryable(exc: FloliveError, policy: RetryPolicy) -> bool:
    if isinstance(exc, DeadlineExceeded):
        return False
    if isinstance(exc, APIError):
        return exc.code in policy.retry_codes
    if isinstance(exc, HTTPStatusError):
        return exc.http_status in policy.retry_statuses
    if isinstance(exc, TransportError):
        return policy.retry_transport_errors
    return False


class Transport:
    """Sends requests for a :class:`~flolive.Client`. Not public API."""

    def __init__(
        self,
        *,
        base_url: str,
        session: aiohttp.ClientSession,
        max_concurrency: int,
        auth: Auth,
        retry: RetryPolicy,
        timeout: float | None,
        headers: Mapping[str, str],
        sleep: Sleep,
        stats: ClientStats,
        proxy: URL | None = None,
        proxy_auth: aiohttp.BasicAuth | None = None,
        adaptive: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        # Our own FIFO limiter rather than anyio's CapacityLimiter: asyncio-only
        # like aiohttp, no per-task borrower bookkeeping, no backend import on
        # first use (about 25 ms in a cold process), and a limit that can adapt.
        self.limiter = Limiter(max_concurrency, adaptive=adaptive)
        self.auth = auth
        self.retry = retry
        self.timeout = timeout
        self.headers = dict(headers)
        self.sleep = sleep
        self.stats = stats
        self.proxy = proxy
        self.proxy_auth = proxy_auth
        self.closed = False
        # (token, headers with it): one dict per token, not one per request.
        self._authed_headers: tuple[str | None, dict[str, str]] = (None, self.headers)
        self._gate = _PauseGate()
        self._timeouts: dict[float | None, aiohttp.ClientTimeout] = {}

    def _client_timeout(self, seconds: float | None) -> aiohttp.ClientTimeout:
        t = self._timeouts.get(seconds)
        if t is None:
            t = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return t

    async def request(
        self,
        method: str,
        path: str,
        parse: Parse[R],
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        page: int | None = None,
        timeout: float | EllipsisType | None = ...,
        retry: RetryPolicy | None = None,
        deadline: float | None = None,
        authenticate: bool = True,
        sensitive: bool = False,
    ) -> R:
        """Send until success or a final typed error; ``parse`` turns a 2xx body
        into the result (and raises typed errors for error envelopes).

        ``deadline`` is an event-loop time after which no attempt starts and
        no wait runs on. Only GETs are retried.
        """
        policy = retry or self.retry
        per_try = self.timeout if isinstance(timeout, EllipsisType) else timeout
        info = RequestInfo(method, path, page, sensitive)
        url = self.base_url + path
        retries_left = policy.max_retries if method == "GET" else 0
        refreshed = False
        retry_number = 0
        loop = asyncio.get_running_loop()
        while True:
            epoch = -1  # no slot taken yet this attempt
            token = await self._on_page(page, self.auth.token()) if authenticate else None
            try:
                status, body, retry_after, epoch = await self._send(
                    method, url, params, json, token, per_try, deadline, loop, info, policy
                )
                if 200 <= status < 300:
                    result = parse(body, status, info)
                    self.limiter.succeeded()
                    return result
                raise error_from_response(status, body, retry_after, info)
            except AuthenticationError as exc:
                # Never for the login itself: it runs under the auth lock.
                if (
                    authenticate
                    and exc.http_status == 401
                    and self.auth.refreshable
                    and not refreshed
                ):
                    # One re-login per stale token, shared by all who saw it.
                    refreshed = True
                    logger.info("%s %s: HTTP 401, getting a new token", method, path)
                    await self._on_page(page, self.auth.refresh(token))
                    continue
                raise
            except FloliveError as exc:
                if isinstance(exc, RateLimited) or (
                    isinstance(exc, APIError) and exc.code in policy.retry_codes
                ):
                    self.stats.throttles += 1
                if _is_pushback(exc) and epoch >= 0:
                    self.limiter.throttled(epoch)
                if retries_left <= 0 or not _is_retryable(exc, policy):
                    raise
                retry_number += 1
                retries_left -= 1
                server_wait = exc.retry_after if isinstance(exc, HTTPStatusError) else None
                delay = server_wait if server_wait is not None else policy.backoff(retry_number)
                if deadline is not None and loop.time() + delay >= deadline:
                    raise
                self.stats.retries += 1
                logger.debug(
                    "retry %d of %d in %.2f s: %s: %s",
                    retry_number,
                    policy.max_retries,
                    delay,
                    type(exc).__name__,
                    exc,
                )
                if isinstance(exc, RateLimited) and server_wait is not None:
                    await self._gate.pause(self.sleep, delay)
                else:
                    await self.sleep(delay)

    @staticmethod
    async def _on_page(page: int | None, action: Awaitable[A]) -> A:
        """Run an auth step (login, re-login, provider), reporting its failure
        on the page that needed it."""
        try:
            return await action
        except FloliveError as exc:
            if exc.page is None:
                exc.page = page
            raise

    async def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        token: str | None,
        per_try: float | None,
        deadline: float | None,
        loop: asyncio.AbstractEventLoop,
        info: RequestInfo,
        policy: RetryPolicy,
    ) -> tuple[int, bytes, float | None, int]:
        cached_token, headers = self._authed_headers
        if token != cached_token:
            headers = (
                self.headers
                if token is None
                else {**self.headers, "Authorization": f"Bearer {token}"}
            )
            self._authed_headers = (token, headers)
        limiter = self.limiter
        while True:
            await self._gate.wait()
            epoch = await limiter.acquire()
            if self._gate.is_open:
                break
            # A pause began while this request queued for its slot.
            limiter.release()
        stats = self.stats
        try:
            if self.closed:
                raise ClientNotOpenError(
                    "the client is closed; use it inside `async with Client(...)`",
                    method=info.method,
                    path=info.path,
                    page=info.page,
                )
            limit = per_try
            hit_deadline = False
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise DeadlineExceeded(
                        "listing deadline passed",
                        method=info.method,
                        path=info.path,
                        page=info.page,
                    )
                if limit is None or remaining < limit:
                    limit, hit_deadline = remaining, True
            stats.requests += 1
            stats.in_flight += 1
            if stats.in_flight > stats.max_in_flight:
                stats.max_in_flight = stats.in_flight
            try:
                async with self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=self._client_timeout(limit),
                    proxy=self.proxy,
                    proxy_auth=self.proxy_auth,
                ) as resp:
                    body = await resp.read()
                    status = resp.status
                    retry_after = policy.retry_after(resp.headers) if status in (429, 503) else None
            except TimeoutError as exc:
                cls = DeadlineExceeded if hit_deadline else RequestTimeout
                raise cls(
                    f"no complete response within {limit:.3g} s",
                    method=info.method,
                    path=info.path,
                    page=info.page,
                ) from exc
            except aiohttp.ClientResponseError as exc:
                # Its request_info holds the request headers, token included:
                # do not chain it.
                raise TransportError(
                    f"{type(exc).__name__}: {exc.status} {exc.message}",
                    method=info.method,
                    path=info.path,
                    page=info.page,
                ) from None
            except aiohttp.ClientError as exc:
                raise TransportError(
                    f"{type(exc).__name__}: {exc}",
                    method=info.method,
                    path=info.path,
                    page=info.page,
                ) from exc
            finally:
                stats.in_flight -= 1
            stats.bytes_received += len(body)
            return status, body, retry_after, epoch
        finally:
            limiter.release()
