"""The client's machinery, apart from its endpoint methods (:mod:`flolive.client`):
settings, session lifetime, derived clients, and the three ways a call goes
out (one request, a paged listing, a cursor read), all through one transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import enum
import functools
import os
import ssl as _ssl
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Self, TypeVar, Unpack

import aiohttp
import msgspec
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from ._auth import Auth, PasswordAuth, ProviderAuth, StaticToken, TokenProvider
from ._closing import AsyncClosing
from ._codec import codec_for, cursor_codec_for, raw_response
from ._options import (
    MAX_CHUNK_SIZE,
    MAX_KEEP_ALIVE,
    CursorOptions,
    ListOptions,
    check,
    names,
    positive_int,
    resolve,
    resolve_client,
)
from ._source import ListSource
from ._transport import ClientStats, Sleep, Transport
from ._types import USE_CLIENT_DEFAULT, RequestContext, Response, ResumeToken, UseClientDefault
from ._version import __version__
from .cursor import Answer, AsyncCursor
from .errors import ClientNotOpenError, DecodeError
from .models import Page
from .pagination import AsyncPager
from .retry import RetryPolicy

__all__ = ["ENVIRONMENT", "BaseClient", "ClientState", "environ_setting"]

T = TypeVar("T")

DEFAULT_USER_AGENT = f"flolive-sdk/{__version__} (python; aiohttp/{aiohttp.__version__})"
LOGIN_PATH = "/api/v2/auth/token"

#: Where a client looks for what it is not given: the one lookup (the CLI,
#: the engine adapters and the workers of a planned listing use it too).
ENVIRONMENT: Mapping[str, str] = {
    "base_url": "FLOLIVE_BASE_URL",
    "token": "FLOLIVE_TOKEN",
    "username": "FLOLIVE_USERNAME",
    "password": "FLOLIVE_PASSWORD",
}


def environ_setting(name: str, given: str | None) -> str | None:
    """``given``, else the environment's value for ``name`` (see :data:`ENVIRONMENT`)."""
    return given if given is not None else (os.environ.get(ENVIRONMENT[name]) or None)


class ClientState(enum.Enum):
    """Where a :class:`~flolive.Client` is in its life: ``client.state``."""

    UNOPENED = "unopened"
    """Created, not yet entered with ``async with``; no request can be sent."""
    OPEN = "open"
    """Inside ``async with``: sending requests."""
    CLOSED = "closed"
    """Closed by ``aclose()`` or the end of ``async with``; it may be opened again."""


_DERIVABLE = names("derive")
#: Settings the pager and the cursor take as they are resolved.
_PAGER_SETTINGS = (
    "max_pages",
    "max_items",
    "prefetch",
    "on_list_change",
    "on_page",
    "listing_timeout",
)
_CURSOR_SETTINGS = ("resume", "max_items", "read_ahead", "on_list_change", "listing_timeout")


class _TokenItem(msgspec.Struct):
    token: str


def _env_names_a_proxy() -> bool:
    """Cheap pre-check: the full look-up imports urllib.request and starts a
    thread (about 25 ms on a cold process), which a client without any
    ``*_proxy`` variable should not pay."""
    return any(k.lower().endswith("_proxy") and k.lower() != "no_proxy" for k in os.environ)


def _check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
            raise ValueError(f"header {name!r} has a value that cannot be sent (CR, LF or NUL)")
    return dict(headers)


