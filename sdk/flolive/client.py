"""The :class:`Client`: settings, session lifetime, and the endpoint methods."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import enum
import math
import os
import ssl as _ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import aiohttp
import msgspec
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from ._auth import Auth, PasswordAuth, ProviderAuth, StaticToken, TokenProvider
from ._closing import AsyncClosing
from ._codec import codec_for, cursor_codec_for
from ._source import ListSource
from ._transport import ClientStats, Sleep, Transport
from ._version import __version__
from .cursor import AsyncCursor, CursorToken
from .errors import ClientNotOpenError, DecodeError, RequestContext
from .models import (
    Campaign,
    CursorEnvelope,
    Label,
    Page,
    Participant,
    Profile,
    Subscriber,
    SubscriberDetails,
    SubscriberIdType,
)
from .pagination import AsyncPager, OnListChange, OnPage, ResumeToken
from .retry import RetryPolicy

__all__ = [
    "USE_CLIENT_DEFAULT",
    "Client",
    "ClientState",
    "CursorOptions",
    "ListOptions",
    "UseClientDefault",
]

T = TypeVar("T")

DEFAULT_USER_AGENT = f"flolive-sdk/{__version__} (python; aiohttp/{aiohttp.__version__})"
LOGIN_PATH = "/api/v2/auth/token"
DEFAULT_MAX_RESPONSE_SIZE = 64 * 1024 * 1024


class ListOptions(TypedDict, total=False):
    """Per-call options of every listing method; each defaults to the client's setting.

    Keys:
        page_size: items per page asked of the server.
        page_base: number of the server's first page (0 or 1).
        start_page: API page number to start at.
        resume: a :class:`~flolive.ResumeToken` from ``err.resume``: start at
            the failed page, with the page size and base that pass used.
        max_pages: most pages to read.
        max_items: most items to read (``page_size`` is per page, not a total);
            the last page is trimmed and no page is requested that could not
            be needed.
        prefetch: most pages fetched or held ahead of the consumer.
        speculate: pages requested together with the first page, before
            ``totalPages`` is known (0 turns it off).
        on_page: called with each :class:`~flolive.Page` as it is handed
            over, in page order (progress bars, logs).
        timeout: seconds per request (``None`` for none).
        listing_timeout: seconds for the whole pass (``None`` for none).
        retry: the :class:`~flolive.RetryPolicy` for these requests.
        on_list_change: ``"warn"``, ``"raise"`` or ``"ignore"``.
        max_response_size: most bytes of one response body (after decompression).
    """

    page_size: int
    page_base: int
    start_page: int
    resume: ResumeToken
    max_pages: int
    max_items: int
    prefetch: int
    speculate: int
    on_page: OnPage
    timeout: float | None
    listing_timeout: float | None
    retry: RetryPolicy
    on_list_change: OnListChange
    max_response_size: int


_LIST_OPTIONS = frozenset(ListOptions.__optional_keys__)


def _check_options(options: Mapping[str, object]) -> None:
    """``**options: Unpack[ListOptions]`` is checked by mypy only: refuse a
    misspelt option at the call rather than ignore it at run time."""
    unknown = options.keys() - _LIST_OPTIONS
    if unknown:
        raise TypeError(
            f"unknown listing option{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(sorted(map(repr, unknown)))}; valid options are "
            f"{', '.join(sorted(_LIST_OPTIONS))}"
        )


class CursorOptions(TypedDict, total=False):
    """Per-call options of the point-in-time cursor reads
    (:meth:`Client.all_subscribers`); each defaults to the client's setting.

    Keys:
        resume: a :class:`~flolive.CursorToken` (an iterator's ``position``):
            go on from there while the session lives.
        max_items: most records to read; no call is made past them.
        read_ahead: request the next chunk while the consumer handles this
            one (default ``True``).
        timeout: seconds per call (``None`` for none).
        listing_timeout: seconds for the whole read (``None`` for none).
        retry: the :class:`~flolive.RetryPolicy` for the chunk calls.
        on_list_change: ``"warn"``, ``"raise"`` or ``"ignore"`` when a read
            ends short of ``totalRecordAmount``.
        max_response_size: most bytes of one answer (after decompression).
    """

    resume: CursorToken
    max_items: int
    read_ahead: bool
    timeout: float | None
    listing_timeout: float | None
    retry: RetryPolicy
    on_list_change: OnListChange
    max_response_size: int


_CURSOR_OPTIONS = frozenset(CursorOptions.__optional_keys__)
#: The vendor's bounds of ``size`` and ``pitKeepAlive`` (minutes).
MAX_CHUNK_SIZE = 10_000
MAX_KEEP_ALIVE = 30


class UseClientDefault(enum.Enum):
    """The type of :data:`USE_CLIENT_DEFAULT`."""

    USE_CLIENT_DEFAULT = enum.auto()

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT = UseClientDefault.USE_CLIENT_DEFAULT
"""Passed for a per-call setting (``timeout``, ``retry``, ``max_response_size``)
it means "the client's setting", which ``None`` cannot mean where ``None`` is a
value of its own (``timeout=None``: no timeout)."""


class ClientState(enum.Enum):
    """Where a :class:`Client` is in its life: ``client.state``."""

    UNOPENED = "unopened"
    """Created, not yet entered with ``async with``; no request can be sent."""
    OPEN = "open"
    """Inside ``async with``: sending requests."""
    CLOSED = "closed"
    """Closed by ``aclose()`` or the end of ``async with``; it may be opened again."""


#: Settings a derived client (:meth:`Client.with_options`) may change; the
#: connection, credentials and limiter stay shared.
_DERIVABLE = frozenset(
    {
        "page_size",
        "page_base",
        "prefetch",
        "speculate",
        "timeout",
        "listing_timeout",
        "max_response_size",
        "retry",
        "on_list_change",
    }
)


class _TokenItem(msgspec.Struct):
    token: str


def _env_names_a_proxy() -> bool:
    """Cheap pre-check: the full look-up imports urllib.request and starts a
    thread (about 25 ms on a cold process), which a client without any
    ``*_proxy`` variable should not pay."""
    return any(k.lower().endswith("_proxy") and k.lower() != "no_proxy" for k in os.environ)


def _segment(name: str, value: str | int) -> str:
    """``value`` as exactly one path segment: every reserved character is
    percent-encoded, and the dot segments a URL library would resolve away
    (``"."``, ``".."``) are refused, so the path stays inside its template."""
    text = str(value)
    if isinstance(value, bool) or not text or text in (".", ".."):
        raise ValueError(f"{name} must be a non-empty identifier other than '.' and '..'")
    return quote(text, safe="")


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _non_negative_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value


def _page_base(name: str, value: int) -> int:
    if value not in (0, 1) or isinstance(value, bool):
        raise ValueError(f"{name} must be 0 or 1, got {value!r}")
    return value


def _retry_policy(value: RetryPolicy, name: str = "retry") -> RetryPolicy:
    if not isinstance(value, RetryPolicy):
        raise TypeError(f"{name} must be a RetryPolicy, got {value!r}")
    return value


def _on_list_change(value: OnListChange, name: str = "on_list_change") -> OnListChange:
    if value not in ("warn", "raise", "ignore"):
        raise ValueError(f"{name} must be 'warn', 'raise' or 'ignore', got {value!r}")
    return value


def _seconds_or_none(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a finite number of seconds > 0, or None; got {value!r}")
    return float(value)


_DERIVED_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "page_size": _positive_int,
    "page_base": _page_base,
    "prefetch": _positive_int,
    "speculate": _non_negative_int,
    "timeout": _seconds_or_none,
    "listing_timeout": _seconds_or_none,
    "max_response_size": _positive_int,
    "retry": lambda name, value: _retry_policy(value, name),
    "on_list_change": lambda name, value: _on_list_change(value, name),
}


def _positive_or_none(name: str, value: int | None) -> int | None:
    return None if value is None else _positive_int(name, value)


def _callable_or_none(name: str, value: object) -> object:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable, got {value!r}")
    return value


#: Checks of per-call listing options beyond the client's own settings.
_OPTION_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    **_DERIVED_CHECKS,
    "start_page": _non_negative_int,
    "max_pages": _positive_or_none,
    "max_items": _positive_or_none,
    "on_page": _callable_or_none,
}


def _check_values(options: Mapping[str, Any]) -> None:
    """Refuse a bad option value at the call, with a ValueError or TypeError
    naming it, rather than a bare error from aiohttp during iteration."""
    for name, value in options.items():
        check = _OPTION_CHECKS.get(name)
        if check is not None:
            check(name, value)


def _id(name: str, value: int | str) -> str:
    """Path ids are numeric in this API; refuse anything else before a request."""
    text = str(value)
    # isdigit() alone accepts "²" and Arabic-Indic digits.
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return text


def _check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
            raise ValueError(f"header {name!r} has a value that cannot be sent (CR, LF or NUL)")
    return dict(headers)


class Client(AsyncClosing):
    """Async client of the floLIVE API v2. Use it as ``async with Client(...)``.

    One client owns one :class:`aiohttp.ClientSession` (or borrows yours), one
    connection pool and one concurrency limiter shared by every request and
    every listing it runs.

    Example::

        async with Client(base_url="https://api.example", token="...") as client:
            async for p in client.campaign_participants(customer_id=42, campaign_id=7):
                print(p.iccid, p.status, p.timestamp)

    Args:
        base_url: API root, e.g. ``"https://api.example"``. Default: ``$FLOLIVE_BASE_URL``.
        token: a static bearer token. Default: ``$FLOLIVE_TOKEN``.
        username: login name for ``POST /api/v2/auth/token``. Default: ``$FLOLIVE_USERNAME``.
        password: password for that login. Default: ``$FLOLIVE_PASSWORD``. The
            client logs in on first use, shares the token, and logs in again
            once (for all requests in flight) when a request gets HTTP 401.
        token_provider: an async callable returning a token, called before each
            request; on a 401 it is called again and the request retried once.
            Give one of ``token``, ``username``+``password`` or ``token_provider``.
        max_concurrency: most requests in flight at once, across every call and
            listing of this client (default 8).
        adaptive_concurrency: when the server pushes back (429, ``GLOBAL_1001``,
            500, 503), halve the client-wide limit, then grow it back by one per
            ``limit`` successes up to ``max_concurrency`` (default ``False``).
        page_size: default page size of listings (default 100). Servers may cap
            it; the pager follows the size they echo.
        page_base: number of the server's first page, 0 or 1 (default 0).
        prefetch: most pages fetched or held ahead of a listing's consumer
            (default ``2 * max_concurrency``); bounds memory.
        speculate: pages a listing requests together with its first page,
            before it knows how many there are (default 3, so a one-page list
            costs at most 4 requests; off with ``adaptive_concurrency``).
        timeout: seconds for one request, from when it gets its concurrency
            slot to the end of its body (default 30; ``None`` for none).
        max_response_size: most bytes one response body may have, counted
            after decompression (default 64 MiB); a larger body raises
            :class:`~flolive.ResponseTooLarge` and is not retried.
        listing_timeout: seconds for a whole listing pass, or ``None`` (default).
        retry: the :class:`~flolive.RetryPolicy` (default: 3 retries).
        on_list_change: ``"warn"`` (default), ``"raise"`` or ``"ignore"`` when a
            list changes while it is read.
        headers: extra headers for every request.
        user_agent: the ``User-Agent`` header (default ``flolive-sdk/<version> ...``).
        proxy: an HTTP proxy URL for every request (default: none, or the
            environment's with ``trust_env``).
        trust_env: use the proxy the environment names for ``base_url``
            (``HTTPS_PROXY``, ``NO_PROXY``, ...; default ``True``). It is looked
            up once when the client opens, not on every request as aiohttp would.
        ssl: an :class:`ssl.SSLContext`, or ``False`` to skip verification
            (default: verify with the system's CAs).
        session: an :class:`aiohttp.ClientSession` of yours to use; the client
            leaves it open. Size its connector's ``limit`` at least
            ``max_concurrency``.
        trace_configs: :class:`aiohttp.TraceConfig` objects for the session the
            client creates, to see every request (OpenTelemetry's
            ``create_trace_config()``, logging, metrics). With ``session=``,
            configure your own session instead.
        sleep: the async sleep used for backoff and pauses (default
            :func:`asyncio.sleep`); tests inject a fake one.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        token_provider: TokenProvider | None = None,
        max_concurrency: int = 8,
        adaptive_concurrency: bool = False,
        page_size: int = 100,
        page_base: int = 0,
        prefetch: int | None = None,
        speculate: int = 3,
        timeout: float | None = 30.0,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        listing_timeout: float | None = None,
        retry: RetryPolicy | None = None,
        on_list_change: OnListChange = "warn",
        headers: Mapping[str, str] | None = None,
        user_agent: str | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        ssl: _ssl.SSLContext | bool = True,
        session: aiohttp.ClientSession | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        env = os.environ
        base_url = base_url or env.get("FLOLIVE_BASE_URL")
        if not base_url:
            raise ValueError("base_url is required (or set FLOLIVE_BASE_URL)")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.max_concurrency = _positive_int("max_concurrency", max_concurrency)
        self.adaptive_concurrency = adaptive_concurrency
        self.page_size = _positive_int("page_size", page_size)
        self.page_base = _page_base("page_base", page_base)
        self.prefetch = _positive_int("prefetch", prefetch or 2 * max_concurrency)
        self.speculate = _non_negative_int("speculate", speculate)
        self.timeout = _seconds_or_none("timeout", timeout)
        self.max_response_size = _positive_int("max_response_size", max_response_size)
        self.listing_timeout = _seconds_or_none("listing_timeout", listing_timeout)
        self.retry = _retry_policy(retry or RetryPolicy())
        self.on_list_change: OnListChange = _on_list_change(on_list_change)
        if session is not None and trace_configs:
            raise ValueError(
                "trace_configs apply to the client's own session: with session=, "
                "give them to your aiohttp.ClientSession"
            )
        self._trace_configs = list(trace_configs or ())
        self._proxy = proxy
        self._trust_env = trust_env
        self._ssl = ssl
        self._own_session = session is None
        self._session = session
        self._sleep: Sleep = sleep or asyncio.sleep
        self._headers = _check_headers(
            {
                "User-Agent": user_agent or DEFAULT_USER_AGENT,
                "Accept": "application/json",
                **(headers or {}),
            }
        )
        self._auth: Auth = self._make_auth(
            token if token is not None else (None if token_provider else env.get("FLOLIVE_TOKEN")),
            username if username is not None else env.get("FLOLIVE_USERNAME"),
            password if password is not None else env.get("FLOLIVE_PASSWORD"),
            token_provider,
        )
        self._transport: Transport | None = None
        self._stats = ClientStats()
        self._state = ClientState.UNOPENED
        self._root = self  # the client whose connection this one uses

    def _make_auth(
        self,
        token: str | None,
        username: str | None,
        password: str | None,
        provider: TokenProvider | None,
    ) -> Auth:
        given = sum((token is not None, provider is not None, username is not None))
        if given > 1:
            raise ValueError("give only one of token, username+password, or token_provider")
        if provider is not None:
            return ProviderAuth(provider)
        if token is not None:
            return StaticToken(token)
        if username is not None:
            if password is None:
                raise ValueError("username given without password (or FLOLIVE_PASSWORD)")
            return PasswordAuth(username, password, self._login)
        return Auth()

    def __repr__(self) -> str:
        derived = " derived" if self._root is not self else ""
        return (
            f"<flolive.Client {self.base_url} auth={self._auth.kind} "
            f"max_concurrency={self.max_concurrency} {self.state.value}{derived}>"
        )

    # -- lifetime ---------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """The :class:`ClientState` of this client (of its parent, for a
        client made by :meth:`with_options`)."""
        return self._root._state

    def with_options(self, **options: Any) -> Client:
        """A client with other defaults that shares this one's session,
        connection pool, credentials, limiter, pause and stats.

        ``options`` are any of ``page_size``, ``page_base``, ``prefetch``,
        ``speculate``, ``timeout``, ``listing_timeout``, ``max_response_size``,
        ``retry`` and ``on_list_change``. The derived client is open while this
        one is; it needs no ``async with`` of its own, and closing it does
        nothing.

        Example::

            async with Client(...) as client:
                patient = client.with_options(timeout=120, retry=RetryPolicy(max_retries=8))
                await patient.campaign(1, 7)
        """
        unknown = options.keys() - _DERIVABLE
        if unknown:
            raise TypeError(
                f"with_options() cannot set {', '.join(sorted(map(repr, unknown)))}; "
                f"it sets {', '.join(sorted(_DERIVABLE))}"
            )
        derived = copy.copy(self)
        derived._root = self._root
        for name, value in options.items():
            setattr(derived, name, _DERIVED_CHECKS[name](name, value))
        return derived

    async def __aenter__(self) -> Client:
        if self._root is not self:
            if self._root._transport is None:
                raise ClientNotOpenError("open the client this one was derived from first")
            return self
        if self._transport is not None:
            raise RuntimeError("this Client is already open")
        proxy: URL | None = URL(self._proxy) if self._proxy else None
        proxy_auth: aiohttp.BasicAuth | None = None
        if proxy is None and self._trust_env and _env_names_a_proxy():
            # Once per client: with trust_env=True aiohttp would run this
            # look-up in a worker thread for every single request.
            with contextlib.suppress(LookupError):
                proxy, proxy_auth = await asyncio.to_thread(
                    get_env_proxy_for_url, URL(self.base_url)
                )
        session = self._session
        if session is None:
            # The pool is at least as large as the limiter, so a request never
            # waits for a connection once it holds a slot.
            connector = aiohttp.TCPConnector(
                limit=self.max_concurrency, limit_per_host=0, ssl=self._ssl
            )
            session = aiohttp.ClientSession(
                connector=connector, trust_env=False, trace_configs=self._trace_configs or None
            )
        self._stats = ClientStats()
        self._transport = Transport(
            base_url=self.base_url,
            session=session,
            max_concurrency=self.max_concurrency,
            auth=self._auth,
            retry=self.retry,
            timeout=self.timeout,
            max_response_size=self.max_response_size,
            headers=self._headers,
            sleep=self._sleep,
            stats=self._stats,
            proxy=proxy,
            proxy_auth=proxy_auth,
            adaptive=self.adaptive_concurrency,
        )
        self._state = ClientState.OPEN
        return self

    async def aclose(self) -> None:
        """Close the client (and its session, if it created it). Idempotent.
        A client made by :meth:`with_options` closes nothing."""
        if self._root is not self:
            return
        transport, self._transport = self._transport, None
        if transport is None:
            return
        self._state = ClientState.CLOSED
        await transport.aclose()
        if self._own_session:
            await transport.session.close()

    @property
    def stats(self) -> ClientStats:
        """Counters of requests, retries, throttles and bytes since the client opened."""
        return self._root._stats

    @property
    def concurrency_limit(self) -> int:
        """The client-wide limit in force: ``max_concurrency``, or less while
        ``adaptive_concurrency`` backs off."""
        t = self._root._transport
        return t.limiter.limit if t is not None else self.max_concurrency

    @property
    def _t(self) -> Transport:
        t = self._root._transport
        if t is None:
            raise ClientNotOpenError(
                "the client is not open; use it as `async with Client(...) as client:`"
            )
        return t

    # -- low level --------------------------------------------------------

    async def _login(self, username: str, password: str) -> str:
        items = await self._t.request(
            "POST",
            LOGIN_PATH,
            codec_for(_TokenItem).items,
            json={"username": username, "password": password},
            authenticate=False,
            sensitive=True,
        )
        self._stats.logins += 1
        if not items or not items[0].token:
            raise DecodeError(
                "login response has no token - at `$.content[0].token`",
                context=RequestContext("POST", LOGIN_PATH, sensitive=True),
            )
        return items[0].token

    def paginate(
        self,
        path: str,
        item_type: type[T],
        *,
        params: Mapping[str, str | int] | None = None,
        **options: Unpack[ListOptions],
    ) -> AsyncPager[T]:
        """List any paged endpoint, including ones the SDK does not wrap yet.

        ``item_type`` is the type of one ``content`` item, usually a
        :class:`msgspec.Struct` (``rename="camel"`` maps camelCase fields).
        ``params`` are extra query parameters; ``options`` are
        :class:`ListOptions`, each defaulting to the client's setting.

        Example::

            class Sim(msgspec.Struct, rename="camel"):
                iccid: str
                imsi: str

            async for sim in client.paginate("/api/v2/customer/42/sims", Sim):
                ...
        """
        _check_options(options)
        _check_values(options)
        transport = self._t
        codec = codec_for(item_type)
        base_params = dict(params or {})
        per_try = options.get("timeout", self.timeout)
        retry = options.get("retry", self.retry)
        max_size = _positive_int(
            "max_response_size", options.get("max_response_size", self.max_response_size)
        )

        async def fetch(number: int, size: int, deadline: float | None) -> Page[T]:
            return await transport.request(
                "GET",
                path,
                codec.page,
                params={**base_params, "page": number, "size": size},
                page=number,
                timeout=per_try,
                retry=retry,
                deadline=deadline,
                max_response_size=max_size,
            )

        page_size = options.get("page_size", self.page_size)
        page_base = options.get("page_base", self.page_base)
        start_page = options.get("start_page")
        resume = options.get("resume")
        if resume is not None:
            if not isinstance(resume, ResumeToken):
                raise TypeError(f"resume must be a ResumeToken (err.resume), got {resume!r}")
            if resume.path != path:
                raise ValueError(f"this resume token is for {resume.path}, not {path}")
            clash = {"page_size", "page_base", "start_page"} & options.keys()
            if clash:
                raise ValueError(f"give resume or {', '.join(sorted(clash))}, not both")
            page_size, page_base, start_page = resume.page_size, resume.page_base, resume.page
        return AsyncPager(
            fetch,
            path=path,
            page_size=page_size,
            page_base=page_base,
            start_page=start_page,
            max_pages=options.get("max_pages"),
            max_items=options.get("max_items"),
            prefetch=options.get("prefetch", self.prefetch),
            speculate=0 if self.adaptive_concurrency else options.get("speculate", self.speculate),
            on_list_change=options.get("on_list_change", self.on_list_change),
            on_page=options.get("on_page"),
            listing_timeout=_seconds_or_none(
                "listing_timeout", options.get("listing_timeout", self.listing_timeout)
            ),
            source=ListSource.of(self, path, item_type, base_params, page_base, options),
        )

    async def get_items(
        self,
        path: str,
        item_type: type[T],
        *,
        params: Mapping[str, str | int] | None = None,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | UseClientDefault = USE_CLIENT_DEFAULT,
        max_response_size: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> list[T]:
        """GET one envelope and return its ``content`` items (no paging).

        ``timeout``, ``retry`` and ``max_response_size`` apply to this call
        only; each defaults to the client's setting (:data:`USE_CLIENT_DEFAULT`).
        """
        return await self._t.request(
            "GET",
            path,
            codec_for(item_type).items,
            params=params,
            timeout=(
                self.timeout
                if timeout is USE_CLIENT_DEFAULT
                else _seconds_or_none("timeout", timeout)
            ),
            retry=self.retry if retry is USE_CLIENT_DEFAULT else _retry_policy(retry),
            max_response_size=(
                self.max_response_size
                if max_response_size is USE_CLIENT_DEFAULT
                else _positive_int("max_response_size", max_response_size)
            ),
        )

    # -- endpoints --------------------------------------------------------

    def campaign_participants(
        self, customer_id: int, campaign_id: int, **options: Unpack[ListOptions]
    ) -> AsyncPager[Participant]:
        """Participants of a campaign.

        ``GET /api/v2/customer/{customerId}/campaign/{campaignId}/participants``.

        Options are :class:`ListOptions` (``page_size``, ``start_page``,
        ``max_pages``, ``page_base``, ``prefetch``, ``timeout``,
        ``listing_timeout``, ``retry``, ``on_list_change``).

        Raises (while iterating): :class:`~flolive.CustomerNotFound`,
        :class:`~flolive.CampaignNotFound`, and the other errors of the tree.
        """
        path = (
            f"/api/v2/customer/{_id('customer_id', customer_id)}"
            f"/campaign/{_id('campaign_id', campaign_id)}/participants"
        )
        return self.paginate(path, Participant, **options)

    def subscriber_labels(
        self, id_type: SubscriberIdType | str, value: str | int, **options: Unpack[ListOptions]
    ) -> AsyncPager[Label]:
        """Labels of a subscriber: ``GET /api/v2/subscriber/{type}/{value}/label``.

        ``id_type`` is ``"imsi"``, ``"iccid"``, ``"msisdn"`` or ``"imei"``
        (:class:`~flolive.SubscriberIdType`). Options as in :meth:`paginate`.

        Raises (while iterating): :class:`~flolive.SubscriberNotFound`,
        :class:`~flolive.LabelsUnavailable`, and the other errors of the tree.
        """
        try:
            kind = SubscriberIdType(str(id_type).lower())
        except ValueError:
            raise ValueError(
                f"id_type must be one of imsi, iccid, msisdn, imei; got {id_type!r}"
            ) from None
        return self.paginate(
            f"/api/v2/subscriber/{kind.value}/{_segment('subscriber identifier', value)}/label",
            Label,
            **options,
        )

    def campaigns(self, customer_id: int, **options: Unpack[ListOptions]) -> AsyncPager[Campaign]:
        """A customer's campaigns: ``GET /api/v2/customer/{customerId}/campaign``.

        Options as in :meth:`paginate`. Raises :class:`~flolive.CustomerNotFound`
        for an unknown customer.
        """
        return self.paginate(
            f"/api/v2/customer/{_id('customer_id', customer_id)}/campaign", Campaign, **options
        )

    async def campaign(
        self,
        customer_id: int,
        campaign_id: int,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | UseClientDefault = USE_CLIENT_DEFAULT,
        max_response_size: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Campaign:
        """One campaign: ``GET /api/v2/customer/{customerId}/campaign/{campaignId}``.

        Raises :class:`~flolive.CampaignNotFound` or :class:`~flolive.CustomerNotFound`.
        """
        path = (
            f"/api/v2/customer/{_id('customer_id', customer_id)}"
            f"/campaign/{_id('campaign_id', campaign_id)}"
        )
        items = await self.get_items(
            path, Campaign, timeout=timeout, retry=retry, max_response_size=max_response_size
        )
        if len(items) != 1:
            raise DecodeError(
                f"expected one campaign in `content`, got {len(items)} - at `$.content`",
                http_status=200,
                context=RequestContext("GET", path),
            )
        return items[0]

    # -- subscribers ------------------------------------------------------

    def subscribers(
        self, customer_id: int, **options: Unpack[ListOptions]
    ) -> AsyncPager[Subscriber]:
        """A customer's SIMs, and its direct sub-customers', page by page:
        ``GET /api/v2/customer/{customerId}/subscriber``.

        Fanned out like every listing. Options as in :meth:`paginate`. For
        more than about 10,000 SIMs the vendor points to the cursor,
        :meth:`all_subscribers`. Raises (while iterating)
        :class:`~flolive.CustomerNotFound`, and the other errors of the tree.
        """
        return self.paginate(
            f"/api/v2/customer/{_id('customer_id', customer_id)}/subscriber",
            Subscriber,
            **options,
        )

    def all_subscribers(
        self,
        customer_id: int,
        *,
        chunk_size: int = 1000,
        keep_alive: int = 5,
        **options: Unpack[CursorOptions],
    ) -> AsyncCursor[Subscriber]:
        """Every SIM of a customer through the point-in-time cursor:
        ``POST /api/v2/customer/{customerId}/subscriber-all``.

        ``chunk_size`` records per call (1 to 10,000; default 1000);
        ``keep_alive`` minutes the session lives between calls (1 to 30;
        default 5). The chunks come one after another (each call needs the
        previous answer's ``pitId``); with ``read_ahead`` the next one is asked
        for while you handle the current one. Options are
        :class:`CursorOptions`.

        Raises (while iterating) :class:`~flolive.CustomerNotFound`,
        :class:`~flolive.CursorExpired` when the session is lost mid-read (the
        read must start over), and the other errors of the tree.

        Example::

            async with client.all_subscribers(42, chunk_size=5000) as cursor:
                async for sim in cursor:
                    print(sim.iccid, sim.status)
        """
        return self._cursor(
            f"/api/v2/customer/{_id('customer_id', customer_id)}/subscriber-all",
            Subscriber,
            chunk_size,
            keep_alive,
            options,
        )

    def all_subscriber_details(
        self,
        customer_id: int,
        *,
        chunk_size: int = 1000,
        keep_alive: int = 5,
        **options: Unpack[CursorOptions],
    ) -> AsyncCursor[SubscriberDetails]:
        """Every SIM of a customer in detail (:class:`~flolive.SubscriberDetails`)
        through the point-in-time cursor:
        ``POST /api/v2/customer/{customerId}/subscriber-all-details``.

        Arguments, options and errors as in :meth:`all_subscribers`.
        """
        return self._cursor(
            f"/api/v2/customer/{_id('customer_id', customer_id)}/subscriber-all-details",
            SubscriberDetails,
            chunk_size,
            keep_alive,
            options,
        )

    def _cursor(
        self,
        path: str,
        item_type: type[T],
        chunk_size: int,
        keep_alive: int,
        options: CursorOptions,
    ) -> AsyncCursor[T]:
        unknown = options.keys() - _CURSOR_OPTIONS
        if unknown:
            raise TypeError(
                f"unknown cursor option{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(sorted(map(repr, unknown)))}; valid options are "
                f"{', '.join(sorted(_CURSOR_OPTIONS))}"
            )
        if _positive_int("chunk_size", chunk_size) > MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be at most {MAX_CHUNK_SIZE:,}, got {chunk_size}")
        if _positive_int("keep_alive", keep_alive) > MAX_KEEP_ALIVE:
            raise ValueError(
                f"keep_alive must be at most {MAX_KEEP_ALIVE} minutes, got {keep_alive}"
            )
        transport = self._t
        codec = cursor_codec_for(item_type)
        per_try = _seconds_or_none("timeout", options.get("timeout", self.timeout))
        retry = _retry_policy(options.get("retry", self.retry))
        max_size = _positive_int(
            "max_response_size", options.get("max_response_size", self.max_response_size)
        )

        async def fetch(pit_id: str, number: int, deadline: float | None) -> CursorEnvelope[T]:
            return await transport.request(
                "POST",
                path,
                codec.chunk,
                json={"pitId": pit_id, "pitKeepAlive": keep_alive, "size": chunk_size},
                page=number,
                timeout=per_try,
                retry=retry,
                deadline=deadline,
                max_response_size=max_size,
                # The same pitId asks for the same chunk: safe to send again.
                idempotent=True,
            )

        return AsyncCursor(
            fetch,
            path=path,
            chunk_size=chunk_size,
            keep_alive=keep_alive,
            resume=options.get("resume"),
            max_items=options.get("max_items"),
            read_ahead=options.get("read_ahead", True),
            on_list_change=_on_list_change(options.get("on_list_change", self.on_list_change)),
            listing_timeout=_seconds_or_none(
                "listing_timeout", options.get("listing_timeout", self.listing_timeout)
            ),
        )

    async def subscriber(
        self,
        id_type: SubscriberIdType | str,
        value: str | int,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | UseClientDefault = USE_CLIENT_DEFAULT,
        max_response_size: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> SubscriberDetails:
        """One subscriber in detail: ``GET /api/v2/subscriber/{type}/{value}``.

        ``id_type`` is ``"imsi"``, ``"iccid"``, ``"msisdn"`` or ``"imei"``
        (:class:`~flolive.SubscriberIdType`); ``value`` is sent as exactly one
        path segment. ``timeout``, ``retry`` and ``max_response_size`` as in
        :meth:`get_items`.

        Raises :class:`~flolive.SubscriberNotFound`, and the other errors of the tree.
        """
        path = f"/api/v2/subscriber/{_subscriber_id_type(id_type)}/" + _segment(
            "subscriber identifier", value
        )
        items = await self.get_items(
            path,
            SubscriberDetails,
            timeout=timeout,
            retry=retry,
            max_response_size=max_response_size,
        )
        if len(items) != 1:
            raise DecodeError(
                f"expected one subscriber in `content`, got {len(items)} - at `$.content`",
                http_status=200,
                context=RequestContext("GET", path),
            )
        return items[0]

    def subscriber_profiles(self, eid: str, **options: Unpack[ListOptions]) -> AsyncPager[Profile]:
        """The eSIM profiles on one EID:
        ``GET /api/v2/subscriber/eid/{eid}/profiles``.

        The EID is the only identifier this endpoint accepts; it is sent as
        exactly one path segment. Options as in :meth:`paginate`. Raises (while
        iterating) :class:`~flolive.SubscriberNotFound`, and the other errors
        of the tree.
        """
        return self.paginate(
            f"/api/v2/subscriber/eid/{_segment('eid', eid)}/profiles", Profile, **options
        )


def _subscriber_id_type(id_type: SubscriberIdType | str) -> str:
    try:
        return SubscriberIdType(str(id_type).lower()).value
    except ValueError:
        raise ValueError(
            f"id_type must be one of imsi, iccid, msisdn, imei; got {id_type!r}"
        ) from None
