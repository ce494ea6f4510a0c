"""An aiohttp.web server that speaks the floLIVE API v2 contract, with knobs for
latency, faults, throttling, list drift and auth. See :class:`Sandbox`."""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import math
import secrets
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from .data import (
    INVENTORY,
    DataSet,
    Subscriber,
    WireCampaign,
    WireDetails,
    WireLabel,
    WireParticipant,
    WireProfile,
    WireSubscriber,
    unit,
)

# Re-exported: FAULT_KINDS, FAULT_DESCRIPTIONS and Faults were defined here.
from .faults import FAULT_DESCRIPTIONS, FAULT_KINDS, Faults, LeakyBucket

__all__ = ["FAULT_DESCRIPTIONS", "FAULT_KINDS", "Faults", "Sandbox", "SandboxStats"]

ID_TYPES = ("imsi", "iccid", "msisdn", "imei")
ERROR_MESSAGES = {
    "GLOBAL_1001": "Service unavailable. Please try again",
    "CUSTOMER_1002": "Customer does not exist",
    "CUSTOMER_1037": "Campaign does not exist",
    "SUBSCRIBER_1002": "Subscriber does not exist",
    "SUBSCRIBER_1029": "Failed to retrieve subscriber label details",
}
#: The code the sandbox answers for an expired or unknown point-in-time
#: session. The vendor's own code is not documented; the SDK recognises a lost
#: session by what it is not (see flolive.cursor.session_lost), not by this code.
PIT_EXPIRED = "SANDBOX_PIT_EXPIRED"
ERROR_MESSAGES[PIT_EXPIRED] = "Point-in-time session expired or not found; start a new one"
ERROR_STATUS = {
    "GLOBAL_1001": 503,
    "CUSTOMER_1002": 404,
    "CUSTOMER_1037": 404,
    "SUBSCRIBER_1002": 404,
    "SUBSCRIBER_1029": 500,
    PIT_EXPIRED: 404,
}
#: The vendor's bounds of a cursor call's ``size`` and ``pitKeepAlive`` (minutes).
MAX_CHUNK_SIZE = 10_000
MAX_KEEP_ALIVE = 30


@dataclass
class SandboxStats:
    """What the sandbox served. Also at ``GET /_sandbox/stats`` as JSON."""

    requests: int = 0
    logins: int = 0
    faults: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAULT_KINDS, 0))
    throttled: int = 0
    #: Requests refused by ``rate_limit`` (429 without Retry-After).
    rate_limited: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


class _Envelope(msgspec.Struct, rename="camel"):
    error_code: str
    error_message: str
    content: Any
    pageable: Any


class _Pageable(msgspec.Struct, rename="camel"):
    page: int
    size: int
    total_pages: int
    total_elements: int


class _CursorAnswer(msgspec.Struct, rename="camel"):
    error_code: str
    error_message: str
    content: Any
    pit_id: str
    record_amount: int
    total_record_amount: int


class _CursorRequest(msgspec.Struct, rename="camel"):
    pit_id: str = ""
    pit_keep_alive: int = 1
    size: int = 1000


@dataclass
class _PitSession:
    customer: int
    details: bool
    ttl: float
    expires: float


_encoder = msgspec.json.Encoder()
_cursor_request = msgspec.json.Decoder(_CursorRequest)


class _BadRequest(Exception):
    pass


