"""The transport: the one place where a request is limited, sent, retried and
turned into a typed result or a typed error.

Order of a request attempt, and why:

1. wait while a ``Retry-After`` pause is on (a 429 pauses the whole client);
2. get the auth token *before* taking a slot, so a login never waits behind
   requests that are themselves waiting for that login;
3. take a slot of the client-wide limiter, then wait for a turn at the send
   rate (:mod:`flolive._ratelimit`; no wait while no rate is in force), *then*
   start the timeout, so time queued behind other requests never counts
   against a request;
4. read the body as bytes, at most ``max_response_size`` of them (after
   decompression), give the slot back, then decode;
5. tell the rate limiter what the answer said; on failure, ask the
   :class:`~flolive.RetryPolicy` what to do, and sleep *without* the slot if
   it says to go again. A push-back the rate limiter answers (a rate is in
   force and answers pass) waits only for its next turn at the rate, and one
   sent too fast for a rate since cut uses up no attempt.

A listing's deadline covers all of it: waiting at the pause, for a slot, for a
login, in backoff, and the request itself.

Credentials never leave the configured origin: redirects are never followed by
aiohttp; this module follows a GET's redirect only to the same scheme, host and
port, and refuses any redirect of the login. Typed errors are raised outside
the ``except`` blocks that caught aiohttp's, so they have no ``__context__``:
aiohttp's errors hold the request headers, and with them the token.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from . import _logging as L
from ._auth import Auth, check_token
from ._codec import error_from_response
from ._limiter import Limiter
from ._ratelimit import PASS, RateController, RateLimit, Verdict
from ._types import RequestContext, ResumeToken, request_id_of, safe_headers
from .errors import (
    AuthenticationError,
    CertificateError,
    ClientNotOpenError,
    DeadlineExceeded,
    FloliveError,
    RateLimited,
    RedirectRefused,
    RequestTimeout,
    ResponseTooLarge,
    TransportError,
    error_for_status,
)
from .retry import RetryPolicy, is_pushback

R = TypeVar("R")
A = TypeVar("A")

Sleep = Callable[[float], Awaitable[None]]
Parse = Callable[[bytes, int, RequestContext], R]

#: Push-backs of one request that may go uncounted (see Verdict.counts):
#: however the rate moves, every request ends.
_MAX_FREE_RETRIES = 4

#: Bytes asked of the stream per read: also bounds what aiohttp decompresses
#: in one step, so a compression bomb is caught a chunk past the limit.
_READ_CHUNK = 256 * 1024
_MAX_REDIRECTS = 10
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(slots=True)
class ClientStats:
    """Counters of one client, readable at any time as ``client.stats``.

    Attributes:
        requests: HTTP requests sent (every attempt, logins and redirects included).
        retries: attempts that were retries of a failed attempt.
        throttles: answers that pushed back (429, 500, 503 and ``GLOBAL_1001``).
        bytes_received: response body bytes read (after decompression).
        logins: logins performed (username/password auth).
        in_flight: requests being sent right now.
        max_in_flight: the most requests ever in flight at once.
        rate: the send rate in force, in requests per second, of the client's
            own ``max_rate`` (``None`` while unlimited).
    """

    requests: int = 0
    retries: int = 0
    throttles: int = 0
    bytes_received: int = 0
    logins: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    rate: float | None = None


class _PauseGate:
    """Closed while a 429's ``Retry-After`` pause runs; every request of the
    client waits at the gate instead of hammering on.

    A pause is a task of the client, not of the request that got the 429: a
    request whose deadline ends does not end the pause for the others, and
    closing the client ends every pause."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._pauses: set[asyncio.Task[None]] = set()

    @property
    def is_open(self) -> bool:
        return not self._pauses

    async def wait(self) -> None:
        while self._pauses:
            await self._open.wait()

    def pause(self, sleep: Sleep, seconds: float) -> None:
        self._open.clear()
        task = asyncio.ensure_future(sleep(seconds))
        self._pauses.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._pauses.discard(task)
        if not self._pauses:
            self._open.set()

    async def aclose(self) -> None:
        tasks = list(self._pauses)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _origin(url: URL) -> tuple[str | None, str | None, int | None]:
    return url.scheme, url.host, url.port


