"""The sync :class:`Client`: :class:`flolive.Client`'s methods, written out for sync code.

Every method is the async client's, with the same parameters, defaults and
docstring (tests/test_sync.py checks them equal): a coroutine method is
awaited on the loop thread, and a listing comes back as a
:class:`~flolive.sync.Listing`.
"""

from __future__ import annotations

import atexit
import ssl as _ssl
import sys
import warnings
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar, Unpack

import aiohttp

from .. import (
    USE_CLIENT_DEFAULT,
    Campaign,
    ClientNotOpenError,
    ClientState,
    ClientStats,
    CursorOptions,
    Label,
    ListOptions,
    OnListChange,
    Participant,
    Profile,
    Response,
    RetryPolicy,
    Subscriber,
    SubscriberDetails,
    SubscriberIdType,
    TokenProvider,
    UseClientDefault,
)
from .. import Client as AsyncClient
from .._options import DEFAULT_MAX_RESPONSE_SIZE
from ..client import per_call
from .listing import Cursor, Listing, Pager
from .loop import CLOSED_MESSAGE, Closing, LoopThread

T = TypeVar("T")
R = TypeVar("R")


class Client(Closing):
    """Synchronous client of the floLIVE API v2: :class:`flolive.Client` for sync code.

    It opens in the constructor: use it as ``with Client(...) as client:``, or
    call :meth:`close` when done. It runs one event loop in a thread of its own,
    where its :class:`flolive.Client` lives: the session, the connection pool
    and the limiter last from the constructor to :meth:`close`, across every
    call, from every thread. Closing stops that thread and cancels the calls
    other threads still have in flight. One client may be shared by many
    threads: all their requests share its ``max_concurrency`` limit.

    Example::

        from flolive.sync import Client

        with Client(base_url="https://api.example", token="...") as client:
            for p in client.campaign_participants(customer_id=42, campaign_id=7):
                print(p.iccid, p.status, p.timestamp)
            campaign = client.campaign(42, 7)

    The arguments, methods, models and exceptions are those of
    :class:`flolive.Client`, except ``session``: a session belongs to one event
    loop, and this client runs its own. ``token_provider`` and ``sleep`` are
    async callables, run on the client's loop thread.

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
        session: must be ``None``: a session belongs to the event loop it was
            made on, and this client runs its own.
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
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if session is not None:
            raise ValueError(
                "flolive.sync.Client runs its own event loop and cannot use a session "
                "made on another one; leave `session` out"
            )
        self._owner = True

        async def opened() -> AsyncClient:
            # Made on the loop thread: whatever the client creates binds to that loop.
            client = AsyncClient(
                base_url,
                token=token,
                username=username,
                password=password,
                token_provider=token_provider,
                max_concurrency=max_concurrency,
                adaptive_concurrency=adaptive_concurrency,
                max_rate=max_rate,
                page_size=page_size,
                page_base=page_base,
                prefetch=prefetch,
                speculate=speculate,
                timeout=timeout,
                max_response_size=max_response_size,
                listing_timeout=listing_timeout,
                retry=retry,
                on_list_change=on_list_change,
                headers=headers,
                user_agent=user_agent,
                proxy=proxy,
                trust_env=trust_env,
                ssl=ssl,
                trace_configs=trace_configs,
                sleep=sleep,
            )
            return await client.__aenter__()

        loop = LoopThread()
        try:
            self._async = loop.portal.call(opened)
        except BaseException:
            loop.stop()
            raise
        self._loop = loop
        _open_clients.add(self)

    @classmethod
    def _derived(cls, loop: LoopThread, derived: AsyncClient) -> Client:
        client = cls.__new__(cls)
        client._owner = False
        client._loop = loop
        client._async = derived
        return client

    def __repr__(self) -> str:
        if self.closed:
            return "<flolive.sync.Client closed>"
        return repr(self._async).replace("<flolive.Client", "<flolive.sync.Client", 1)

    # -- lifetime ---------------------------------------------------------

    def __enter__(self) -> Client:
        if self.closed:
            raise ClientNotOpenError(CLOSED_MESSAGE)
        return self

    @property
    def closed(self) -> bool:
        """``True`` once :meth:`close` ran (on the client this one was derived from)."""
        loop: LoopThread | None = getattr(self, "_loop", None)
        return loop is None or loop.closed

    def close(self) -> None:
        """Close every open pass and the session, then stop the loop thread. Idempotent.

        Calls other threads still have in flight are cancelled (they raise
        :class:`~flolive.ClientNotOpenError`) and their cleanup waited for. A
        client made by :meth:`with_options` closes nothing.
        """
        if self._owner:
            _open_clients.discard(self)
            self._loop.close(self._async.aclose)

    def __del__(self) -> None:
        # At interpreter exit the loop thread no longer runs: the atexit hook
        # below closed this client already, or nothing can. The loop thread
        # cannot join itself.
        loop: LoopThread | None = getattr(self, "_loop", None)
        if loop is not None and not sys.is_finalizing() and not loop.in_loop_thread():
            self._close_forgotten()

    def _close_forgotten(self) -> None:
        if self._owner and not self.closed:
            warnings.warn(
                f"unclosed {self!r}: use `with Client(...)` or call close()",
                ResourceWarning,
                stacklevel=3,
            )
            self.close()

    def _call(self, fn: Callable[[], Awaitable[R]]) -> R:
        """Await ``fn()`` on the loop thread; Ctrl+C cancels it."""
        return self._loop.call(fn)

    def _on_loop(self, fn: Callable[[], R]) -> R:
        """Run ``fn()`` on the loop thread, where what it makes will run."""

        async def on_loop() -> R:
            return fn()

        return self._loop.call(on_loop)

    # -- settings and state (those of flolive.Client) ---------------------

    @property
    def base_url(self) -> str:
        """The API root."""
        return self._async.base_url

    @property
    def settings(self) -> Mapping[str, Any]:
        """Every setting of this client (read-only), by name; each is also an
        attribute (``client.page_size``), and those :meth:`with_options` may
        change can be set on the client for its later calls."""
        return self._async.settings

    def __getattr__(self, name: str) -> Any:
        # The settings, read from the async client; nothing else.
        client = self.__dict__.get("_async")
        if client is None or name not in client.settings:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(client, name)

    def __setattr__(self, name: str, value: Any) -> None:
        client = self.__dict__.get("_async")
        if client is not None and name in client.settings:
            setattr(client, name, value)  # checked there, for later calls
        else:
            object.__setattr__(self, name, value)

    @property
    def state(self) -> ClientState:
        """The :class:`ClientState` of this client (of its parent, for a
        client made by :meth:`with_options`)."""
        return self._async.state

    @property
    def stats(self) -> ClientStats:
        """Counters of requests, retries, throttles and bytes since the client opened."""
        return self._async.stats

    @property
    def concurrency_limit(self) -> int:
        """The client-wide limit in force: ``max_concurrency``, or less while
        ``adaptive_concurrency`` backs off."""
        return self._async.concurrency_limit

    # -- methods (those of flolive.Client) --------------------------------

    def with_options(self, **options: Any) -> Client:
        """A client with other defaults that shares this one's session,
        connection pool, credentials, limiter, pause and stats.

        ``options`` are any of ``page_size``, ``page_base``, ``prefetch``,
        ``speculate``, ``timeout``, ``listing_timeout``, ``max_response_size``,
        ``max_rate``, ``retry`` and ``on_list_change``. The derived client is
        open while this one is; it needs no ``with`` of its own, and
        closing it does nothing.

        Example::

            with Client(...) as client:
                patient = client.with_options(timeout=120, retry=RetryPolicy(max_retries=8))
                patient.campaign(1, 7)
        """
        return Client._derived(
            self._loop, self._on_loop(lambda: self._async.with_options(**options))
        )

    def paginate(
        self,
        path: str,
        item_type: type[T],
        *,
        params: Mapping[str, str | int] | None = None,
        **options: Unpack[ListOptions],
    ) -> Pager[T]:
        """List any paged endpoint, including ones the SDK does not wrap yet.

        ``item_type`` is the type of one ``content`` item, usually a
        :class:`msgspec.Struct` (``rename="camel"`` maps camelCase fields).
        ``params`` are extra query parameters; ``options`` are
        :class:`ListOptions`, each defaulting to the client's setting.

        Example::

            class Sim(msgspec.Struct, rename="camel"):
                iccid: str
                imsi: str

            for sim in client.paginate("/api/v2/customer/42/sims", Sim):
                ...
        """
        pager = self._on_loop(
            lambda: self._async.paginate(path, item_type, params=params, **options)
        )
        return Listing(self._loop, pager)

    def get_items(
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
        call = per_call(locals())
        return self._call(lambda: self._async.get_items(path, item_type, params=params, **call))

    def request(
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
        return self._call(
            lambda: self._async.request(
                method,
                path,
                params=params,
                json=json,
                extra_headers=extra_headers,
                timeout=timeout,
                idempotent=idempotent,
            )
        )

    # -- endpoints --------------------------------------------------------

    def campaign_participants(
        self, customer_id: int, campaign_id: int, **options: Unpack[ListOptions]
    ) -> Pager[Participant]:
        """Participants of a campaign.

        ``GET /api/v2/customer/{customerId}/campaign/{campaignId}/participants``.

        Options are :class:`ListOptions` (``page_size``, ``start_page``,
        ``max_pages``, ``page_base``, ``prefetch``, ``timeout``,
        ``listing_timeout``, ``retry``, ``on_list_change``).

        Raises (while iterating): :class:`~flolive.CustomerNotFound`,
        :class:`~flolive.CampaignNotFound`, and the other errors of the tree.
        """
        pager = self._on_loop(
            lambda: self._async.campaign_participants(customer_id, campaign_id, **options)
        )
        return Listing(self._loop, pager)

    def subscriber_labels(
        self, id_type: SubscriberIdType | str, value: str | int, **options: Unpack[ListOptions]
    ) -> Pager[Label]:
        """Labels of a subscriber: ``GET /api/v2/subscriber/{type}/{value}/label``.

        ``id_type`` is ``"imsi"``, ``"iccid"``, ``"msisdn"`` or ``"imei"``
        (:class:`~flolive.SubscriberIdType`). Options as in :meth:`paginate`.

        Raises (while iterating): :class:`~flolive.SubscriberNotFound`,
        :class:`~flolive.LabelsUnavailable`, and the other errors of the tree.
        """
        pager = self._on_loop(lambda: self._async.subscriber_labels(id_type, value, **options))
        return Listing(self._loop, pager)

    def campaigns(self, customer_id: int, **options: Unpack[ListOptions]) -> Pager[Campaign]:
        """A customer's campaigns: ``GET /api/v2/customer/{customerId}/campaign``.

        Options as in :meth:`paginate`. Raises :class:`~flolive.CustomerNotFound`
        for an unknown customer.
        """
        return Listing(
            self._loop, self._on_loop(lambda: self._async.campaigns(customer_id, **options))
        )

    def campaign(
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
        call = per_call(locals())
        return self._call(lambda: self._async.campaign(customer_id, campaign_id, **call))

    # -- subscribers ------------------------------------------------------

    def subscribers(self, customer_id: int, **options: Unpack[ListOptions]) -> Pager[Subscriber]:
        """A customer's SIMs, and its direct sub-customers', page by page:
        ``GET /api/v2/customer/{customerId}/subscriber``.

        Fanned out like every listing. Options as in :meth:`paginate`. For
        more than about 10,000 SIMs the vendor points to the cursor,
        :meth:`all_subscribers`. Raises (while iterating)
        :class:`~flolive.CustomerNotFound`, and the other errors of the tree.
        """
        return Listing(
            self._loop, self._on_loop(lambda: self._async.subscribers(customer_id, **options))
        )

    def all_subscribers(
        self,
        customer_id: int,
        *,
        chunk_size: int = 1000,
        keep_alive: int = 5,
        **options: Unpack[CursorOptions],
    ) -> Cursor[Subscriber]:
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

            with client.all_subscribers(42, chunk_size=5000) as cursor:
                for sim in cursor:
                    print(sim.iccid, sim.status)
        """
        cursor = self._on_loop(
            lambda: self._async.all_subscribers(
                customer_id, chunk_size=chunk_size, keep_alive=keep_alive, **options
            )
        )
        return Listing(self._loop, cursor)

    def all_subscriber_details(
        self,
        customer_id: int,
        *,
        chunk_size: int = 1000,
        keep_alive: int = 5,
        **options: Unpack[CursorOptions],
    ) -> Cursor[SubscriberDetails]:
        """Every SIM of a customer in detail (:class:`~flolive.SubscriberDetails`)
        through the point-in-time cursor:
        ``POST /api/v2/customer/{customerId}/subscriber-all-details``.

        Arguments, options and errors as in :meth:`all_subscribers`.
        """
        cursor = self._on_loop(
            lambda: self._async.all_subscriber_details(
                customer_id, chunk_size=chunk_size, keep_alive=keep_alive, **options
            )
        )
        return Listing(self._loop, cursor)

    def subscriber(
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
        call = per_call(locals())
        return self._call(lambda: self._async.subscriber(id_type, value, **call))

    def subscriber_profiles(self, eid: str, **options: Unpack[ListOptions]) -> Pager[Profile]:
        """The eSIM profiles on one EID:
        ``GET /api/v2/subscriber/eid/{eid}/profiles``.

        The EID is the only identifier this endpoint accepts; it is sent as
        exactly one path segment. Options as in :meth:`paginate`. Raises (while
        iterating) :class:`~flolive.SubscriberNotFound`, and the other errors
        of the tree.
        """
        return Listing(
            self._loop, self._on_loop(lambda: self._async.subscriber_profiles(eid, **options))
        )


_open_clients: weakref.WeakSet[Client] = weakref.WeakSet()


@atexit.register
def _close_forgotten_clients() -> None:
    """Close the clients still open as the interpreter exits, while their loop
    threads (daemon threads) still run; during finalisation they no longer do."""
    for client in list(_open_clients):
        client._close_forgotten()
