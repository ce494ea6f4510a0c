"""The :class:`Client`: the endpoint methods of floLIVE's API v2.

The machinery every method goes through (settings, session, the transport,
listings and cursor reads) is :mod:`flolive._base_client`; this module only
says which path each endpoint has, which type its items are, and how its
arguments become one safe path segment.
"""

from __future__ import annotations

import ssl as _ssl
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar, Unpack
from urllib.parse import quote

import aiohttp

from ._auth import TokenProvider
from ._base_client import LOGIN_PATH, BaseClient, ClientState
from ._options import DEFAULT_MAX_RESPONSE_SIZE, CursorOptions, ListOptions
from ._transport import ClientStats, Sleep
from ._types import USE_CLIENT_DEFAULT, OnListChange, Response, UseClientDefault
from .cursor import AsyncCursor
from .models import (
    Campaign,
    Label,
    Participant,
    Profile,
    Subscriber,
    SubscriberDetails,
    SubscriberIdType,
)
from .pagination import AsyncPager
from .retry import RetryPolicy

T = TypeVar("T")

__all__ = [
    "LOGIN_PATH",
    "REQUEST_ARGS",
    "USE_CLIENT_DEFAULT",
    "Client",
    "ClientState",
    "CursorOptions",
    "ListOptions",
    "UseClientDefault",
    "per_call",
]


def _segment(name: str, value: str | int) -> str:
    """``value`` as exactly one path segment: every reserved character is
    percent-encoded, and the dot segments a URL library would resolve away
    (``"."``, ``".."``) are refused, so the path stays inside its template."""
    text = str(value)
    if isinstance(value, bool) or not text or text in (".", ".."):
        raise ValueError(f"{name} must be a non-empty identifier other than '.' and '..'")
    return quote(text, safe="")


REQUEST_ARGS = ("timeout", "retry", "max_response_size", "extra_headers", "extra_query")
"""The per-call settings the single-request methods (``campaign``,
``subscriber``, ``get_items``) take, by name."""


def per_call(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A single-request method's per-call settings, from its ``locals()``."""
    return {name: arguments[name] for name in REQUEST_ARGS}


def _id(name: str, value: int | str) -> str:
    """Path ids are numeric in this API; refuse anything else before a request."""
    text = str(value)
    # isdigit() alone accepts "²" and Arabic-Indic digits.
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return text


class Client(BaseClient):
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
        max_rate: the client-wide send rate: ``"auto"`` (default) learns the
            rate a rate-limiting gateway accepts from its push-back (429, 500,
            503, ``GLOBAL_1001``) and runs just under it, unlimited until then;
            a number of requests/s is a known quota (never exceeded, learnt
            below); ``None`` turns rate limiting off.
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
        max_rate: float | str | None = "auto",
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
        super().__init__(
            base_url,
            token=token,
            username=username,
            password=password,
            token_provider=token_provider,
            settings={
                "max_concurrency": max_concurrency,
                "adaptive_concurrency": adaptive_concurrency,
                "max_rate": max_rate,
                "page_size": page_size,
                "page_base": page_base,
                "prefetch": prefetch,
                "speculate": speculate,
                "timeout": timeout,
                "max_response_size": max_response_size,
                "listing_timeout": listing_timeout,
                "retry": retry,
                "on_list_change": on_list_change,
            },
            headers=headers,
            user_agent=user_agent,
            proxy=proxy,
            trust_env=trust_env,
            ssl=ssl,
            session=session,
            trace_configs=trace_configs,
            sleep=sleep,
        )

    # -- settings and state ------------------------------------------------

    @property
    def settings(self) -> Mapping[str, Any]:
        """Every setting of this client (read-only), by name; each is also an
        attribute (``client.page_size``), and those :meth:`with_options` may
        change can be set on the client for its later calls."""
        return MappingProxyType(self._settings)

    @property
    def state(self) -> ClientState:
        """The :class:`ClientState` of this client (of its parent, for a
        client made by :meth:`with_options`)."""
        return self._root._state

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

    def with_options(self, **options: Any) -> Client:
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
        return self._derive(options)

    # -- any endpoint -------------------------------------------------------

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
        call = {"extra_headers": extra_headers, "timeout": timeout, "idempotent": idempotent}
        return await self._raw(method, path, params, json, call)

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
        return await self._get(path, item_type, params, per_call(locals()))

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
        return self._paginate(path, item_type, params=params, **options)

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
        kind = _subscriber_id_type(id_type)
        return self.paginate(
            f"/api/v2/subscriber/{kind}/{_segment('subscriber identifier', value)}/label",
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
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str | int] | None = None,
    ) -> Campaign:
        """One campaign: ``GET /api/v2/customer/{customerId}/campaign/{campaignId}``.

        Raises :class:`~flolive.CampaignNotFound` or :class:`~flolive.CustomerNotFound`.
        """
        path = (
            f"/api/v2/customer/{_id('customer_id', customer_id)}"
            f"/campaign/{_id('campaign_id', campaign_id)}"
        )
        return await self._get_one(path, Campaign, "campaign", per_call(locals()))

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

    async def subscriber(
        self,
        id_type: SubscriberIdType | str,
        value: str | int,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | UseClientDefault = USE_CLIENT_DEFAULT,
        max_response_size: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str | int] | None = None,
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
        return await self._get_one(path, SubscriberDetails, "subscriber", per_call(locals()))

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