class Transport:
    """Sends requests for a :class:`~flolive.Client`. Not public API."""

    def __init__(
        self,
        *,
        base_url: str,
        session: aiohttp.ClientSession,
        max_concurrency: int,
        auth: Auth,
        headers: Mapping[str, str],
        sleep: Sleep,
        stats: ClientStats,
        proxy: URL | None = None,
        proxy_auth: aiohttp.BasicAuth | None = None,
        adaptive: bool = False,
        max_rate: float | str | None = "auto",
    ) -> None:
        self.base_url = URL(base_url.rstrip("/"))
        self._base = str(self.base_url)
        self._origin = _origin(self.base_url)
        self.session = session
        # Our own FIFO limiter rather than anyio's CapacityLimiter: asyncio-only
        # like aiohttp, no per-task borrower bookkeeping, no backend import on
        # first use (about 25 ms in a cold process), and a limit that can adapt.
        self.limiter = Limiter(max_concurrency, adaptive=adaptive)
        self.auth = auth
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
        # One send-rate limiter per max_rate value: the client's own, and any
        # other a call sets (a quota of its own, learnt apart).
        self._rates: dict[float | str, RateLimit] = {}
        self._own_rate = self.rate_limit(max_rate)
        if self._own_rate is not None:
            stats.rate = self._own_rate.rate  # a known quota is in force from the start

    def rate_limit(self, max_rate: float | str | None) -> RateLimit | None:
        """The send-rate limiter of calls with this ``max_rate`` (None: off)."""
        if max_rate is None:
            return None
        rl = self._rates.get(max_rate)
        if rl is None:
            ceiling = None if max_rate == "auto" else float(max_rate)
            # Turns at the rate are measured on the loop's clock, so they are
            # waited for on it too; the client's `sleep` (backoff, pauses; a
            # test's fake) never stands in for the clock the rate runs on.
            clock = asyncio.get_running_loop().time
            rl = self._rates[max_rate] = RateLimit(RateController(ceiling), clock, asyncio.sleep)
        return rl

    def _observe(self, rl: RateLimit, sent: float, *, pushback: bool) -> Verdict:
        """Tell the limiter what an answer said; log a change of rate."""
        epoch, before = rl.controller.epoch, rl.rate
        verdict = rl.observe(sent, pushback=pushback)
        if rl.controller.epoch != epoch:
            rate = rl.rate
            if rl is self._own_rate:
                self.stats.rate = rate
            L.log_rate_change(
                "rate (requests/s)" if rl is self._own_rate else "a call's own rate (requests/s)",
                math.inf if before is None else before,
                math.inf if rate is None else rate,
                "the server pushed back" if pushback else "no push-back",
            )
        return verdict

    async def aclose(self) -> None:
        self.closed = True
        await self._gate.aclose()

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
        timeout: float | None,
        retry: RetryPolicy,
        max_response_size: int,
        max_rate: float | str | None,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        page: int | None = None,
        resume: ResumeToken | None = None,
        deadline: float | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
        sensitive: bool = False,
        idempotent: bool = False,
    ) -> R:
        """Send until success or a final typed error; ``parse`` turns a 2xx body
        into the result (and raises typed errors for error envelopes).

        ``timeout``, ``retry``, ``max_response_size`` and ``max_rate`` are the call's own,
        resolved by the client. ``path`` is already percent-encoded.
        ``deadline`` is an event-loop time by which the whole request, waits
        and retries included, must be done. ``resume`` is the token every error
        of this request carries (a page of a listing). ``headers`` are the
        call's extra headers, over the client's. Only GETs are retried, and
        other requests marked ``idempotent`` (a cursor read, which sends the
        same ``pitId`` again).
        """
        ctx = RequestContext(
            method, path, page, sensitive, idempotent, resume, None, self.proxy is not None
        )
        attempts = self._attempts(
            ctx,
            parse,
            params,
            json,
            timeout,
            retry,
            deadline,
            max_response_size,
            authenticate,
            headers,
            self.rate_limit(max_rate),
        )
        if deadline is None:
            return await attempts
        scope = asyncio.timeout_at(deadline)
        try:
            async with scope:
                return await attempts
        except TimeoutError:
            if not scope.expired():
                raise  # a RequestTimeout of ours, or a caller's token provider's
        # Raised outside the except block, so it chains nothing.
        raise DeadlineExceeded("listing deadline passed", context=ctx)

    async def _attempts(
        self,
        ctx: RequestContext,
        parse: Parse[R],
        params: Mapping[str, str | int] | None,
        json: Any,
        per_try: float | None,
        policy: RetryPolicy,
        deadline: float | None,
        max_size: int,
        authenticate: bool,
        extra_headers: Mapping[str, str] | None,
        rl: RateLimit | None,
    ) -> R:
        url = URL(self._base + ctx.path, encoded=True)
        refreshed = False
        attempt = 0
        free = 0  # push-backs not counted as attempts (Verdict.counts)
        loop = asyncio.get_running_loop()
        while True:
            attempt += 1
            epoch = -1  # no slot taken yet this attempt
            token = await self._token(ctx) if authenticate else None
            body = b""
            sent: float | None = None  # when the request that was answered was sent
            started = loop.time()
            try:
                status, body, retry_after, epoch, answered, sent = await self._send(
                    ctx, url, params, json, token, per_try, max_size, policy, extra_headers, rl
                )
                if 200 <= status < 300:
                    result = parse(body, status, answered)
                    self.limiter.succeeded()
                    if rl is not None:
                        self._observe(rl, sent, pushback=False)
                    if L.attempts_logged():
                        L.log_attempt(
                            ctx.method,
                            ctx.path,
                            status,
                            (loop.time() - (started if sent is None else sent)) * 1000,
                            request_id_of(answered.headers),
                            attempt,
                            params=params,
                            secrets=(token,),
                        )
                    return result
                error = error_from_response(status, body, retry_after, answered)
            except FloliveError as exc:
                error = exc
            if token is not None and len(token) >= _MIN_REDACTED:
                _redact(error, token, body, ctx)
            L.log_attempt(
                ctx.method,
                ctx.path,
                getattr(error, "http_status", None),
                (loop.time() - (started if sent is None else sent)) * 1000,
                error.request_id,
                attempt,
                error=error,
                params=params,
                secrets=(token,),
            )
            if (
                isinstance(error, AuthenticationError)
                and error.http_status == 401
                and authenticate  # never for the login itself: it runs under the auth lock
                and self.auth.refreshable
                and not refreshed
            ):
                # One re-login per stale token, shared by all who saw it.
                refreshed = True
                attempt -= 1
                L.log_relogin(ctx.method, ctx.path, 401, params=params, secrets=(token,))
                await self._for_request(ctx, self.auth.refresh(token))
                continue
            verdict = PASS
            pushback = is_pushback(error)
            told = isinstance(error, RateLimited) and error.retry_after is not None
            if rl is not None and sent is not None and not told:
                # A server that says when to come back is waited for at the
                # pause gate, not learnt from.
                verdict = self._observe(rl, sent, pushback=pushback)
                if not isinstance(error, RateLimited):
                    # 500s and 503s shape the rate too, but a request they
                    # failed backs off and counts its attempt, as a fault does.
                    verdict = PASS
            if pushback:
                self.stats.throttles += 1
                if epoch >= 0 and not verdict.paced:
                    # Push-back the rate answers is no reason for fewer at once.
                    self.limiter.throttled(epoch)
                if not verdict.counts and free < _MAX_FREE_RETRIES:
                    free += 1
                    attempt -= 1  # the client sent too fast: not the request's fault
            delay = policy.decide(error, max(attempt, 1))  # 0 after a free push-back
            if pushback:
                L.log_throttle(
                    ctx.method,
                    ctx.path,
                    error,
                    pause=delay if told else None,
                    params=params,
                    secrets=(token,),
                )
            if delay is None:
                raise error
            if verdict.paced:
                delay = 0.0  # its turn at the (cut) rate is the wait
            if deadline is not None and loop.time() + delay >= deadline:
                raise DeadlineExceeded(
                    f"listing deadline passes during the {delay:.3g} s wait before a retry "
                    f"of: {error}",
                    context=ctx,
                ) from error
            self.stats.retries += 1
            number = max(attempt, 1)  # a push-back that did not count retries as the first
            if policy.on_retry is not None:
                policy.on_retry(error, number, delay)
            L.log_retry(
                ctx.method,
                ctx.path,
                attempt=number,
                max_retries=policy.max_retries,
                delay=delay,
                error=error,
                params=params,
                secrets=(token,),
            )
            if isinstance(error, RateLimited) and error.retry_after is not None:
                # The whole client waits, this request at the gate with the rest.
                self._gate.pause(self.sleep, delay)
            elif delay > 0.0:
                await self.sleep(delay)

    async def _token(self, ctx: RequestContext) -> str | None:
        token = await self._for_request(ctx, self.auth.token())
        if token is not None:
            check_token(token, ctx)
        return token

    @staticmethod
    async def _for_request(ctx: RequestContext, action: Awaitable[A]) -> A:
        """Run an auth step (login, re-login, provider). A login shared by many
        requests fails once: each of them raises its own copy of that error,
        on its own page and with its own resume token."""
        try:
            return await action
        except FloliveError as exc:
            failed = exc
        raise failed.for_request(ctx.page, ctx.resume) from None

    def _headers_for(self, token: str | None) -> dict[str, str]:
        cached_token, headers = self._authed_headers
        if token != cached_token:
            headers = (
                self.headers
                if token is None
                else {**self.headers, "Authorization": f"Bearer {token}"}
            )
            self._authed_headers = (token, headers)
        return headers

    async def _send(
        self,
        ctx: RequestContext,
        url: URL,
        params: Mapping[str, str | int] | None,
        json: Any,
        token: str | None,
        per_try: float | None,
        max_size: int,
        policy: RetryPolicy,
        extra_headers: Mapping[str, str] | None,
        rl: RateLimit | None,
    ) -> tuple[int, bytes, float | None, int, RequestContext, float]:
        headers = self._headers_for(token)
        if extra_headers:
            headers = {**headers, **extra_headers}
        limiter = self.limiter
        while True:
            await self._gate.wait()
            epoch = await limiter.acquire()
            if self._gate.is_open:
                break
            # A pause began while this request queued for its slot.
            limiter.release()
        try:
            if self.closed:
                raise ClientNotOpenError(
                    "the client is closed; use it inside `async with Client(...)`", context=ctx
                )
            sent = 0.0
            if rl is not None:
                # After the slot: the wait for a send turn paces what is sent,
                # and the request's timeout starts after both.
                sent = await rl.acquire()
                if rl is self._own_rate and (rl.controller.cuts or rl.controller.ceiling):
                    self.stats.rate = rl.rate
            for _ in range(_MAX_REDIRECTS + 1):
                status, body, retry_after, location, answered = await self._exchange(
                    ctx, url, params, json, headers, per_try, max_size, policy
                )
                if location is None:
                    return status, body, retry_after, epoch, answered, sent
                # The Location carries the query it wants: params are not re-added.
                url, params = self._follow(ctx, status, url, location), None
            raise RedirectRefused(
                status, url.host, reason=f"more than {_MAX_REDIRECTS} redirects", context=ctx
            )
        finally:
            limiter.release()

    def _follow(self, ctx: RequestContext, status: int, url: URL, location: str) -> URL:
        """Where a redirect leads, if the client may follow it; else the typed error."""
        try:
            target = url.join(URL(location))
            host = target.host
        except ValueError:
            target, host = None, None
        if target is None:
            raise RedirectRefused(status, None, reason="its Location is not a URL", context=ctx)
        if ctx.method != "GET":
            # The login's body holds the password; no other POST is redirected either.
            reason = (
                "the login is never redirected" if ctx.sensitive else "only GETs are redirected"
            )
            raise RedirectRefused(status, host, reason=reason, context=ctx)
        if _origin(target) != self._origin:
            raise RedirectRefused(
                status, host, reason="it leaves the configured origin", context=ctx
            )
        return target

    async def _exchange(
        self,
        ctx: RequestContext,
        url: URL,
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: Mapping[str, str],
        per_try: float | None,
        max_size: int,
        policy: RetryPolicy,
    ) -> tuple[int, bytes, float | None, str | None, RequestContext]:
        """One HTTP exchange: (status, body, Retry-After, Location of a
        redirect, the context with the answer's headers)."""
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        if stats.in_flight > stats.max_in_flight:
            stats.max_in_flight = stats.in_flight
        failure: FloliveError | None = None
        timed_out = False
        answered = ctx
        try:
            async with self.session.request(
                ctx.method,
                url,
                params=params,
                json=json,
                headers=headers,
                timeout=self._client_timeout(per_try),
                proxy=self.proxy,
                proxy_auth=self.proxy_auth,
                allow_redirects=False,
            ) as resp:
                status = resp.status
                answered = replace(ctx, headers=safe_headers(resp.headers))
                if status in _REDIRECT_STATUSES and "Location" in resp.headers:
                    return status, b"", None, resp.headers["Location"], answered
                body = await _read_limited(resp, max_size, answered)
                retry_after = policy.retry_after(resp.headers) if status in (429, 503) else None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            timed_out = True
        except (aiohttp.ClientError, OSError, ValueError, LookupError) as exc:
            # Only the class and message: the exception itself (request_info,
            # headers) must not travel with our error. OSError, ValueError and
            # LookupError come from below aiohttp's own wrapping: odd sockets,
            # invalid header values, unknown encodings.
            failure = _failure(exc, answered)
        except RuntimeError as exc:
            if not self.session.closed:
                raise
            failure = TransportError(f"the session is closed ({exc})", context=ctx)
        finally:
            stats.in_flight -= 1
        if timed_out:
            within = f" within {per_try:.3g} s" if per_try else ""
            raise RequestTimeout(f"no complete response{within}", context=ctx)
        if failure is not None:
            raise failure
        stats.bytes_received += len(body)
        return status, body, retry_after, None, answered