class Sandbox:
    """An embedded floLIVE API v2 server for tests, demos and benchmarks.

    Use it in-process::

        async with Sandbox(latency=0.05) as url:
            async with Client(base_url=url) as client:
                ...

    or from a shell: ``flolive sandbox --port 8080``.

    Data: customers 1..9, each with campaigns 1..5 (campaign 1 has the vendor's
    988 participants, campaign 2 a million, generated per page), and labels for
    every generated subscriber, addressable by iccid, imsi, msisdn or imei.
    Customer 1 has 25,000 SIMs, customer 2 2,500, customer 3 none, the others
    100 (``subscriber_counts``); every 5th SIM is an eSIM with 1 to 3 profiles
    on its EID (``DataSet.eid``). SIMs and campaign participants have details.
    The point-in-time cursor's sessions live ``pitKeepAlive`` minutes after
    their last call (``pit_ttl`` seconds instead, if given), on ``clock``;
    :meth:`expire_cursors` ends them all at once.

    Args:
        seed: seed of the data and of the fault draws.
        page_base: 0 (Spring's default) or 1: the number of the first page.
        default_page_size: page size when a request gives none (20, as Spring).
        max_page_size: page sizes above it are capped and the cap echoed (2000).
        latency: seconds added to each API request.
        faults: a :class:`Faults` of per-request fault rates.
        fail_pages: page number -> error code (``"CUSTOMER_1037"``) or HTTP
            status (``500``) that page of every list always answers.
        throttle_above: answer 429 while more than this many requests are in flight.
        rate_limit: ``(rate, burst)``: limit every API request as nginx's
            ``limit_req rate=R burst=B nodelay`` does (:class:`LeakyBucket`:
            ``burst + 1`` pass at once, then one per ``1/rate`` s), answering the
            rest 429 with no ``Retry-After``, as nginx and most gateways do.
        drift: participants appended to a campaign each time one of its pages is served.
        token: the bearer token every API request must carry (``None``: no auth,
            unless ``users`` is given).
        users: username -> password accepted by ``POST /api/v2/auth/token``; its
            tokens are then required.
        campaign_sizes: campaign id -> participants, replacing the defaults.
        envelope_status: send every error envelope with this HTTP status
            instead of its natural one (e.g. 200, as some deployments do).
        subscriber_counts: customer id -> SIMs, replacing the defaults.
        pit_ttl: seconds a cursor session lives after each call, instead of
            its ``pitKeepAlive`` minutes (``None``).
        clock: the monotonic clock sessions expire on (default
            :func:`time.monotonic`); tests pass a fake one.
        host, port: where to listen (``127.0.0.1``, a free port).
        record: keep a log of ``(method, path_qs)`` of every request in ``log``,
            and of ``(pitId, size)`` of every cursor call in ``cursor_log``.
        before_page: awaited with ``(path, page number)`` before a page of any
            list (or a cursor chunk) is served; a test holds pages by not
            returning (``None``).

    Faults, latency, ``fail_pages``, ``before_page`` and throttling apply to the subscriber
    listings as to the participants; a cursor call's chunk counts as a page
    (chunk ``n`` of a session is page ``page_base + n``).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        page_base: int = 0,
        default_page_size: int = 20,
        max_page_size: int = 2000,
        latency: float = 0.0,
        faults: Faults | None = None,
        fail_pages: Mapping[int, str | int] | None = None,
        throttle_above: int | None = None,
        rate_limit: tuple[float, int] | None = None,
        drift: int = 0,
        token: str | None = None,
        users: Mapping[str, str] | None = None,
        campaign_sizes: Mapping[int, int] | None = None,
        envelope_status: int | None = None,
        subscriber_counts: Mapping[int, int] | None = None,
        pit_ttl: float | None = None,
        clock: Callable[[], float] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = False,
        before_page: Callable[[str, int], Awaitable[None]] | None = None,
    ) -> None:
        if page_base not in (0, 1):
            raise ValueError("page_base must be 0 or 1")
        self.data = DataSet(seed=seed)
        if campaign_sizes is not None:
            self.data.campaign_sizes = dict(campaign_sizes)
        if subscriber_counts is not None:
            self.data.subscriber_counts = dict(subscriber_counts)
        self.pit_ttl = pit_ttl
        self.clock = clock or time.monotonic
        self.cursor_log: list[tuple[str, int]] = []
        self._pits: dict[str, _PitSession] = {}
        self._pit_ids = itertools.count(1)
        self.seed = seed
        self.page_base = page_base
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size
        self.latency = latency
        self.faults = faults or Faults()
        self.fail_pages = dict(fail_pages or {})
        self.throttle_above = throttle_above
        self.rate_limit = None if rate_limit is None else LeakyBucket(*rate_limit)
        self.drift = drift
        self.users = dict(users or {})
        self.tokens: set[str] = {token} if token else set()
        self.auth_required = bool(token or users)
        self.envelope_status = envelope_status
        self.host = host
        self.port = port
        self.record = record
        self.before_page = before_page
        self.log: list[tuple[str, str]] = []
        self.stats = SandboxStats()
        self._attempts: dict[tuple[str, int], int] = {}
        self._growth: dict[tuple[int, int], int] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifetime ----------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application (for ``aiohttp.test_utils`` or your own runner)."""
        app = web.Application(middlewares=[self._middleware])
        for method, path, handler in (
            ("POST", "/auth/token", self._login),
            ("GET", "/customer/{customer}/campaign/{campaign}/participants", self._participants),
            ("GET", "/customer/{customer}/campaign/{campaign}", self._campaign),
            ("GET", "/customer/{customer}/campaign", self._campaigns),
            ("GET", "/subscriber/{type}/{value}/label", self._labels),
            ("GET", "/customer/{customer}/subscriber", self._subscribers),
            ("POST", "/customer/{customer}/subscriber-all", self._subscriber_all),
            ("POST", "/customer/{customer}/subscriber-all-details", self._subscriber_all_details),
            ("GET", "/subscriber/{type}/{value}/profiles", self._profiles),
            ("GET", "/subscriber/{type}/{value}", self._subscriber_details),
        ):
            app.router.add_route(method, "/api/v2" + path, handler)
        app.router.add_get("/_sandbox/stats", self._stats)
        app.on_response_prepare.append(_stamp_request_id)
        return app

    async def start(self) -> str:
        """Start listening; returns the base URL (``http://127.0.0.1:PORT``)."""
        runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.port = port
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def expire_cursors(self) -> int:
        """End every open point-in-time session now, as if its keep-alive had
        passed; returns how many there were. The next call of each read gets
        the expired-session error."""
        n = len(self._pits)
        self._pits.clear()
        return n

    @property
    def open_cursors(self) -> int:
        """Point-in-time sessions opened and not yet expired."""
        now = self.clock()
        return sum(1 for p in self._pits.values() if p.expires > now)

    def revoke_tokens(self) -> None:
        """Invalidate every token issued by login (the static ``token`` stays
        only if no users are configured), so clients must log in again."""
        self.tokens = set() if self.users else self.tokens

    # -- plumbing ----------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/_sandbox/"):
            return await handler(request)  # type: ignore[no-any-return]
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        if self.record:
            self.log.append((request.method, request.path_qs))
        bucket = self.rate_limit
        if bucket is not None and not bucket.admit(time.monotonic()):
            # Before any work, as a gateway in front of the API refuses.
            stats.rate_limited += 1
            stats.in_flight -= 1
            return web.Response(status=429, text="Too Many Requests")
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if request.path != "/api/v2/auth/token" and self.auth_required:
                auth = request.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                    return _spring_error(401, "Unauthorized", request.path)
            if self.throttle_above is not None and stats.in_flight > self.throttle_above:
                stats.throttled += 1
                return web.Response(
                    status=429,
                    text="Too Many Requests",
                    headers={"Retry-After": _seconds(self.faults.retry_after)},
                )
            try:
                return await handler(request)  # type: ignore[no-any-return]
            except _BadRequest as exc:
                return _spring_error(400, str(exc), request.path)
        finally:
            stats.in_flight -= 1

    def _error(self, code: str) -> web.Response:
        status = self.envelope_status or ERROR_STATUS.get(code, 400)
        body = _encoder.encode(_Envelope(code, ERROR_MESSAGES.get(code, code), "", ""))
        return web.Response(body=body, status=status, content_type="application/json")

    def _page_args(self, request: web.Request) -> tuple[int, int]:
        """(zero-based page index, size) as Spring Data reads ``page`` and ``size``."""
        q = request.query
        try:
            page = int(q.get("page", str(self.page_base)))
            size = int(q.get("size", str(self.default_page_size)))
        except ValueError:
            raise _BadRequest("page and size must be integers") from None
        if size < 1:
            size = self.default_page_size
        return max(page - self.page_base, 0), min(size, self.max_page_size)

    async def _fault(
        self, request: web.Request, index: int, body_len: int
    ) -> web.StreamResponse | None:
        """The injected failure for this request, if any."""
        echoed = index + self.page_base
        forced = self.fail_pages.get(echoed)
        if forced is not None:
            if isinstance(forced, int):
                return web.Response(status=forced, text=f"HTTP {forced}")
            return self._error(forced)
        key = (request.path, echoed)
        attempt = self._attempts.get(key, 0)
        self._attempts[key] = attempt + 1
        kind = self.faults.pick(unit(self.seed, zlib.crc32(request.path.encode()), echoed, attempt))
        if kind is None:
            return None
        self.stats.faults[kind] += 1
        if kind == "global_1001":
            return self._error("GLOBAL_1001")
        if kind == "rate_limited":
            return web.Response(
                status=429,
                text="Too Many Requests",
                headers={"Retry-After": _seconds(self.faults.retry_after)},
            )
        if kind in ("server_error", "unavailable"):
            status = 500 if kind == "server_error" else 503
            return web.Response(
                status=status, text="<html><body>error</body></html>", content_type="text/html"
            )
        return await _break_connection(request, kind, body_len)

    async def _paged(self, request: web.Request, total: int, items: Any) -> web.StreamResponse:
        index, size = self._page_args(request)
        if self.before_page is not None:
            await self.before_page(request.path, index + self.page_base)
        start = index * size
        content = items(start, min(total, start + size)) if start < total else []
        body = _encoder.encode(
            _Envelope(
                "",
                "",
                content,
                _Pageable(index + self.page_base, size, math.ceil(total / size), total),
            )
        )
        fault = await self._fault(request, index, len(body))
        if fault is not None:
            return fault
        return web.Response(body=body, content_type="application/json")

    # -- endpoints ---------------------------------------------------------

    async def _login(self, request: web.Request) -> web.Response:
        try:
            creds = msgspec.json.decode(await request.read(), type=dict[str, str])
        except msgspec.DecodeError:
            return _spring_error(
                400, 'body must be {"username": ..., "password": ...}', request.path
            )
        user, password = creds.get("username", ""), creds.get("password", "")
        if not self.users or self.users.get(user) != password or not password:
            return _spring_error(401, "Bad credentials", request.path)
        self.stats.logins += 1
        token = f"sbx-{next(_token_ids)}-{secrets.token_hex(8)}"
        self.tokens.add(token)
        body = _encoder.encode(_Envelope("", "", [{"token": token}], _Pageable(0, 1, 1, 1)))
        return web.Response(body=body, content_type="application/json")

    def _customer(self, request: web.Request) -> int | web.Response:
        customer = _int_arg(request, "customer")
        if not self.data.has_customer(customer):
            return self._error("CUSTOMER_1002")
        return customer

    def _customer_campaign(self, request: web.Request) -> tuple[int, int] | web.Response:
        customer = self._customer(request)
        if isinstance(customer, web.Response):
            return customer
        campaign = _int_arg(request, "campaign")
        if not self.data.has_campaign(customer, campaign):
            return self._error("CUSTOMER_1037")
        return customer, campaign

    def _campaign_size(self, customer: int, campaign: int) -> int:
        return self.data.campaign_sizes[campaign] + self._growth.get((customer, campaign), 0)

    async def _participants(self, request: web.Request) -> web.StreamResponse:
        found = self._customer_campaign(request)
        if isinstance(found, web.Response):
            return found
        customer, campaign = found
        total = self._campaign_size(customer, campaign)
        if self.drift:
            self._growth[(customer, campaign)] = (
                self._growth.get((customer, campaign), 0) + self.drift
            )

        def items(a: int, b: int) -> list[WireParticipant]:
            return self.data.participants(customer, campaign, a, b)

        return await self._paged(request, total, items)

    async def _campaigns(self, request: web.Request) -> web.StreamResponse:
        customer = self._customer(request)
        if isinstance(customer, web.Response):
            return customer
        ids = self.data.campaign_ids()

        def items(a: int, b: int) -> list[WireCampaign]:
            return [self.data.campaign(customer, c) for c in ids[a:b]]

        return await self._paged(request, len(ids), items)

    async def _campaign(self, request: web.Request) -> web.StreamResponse:
        found = self._customer_campaign(request)
        if isinstance(found, web.Response):
            return found
        customer, campaign = found
        body = _encoder.encode(
            _Envelope("", "", [self.data.campaign(customer, campaign)], _Pageable(0, 1, 1, 1))
        )
        return web.Response(body=body, content_type="application/json")

    async def _labels(self, request: web.Request) -> web.StreamResponse:
        kind = request.match_info["type"]
        if kind not in ID_TYPES:
            raise _BadRequest(f"type must be one of {', '.join(ID_TYPES)}")
        sub = self._find_subscriber(request)
        if sub is None:
            return self._error("SUBSCRIBER_1002")
        if self.data.labels_unavailable(sub):
            return self._error("SUBSCRIBER_1029")

        def items(a: int, b: int) -> list[WireLabel]:
            return self.data.labels(sub, a, b)

        return await self._paged(request, self.data.label_count(sub), items)

    def _find_subscriber(self, request: web.Request) -> Subscriber | None:
        """The subscriber ``{type}/{value}`` names (a SIM of a customer, or a
        campaign participant), or ``None``; 400 for a malformed identifier."""
        kind = request.match_info["type"]
        if kind not in ID_TYPES:
            raise _BadRequest(f"type must be one of {', '.join(ID_TYPES)}")
        value = request.match_info["value"]
        if not (value.isascii() and value.isdigit()):
            raise _BadRequest("identifier must be numeric")
        sub = self.data.find_subscriber(kind, value)
        if sub is None:
            return None
        if sub.campaign == INVENTORY:
            if sub.index >= self.data.subscriber_count(sub.customer):
                return None
            if kind == "imei" and not self.data.has_imei(sub):
                return None
        elif sub.index >= self._campaign_size(sub.customer, sub.campaign):
            return None
        return sub

    async def _subscribers(self, request: web.Request) -> web.StreamResponse:
        customer = self._customer(request)
        if isinstance(customer, web.Response):
            return customer

        def items(a: int, b: int) -> list[WireSubscriber]:
            return self.data.subscribers(customer, a, b)

        return await self._paged(request, self.data.subscriber_count(customer), items)

    async def _subscriber_details(self, request: web.Request) -> web.StreamResponse:
        sub = self._find_subscriber(request)
        if sub is None:
            return self._error("SUBSCRIBER_1002")
        body = _encoder.encode(
            _Envelope("", "", [self.data.details(sub)], _Pageable(self.page_base, 1, 1, 1))
        )
        return web.Response(body=body, content_type="application/json")

    async def _profiles(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["type"] != "eid":
            raise _BadRequest("profiles are listed by eid only")
        value = request.match_info["value"]
        if not (value.isascii() and value.isdigit()):
            raise _BadRequest("eid must be numeric")
        first = self.data.find_eid(value)
        if first is None:
            return self._error("SUBSCRIBER_1002")

        def items(a: int, b: int) -> list[WireProfile]:
            return self.data.profiles(first, a, b)

        return await self._paged(request, self.data.profile_count(first), items)

    async def _subscriber_all(self, request: web.Request) -> web.StreamResponse:
        return await self._cursor(request, details=False)

    async def _subscriber_all_details(self, request: web.Request) -> web.StreamResponse:
        return await self._cursor(request, details=True)

    async def _cursor(self, request: web.Request, *, details: bool) -> web.StreamResponse:
        """One call of a point-in-time read. The ``pitId`` answered names the
        session and the position after this chunk, so the same ``pitId`` sent
        again gets the same chunk; each call keeps the session alive."""
        customer = self._customer(request)
        if isinstance(customer, web.Response):
            return customer
        try:
            args = _cursor_request.decode(await request.read())
        except (msgspec.DecodeError, UnicodeDecodeError):
            raise _BadRequest(
                'body must be {"pitId": str, "pitKeepAlive": int, "size": int}'
            ) from None
        if not 1 <= args.size <= MAX_CHUNK_SIZE:
            raise _BadRequest(f"size must be 1 to {MAX_CHUNK_SIZE}")
        if not 1 <= args.pit_keep_alive <= MAX_KEEP_ALIVE:
            raise _BadRequest(f"pitKeepAlive must be 1 to {MAX_KEEP_ALIVE} minutes")
        if self.record:
            self.cursor_log.append((args.pit_id, args.size))
        now = self.clock()
        if not args.pit_id:
            sid = f"s{next(self._pit_ids)}"
            ttl = self.pit_ttl if self.pit_ttl is not None else 60.0 * args.pit_keep_alive
            self._pits[sid] = _PitSession(customer, details, ttl, now + ttl)
            offset = 0
        else:
            where = _read_pit_id(args.pit_id)
            if where is None:
                return self._error(PIT_EXPIRED)
            sid, offset = where
            found = self._pits.get(sid)
            if found is not None and found.expires <= now:
                del self._pits[sid]
                found = None
            if found is None or (found.customer, found.details) != (customer, details):
                return self._error(PIT_EXPIRED)
            found.expires = now + found.ttl
        if self.before_page is not None:
            await self.before_page(request.path, offset // args.size + self.page_base)
        total = self.data.subscriber_count(customer)
        stop = min(total, offset + args.size)
        make = self.data.all_details if details else self.data.subscribers
        content: list[WireDetails] | list[WireSubscriber] = (
            make(customer, offset, stop) if offset < stop else []
        )
        body = _encoder.encode(
            _CursorAnswer("", "", content, _pit_id(sid, max(stop, offset)), len(content), total)
        )
        fault = await self._fault(request, offset // args.size, len(body))
        if fault is not None:
            return fault
        return web.Response(body=body, content_type="application/json")

    async def _stats(self, request: web.Request) -> web.Response:
        return web.Response(
            body=_encoder.encode(asdict(self.stats)), content_type="application/json"
        )


_token_ids = itertools.count(1)


async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer carries a ``Request-Id``, as floLIVE's asynchronous calls do."""
    response.headers.setdefault("Request-Id", f"sbx-{uuid.uuid4().hex[:16]}")


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def _pit_id(session: str, offset: int) -> str:
    """An opaque-looking ``pitId``: the session and the position after a chunk."""
    return base64.urlsafe_b64encode(f"{session}:{offset}".encode()).decode().rstrip("=")


def _read_pit_id(pit_id: str) -> tuple[str, int] | None:
    try:
        raw = base64.urlsafe_b64decode(pit_id + "=" * (-len(pit_id) % 4)).decode()
        session, _, offset = raw.partition(":")
        return (session, int(offset)) if session and offset.isdigit() else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _int_arg(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise _BadRequest(f"{name} id must be numeric, got {raw!r}")
    return int(raw)


def _spring_error(status: int, error: str, path: str) -> web.Response:
    """An error body the way Spring Boot writes it: not an API envelope."""
    body = _encoder.encode(
        {
            "timestamp": "2022-02-11T14:21:53.000+00:00",
            "status": status,
            "error": error,
            "path": path,
        }
    )
    return web.Response(body=body, status=status, content_type="application/json")


async def _break_connection(request: web.Request, kind: str, body_len: int) -> web.StreamResponse:
    transport = request.transport
    if kind == "drop":
        if transport is not None:
            transport.close()
        return web.Response(status=500)
    # Promise a full body, send half, hang up: an incomplete body, not a short JSON.
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    resp.content_length = body_len
    await resp.prepare(request)
    await resp.write(b'{"errorCode":"","errorMessage":"","content":['[: max(body_len // 2, 1)])
    if transport is not None:
        transport.close()
    return resp