class BaseClient(AsyncClosing):
    """Settings, lifetime and request plumbing of :class:`~flolive.Client`.

    The settings (``client.page_size``, ``client.timeout``, ...) are those of
    :data:`flolive._options.SETTINGS` in the ``client`` scope, readable as
    attributes; ``client.settings`` holds them all.
    """

    def __init__(
        self,
        base_url: str | None,
        *,
        token: str | None,
        username: str | None,
        password: str | None,
        token_provider: TokenProvider | None,
        settings: Mapping[str, Any],
        headers: Mapping[str, str] | None,
        user_agent: str | None,
        proxy: str | None,
        trust_env: bool,
        ssl: _ssl.SSLContext | bool,
        session: aiohttp.ClientSession | None,
        trace_configs: Sequence[aiohttp.TraceConfig] | None,
        sleep: Sleep | None,
    ) -> None:
        base_url = environ_setting("base_url", base_url or None)
        if not base_url:
            raise ValueError(f"base_url is required (or set {ENVIRONMENT['base_url']})")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._settings = resolve_client(settings)
        if session is not None and trace_configs:
            raise ValueError(
                "trace_configs apply to the client's own session: with session=, "
                "give them to your aiohttp.ClientSession"
            )
        self._trace_configs = list(trace_configs) if trace_configs is not None else []
        self._proxy = proxy
        self._trust_env = trust_env
        self._ssl = ssl
        self._own_session = session is None
        self._session = session
        self._sleep: Sleep = asyncio.sleep if sleep is None else sleep
        self._headers = _check_headers(
            {
                "User-Agent": DEFAULT_USER_AGENT if user_agent is None else user_agent,
                "Accept": "application/json",
                **(headers if headers is not None else {}),
            }
        )
        self._auth: Auth = self._make_auth(
            token if token is not None or token_provider else environ_setting("token", None),
            environ_setting("username", username),
            environ_setting("password", password),
            token_provider,
        )
        self._transport: Transport | None = None
        self._stats = ClientStats()
        self._state = ClientState.UNOPENED
        self._root = self  # the client whose connection this one uses

    def __getattr__(self, name: str) -> Any:
        # Only for the settings: everything else is a real attribute. The
        # guard keeps copy.copy (which probes a bare instance) from recursing.
        settings = self.__dict__.get("_settings")
        if settings is None or name not in settings:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return settings[name]

    def __setattr__(self, name: str, value: Any) -> None:
        # A setting set on the client (``client.page_size = 250``) is checked
        # and applies to later calls; connection settings are fixed once made.
        settings = self.__dict__.get("_settings")
        if settings is not None and name in settings:
            if name not in _DERIVABLE:
                raise AttributeError(f"{name} is fixed when the client is made")
            settings[name] = check(name, value, "derive")
            return
        object.__setattr__(self, name, value)

    @property
    def settings(self) -> Mapping[str, Any]:
        """Every setting of this client (read-only), by name; each is also an
        attribute (``client.page_size``), and those :meth:`with_options` may
        change can be set on the client for its later calls."""
        return MappingProxyType(self._settings)

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
                raise ValueError(f"username given without password (or {ENVIRONMENT['password']})")
            return PasswordAuth(username, password, self._login)
        return Auth()

    def __repr__(self) -> str:
        derived = " derived" if self._root is not self else ""
        return (
            f"<flolive.Client {self.base_url} auth={self._auth.kind} "
            f"max_concurrency={self._settings['max_concurrency']} {self.state.value}{derived}>"
        )

    # -- lifetime ---------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """The :class:`ClientState` of this client (of its parent, for a
        client made by :meth:`with_options`)."""
        return self._root._state

    def with_options(self, **options: Any) -> Self:
        """A client with other defaults that shares this one's session,
        connection pool, credentials, limiter, pause and stats.

        ``options`` are any of ``page_size``, ``page_base``, ``prefetch``,
        ``speculate``, ``timeout``, ``listing_timeout``, ``max_response_size``,
        ``max_rate``, ``retry`` and ``on_list_change``. The derived client is
        open while this one is; it needs no ``async with`` of its own, and
        closing it does nothing.

        Example::

            async with Client(...) as client:
                patient = client.with_options(timeout=120, retry=RetryPolicy(max_retries=8))
                await patient.campaign(1, 7)
        """
        unknown = options.keys() - names("derive")
        if unknown:
            raise TypeError(
                f"with_options() cannot set {', '.join(sorted(map(repr, unknown)))}; "
                f"it sets {', '.join(sorted(names('derive')))}"
            )
        derived = copy.copy(self)
        derived.__dict__.update(
            _root=self._root,
            _settings={**self._settings, **resolve("derive", options, self._settings)},
        )
        return derived

    async def __aenter__(self) -> Self:
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
        settings = self._settings
        session = self._session
        if session is None:
            # The pool is at least as large as the limiter, so a request never
            # waits for a connection once it holds a slot.
            connector = aiohttp.TCPConnector(
                limit=settings["max_concurrency"], limit_per_host=0, ssl=self._ssl
            )
            session = aiohttp.ClientSession(
                connector=connector, trust_env=False, trace_configs=self._trace_configs or None
            )
        self._stats = ClientStats()
        self._transport = Transport(
            base_url=self.base_url,
            session=session,
            max_concurrency=settings["max_concurrency"],
            auth=self._auth,
            headers=self._headers,
            sleep=self._sleep,
            stats=self._stats,
            proxy=proxy,
            proxy_auth=proxy_auth,
            adaptive=settings["adaptive_concurrency"],
            max_rate=settings["max_rate"],
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
        return t.limiter.limit if t is not None else int(self._settings["max_concurrency"])

    @property
    def _t(self) -> Transport:
        t = self._root._transport
        if t is None:
            raise ClientNotOpenError(
                "the client is not open; use it as `async with Client(...) as client:`"
            )
        return t

    # -- the three kinds of call -------------------------------------------

    def _send(self, s: Mapping[str, Any]) -> Any:
        """The transport's ``request`` with a call's resolved settings bound."""
        return functools.partial(
            self._t.request,
            timeout=s["timeout"],
            retry=s["retry"],
            max_response_size=s["max_response_size"],
            max_rate=s["max_rate"],
            headers=s.get("extra_headers"),
        )

    async def _login(self, username: str, password: str) -> str:
        items: list[_TokenItem] = await self._send(self._settings)(
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

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        idempotent: bool | None = None,
    ) -> Response:
        """Call any endpoint, including ones the SDK does not model yet, with
        the client's auth and re-login, limiter, rate limiter, deadline, body
        cap and typed errors.

        ``path`` is the URL path under ``base_url`` as the endpoint methods
        use it (``/api/v2/...``), already percent-encoded where it needs to
        be. GET and HEAD are retried by the client's
        :class:`~flolive.RetryPolicy`; other methods only with
        ``idempotent=True``. ``extra_headers`` go over the client's (never
        ``Authorization``); ``timeout`` defaults to the client's.

        Returns:
            a :class:`~flolive.Response` for a 2xx answer.

        Raises:
            FloliveError: the typed error of a non-2xx answer or a failure,
                after retries, as for every call.
        """
        if not isinstance(method, str) or not method.isalpha():
            raise ValueError(f"method must be an HTTP method such as 'GET', got {method!r}")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path must be a URL path starting with '/', got {path!r}")
        s = resolve(
            "request",
            {"timeout": timeout, "extra_headers": extra_headers},
            self._settings,
            what="request",
        )
        verb = method.upper()
        response: Response = await self._send(s)(
            verb,
            path,
            raw_response,
            params=params,
            json=json,
            idempotent=bool(idempotent) and verb not in ("GET", "HEAD"),
        )
        return response

    async def get_items(
        self,
        path: str,
        item_type: type[T],
        *,
        params: Mapping[str, str | int] | None = None,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | UseClientDefault = USE_CLIENT_DEFAULT,
        max_response_size: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str | int] | None = None,
    ) -> list[T]:
        """GET one envelope and return its ``content`` items (no paging).

        ``timeout``, ``retry`` and ``max_response_size`` apply to this call
        only; each defaults to the client's setting (:data:`USE_CLIENT_DEFAULT`).
        ``extra_headers`` and ``extra_query`` are merged over the client's
        headers and the call's parameters.
        """
        s = resolve(
            "request",
            {
                "timeout": timeout,
                "retry": retry,
                "max_response_size": max_response_size,
                "extra_headers": extra_headers,
                "extra_query": extra_query,
            },
            self._settings,
            what="request",
        )
        query = {**(params or {}), **(s["extra_query"] or {})}
        items: list[T] = await self._send(s)(
            "GET", path, codec_for(item_type).items, params=query or None
        )
        return items

    async def _get_one(self, path: str, item_type: type[T], what: str, **call: Any) -> T:
        """The one item of ``path``'s ``content``."""
        items = await self.get_items(path, item_type, **call)
        if len(items) != 1:
            raise DecodeError(
                f"expected one {what} in `content`, got {len(items)} - at `$.content`",
                http_status=200,
                context=RequestContext("GET", path),
            )
        return items[0]

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
        s = resolve("listing", options, self._settings, what="listing")
        send = self._send(s)
        codec = codec_for(item_type)
        base_params = {**(params or {}), **(s["extra_query"] or {})}
        resume: ResumeToken | None = s["resume"]
        page_size, page_base, start_page = s["page_size"], s["page_base"], s["start_page"]
        if resume is not None:
            if resume.path != path:
                raise ValueError(f"this resume token is for {resume.path}, not {path}")
            clash = {"page_size", "page_base", "start_page"} & options.keys()
            if clash:
                raise ValueError(f"give resume or {', '.join(sorted(clash))}, not both")
            page_size, page_base, start_page = resume.page_size, resume.page_base, resume.page

        async def fetch(number: int, size: int, deadline: float | None) -> Page[T]:
            page: Page[T] = await send(
                "GET",
                path,
                codec.page,
                params={**base_params, "page": number, "size": size},
                page=number,
                resume=ResumeToken(path=path, page=number, page_size=size, page_base=page_base),
                deadline=deadline,
            )
            return page

        speculate = 0 if self._settings["adaptive_concurrency"] else s["speculate"]
        return AsyncPager(
            fetch,
            path=path,
            page_size=page_size,
            page_base=page_base,
            start_page=start_page,
            speculate=speculate,
            **{n: s[n] for n in _PAGER_SETTINGS},
            source=ListSource(
                base_url=self.base_url,
                path=path,
                item_type=item_type,
                params=tuple(base_params.items()),
                settings=self._worker_settings({**s, "page_base": page_base}),
            ),
        )

    def _worker_settings(self, call: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        """The non-secret settings a planned part carries to its worker."""
        values = {**self._settings, **call}
        out = {n: values[n] for n in sorted(names("worker"))}
        out["speculate"] = 0 if values["adaptive_concurrency"] else values["speculate"]
        # An SSLContext cannot be pickled; workers verify with their own CAs.
        out["ssl"] = self._ssl if isinstance(self._ssl, bool) else True
        out["user_agent"] = self._headers["User-Agent"]
        out["trust_env"] = self._trust_env
        return tuple(out.items())

    def _cursor(
        self,
        path: str,
        item_type: type[T],
        chunk_size: int,
        keep_alive: int,
        options: CursorOptions,
    ) -> AsyncCursor[T]:
        s = resolve("cursor", options, self._settings, what="cursor")
        if positive_int("chunk_size", chunk_size) > MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be at most {MAX_CHUNK_SIZE:,}, got {chunk_size}")
        if positive_int("keep_alive", keep_alive) > MAX_KEEP_ALIVE:
            raise ValueError(
                f"keep_alive must be at most {MAX_KEEP_ALIVE} minutes, got {keep_alive}"
            )
        send = self._send(s)
        codec = cursor_codec_for(item_type)
        query = s["extra_query"]

        async def fetch(pit_id: str, number: int, deadline: float | None) -> Answer[T]:
            answer: Answer[T] = await send(
                "POST",
                path,
                codec.chunk,
                params=query,
                json={"pitId": pit_id, "pitKeepAlive": keep_alive, "size": chunk_size},
                page=number,
                deadline=deadline,
                # The same pitId asks for the same chunk: safe to send again.
                idempotent=True,
            )
            return answer

        return AsyncCursor(
            fetch,
            path=path,
            chunk_size=chunk_size,
            keep_alive=keep_alive,
            **{n: s[n] for n in _CURSOR_SETTINGS},
        )