_REDACTED = "[redacted]"
#: Shorter "tokens" (test stand-ins like "t") would match ordinary words; a
#: real bearer token is far longer.
_MIN_REDACTED = 8


def _failure(exc: BaseException, ctx: RequestContext) -> FloliveError:
    """Our error for a failure below HTTP, in a plain sentence where the
    failure is a common one (refused, unresolvable, certificate, proxy). A
    parser's message may quote the bytes it choked on, and a login's answer
    holds a token: for a sensitive request only the class is told."""
    name = type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        reason = getattr(cert, "verify_message", None) or str(cert)
        return CertificateError(
            f"the TLS certificate of {exc.host}:{exc.port} did not verify ({reason})",
            context=ctx,
        )
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return error_for_status(exc.status, body=None, context=replace(ctx, proxied=True))
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return TransportError(f"cannot connect to the proxy {exc.host}:{exc.port}", context=ctx)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return TransportError(f"cannot resolve the host name {exc.host!r}", context=ctx)
    if isinstance(exc, aiohttp.ClientConnectorError):
        code = exc.os_error.errno
        why = os.strerror(code).lower() if code else str(exc.os_error)
        return TransportError(f"cannot connect to {exc.host}:{exc.port}: {why}", context=ctx)
    if ctx.sensitive:
        detail = f"{name} (details withheld: the answer may hold credentials)"
    elif isinstance(exc, aiohttp.ClientResponseError):
        detail = f"{name}: {exc.status} {exc.message}"
    else:
        detail = f"{name}: {exc}"
    return TransportError(detail, context=ctx)


def _redacted(body: bytes, token: str | None) -> bytes:
    """``body`` without the token, which a server's debug page may echo."""
    if token is None or not body:
        return body
    return body.replace(token.encode(), _REDACTED.encode())


def _redact(error: FloliveError, token: str, body: bytes, ctx: RequestContext) -> None:
    """Take the token out of everything ``error`` says, in place: a body
    excerpt (cut from the whole body once the token is out of it, so no half
    token survives the cut), the API's own message, aiohttp's words."""
    if getattr(error, "body", None) is not None:
        error.body = ctx.excerpt(_redacted(body, token))  # type: ignore[attr-defined]
    raw = token.encode()
    for name, value in vars(error).items():
        if isinstance(value, str) and token in value:
            setattr(error, name, value.replace(token, _REDACTED))
        elif isinstance(value, bytes) and raw in value:
            setattr(error, name, value.replace(raw, _REDACTED.encode()))
    error.args = tuple(a.replace(token, _REDACTED) if isinstance(a, str) else a for a in error.args)


async def _read_limited(resp: aiohttp.ClientResponse, limit: int, ctx: RequestContext) -> bytes:
    """The body, or :class:`ResponseTooLarge` as soon as it is known to pass
    ``limit``: from ``Content-Length`` before reading, else on the bytes read
    (decompressed, so a gzip bomb stops a chunk past the limit)."""
    length = resp.content_length
    if length is not None and length > limit:
        raise ResponseTooLarge(limit, resp.status, context=ctx)
    content = resp.content
    first = await content.read(_READ_CHUNK)
    if len(first) > limit:
        raise ResponseTooLarge(limit, resp.status, context=ctx)
    if content.at_eof():
        return first  # the common case: a page in one read, no joining
    chunks = [first]
    size = len(first)
    while chunk := await content.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(limit, resp.status, context=ctx)
        chunks.append(chunk)
    return b"".join(chunks)
