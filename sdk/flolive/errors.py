"""The exception tree of flolive-sdk: one root, :class:`FloliveError`.

The rule that picks the class:

* When the response body is a valid API envelope with a non-empty
  ``errorCode``, the code decides, whatever the HTTP status: a known code maps
  to its subclass of :class:`APIError`, an unknown code raises :class:`APIError`.
* Otherwise the HTTP status decides: :class:`AuthenticationError` (401/403),
  :class:`RateLimited` (429), :class:`ServerError` (5xx), :class:`HTTPStatusError`
  (any other non-2xx).
* A 2xx body that is not a valid envelope raises :class:`DecodeError`; a failure
  below HTTP (reset, truncated body, DNS, timeout) raises :class:`TransportError`.

Every error raised while listing carries the API page number it failed on in
``page``, so ``client.campaign_participants(..., start_page=err.page)`` resumes
exactly there. No exception ever holds a token, password or auth response body.

Example::

    try:
        async for p in client.campaign_participants(42, 7):
            ...
    except CampaignNotFound as err:
        print(err.code, err.message)          # CUSTOMER_1037 Campaign does not exist
    except FloliveError as err:
        resume_at = err.page
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Self

from ._types import RequestContext, ResumeToken, request_id_of

__all__ = [
    "APIError",
    "AuthenticationError",
    "CampaignNotFound",
    "CertificateError",
    "ClientNotOpenError",
    "CursorExpired",
    "CursorIncomplete",
    "CustomerNotFound",
    "DecodeError",
    "DeadlineExceeded",
    "FloliveError",
    "HTTPStatusError",
    "InvalidCredentials",
    "LabelsUnavailable",
    "ListChanged",
    "ListChangedWarning",
    "ListIncomplete",
    "ListIncompleteWarning",
    "PageMismatch",
    "ProxyError",
    "RateLimited",
    "RedirectRefused",
    "RequestContext",
    "RequestTimeout",
    "ResponseTooLarge",
    "ServerError",
    "ServiceUnavailable",
    "SubscriberNotFound",
    "TransportError",
    "error_for_code",
    "error_for_status",
]


class FloliveError(Exception):
    """Root of every error the SDK raises.

    Attributes:
        context: the :class:`RequestContext` of the failed request, or ``None``.
        method: HTTP method of the failed request, or ``None``.
        path: URL path of the failed request (no query string, no host), or ``None``.
        page: API page number the error happened on while listing, else ``None``.
        resume: on an error raised while listing, the
            :class:`~flolive.ResumeToken` to go on from (``resume=err.resume``),
            else ``None``.
        headers: the response's headers (read-only; ``Set-Cookie`` and any
            credential-bearing header removed) for an error built from a
            response, else ``None``.
        request_id: the server's id of the request (``Request-Id``, else
            ``X-Request-Id``, else ``X-Correlation-Id``), for a support ticket;
            ``None`` without one.
    """

    def __init__(self, detail: str, *, context: RequestContext | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context

    @property
    def method(self) -> str | None:
        return self.context.method if self.context else None

    @property
    def path(self) -> str | None:
        return self.context.path if self.context else None

    @property
    def page(self) -> int | None:
        return self.context.page if self.context else None

    @property
    def resume(self) -> ResumeToken | None:
        return self.context.resume if self.context else None

    @property
    def headers(self) -> Mapping[str, str] | None:
        return self.context.headers if self.context else None

    @property
    def request_id(self) -> str | None:
        return request_id_of(self.context.headers) if self.context else None

    def for_request(self, page: int | None, resume: ResumeToken | None) -> Self:
        """A copy of this error for another request that shared its cause (a
        login many requests waited for), on that request's page and with its
        resume token."""
        err = copy.copy(self)
        if self.context is not None:
            err.context = replace(self.context, page=page, resume=resume)
        return err

    def __str__(self) -> str:
        where = []
        if self.method and self.path:
            where.append(f"{self.method} {self.path}")
        if self.page is not None:
            where.append(f"page {self.page}")
        return f"{self.detail} ({', '.join(where)})" if where else self.detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructors do not survive pickling by default; rebuild
        # from __dict__ so errors can cross process pools.
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[FloliveError], state: dict[str, object]) -> FloliveError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("detail", ""))
    err.__dict__.update(state)
    return err


class ClientNotOpenError(FloliveError, RuntimeError):
    """The client was used outside ``async with Client(...)`` (or after it closed)."""


class InvalidCredentials(FloliveError, ValueError):
    """A token or login that cannot be sent: empty, or holding a control
    character (CR, LF, NUL, ...) that would break or split the header. Raised
    before any request goes out; the message never shows the credential."""


class APIError(FloliveError):
    """The API answered with an error envelope (``errorCode`` set).

    Attributes:
        code: the API's ``errorCode``, e.g. ``"CUSTOMER_1037"``.
        message: the API's ``errorMessage``.
        http_status: the HTTP status the envelope came with (may be 200).
    """

    #: The ``errorCode`` this subclass stands for (``None`` on :class:`APIError`).
    error_code: str | None = None

    def __init__(
        self, code: str, message: str, http_status: int, *, context: RequestContext | None = None
    ) -> None:
        super().__init__(f"{code}: {message}", context=context)
        self.code = code
        self.message = message
        self.http_status = http_status


class CustomerNotFound(APIError):
    """``CUSTOMER_1002``: Customer does not exist."""

    error_code = "CUSTOMER_1002"


class CampaignNotFound(APIError):
    """``CUSTOMER_1037``: Campaign does not exist."""

    error_code = "CUSTOMER_1037"


class SubscriberNotFound(APIError):
    """``SUBSCRIBER_1002``: Subscriber does not exist."""

    error_code = "SUBSCRIBER_1002"


class LabelsUnavailable(APIError):
    """``SUBSCRIBER_1029``: Failed to retrieve subscriber label details."""

    error_code = "SUBSCRIBER_1029"


class ServiceUnavailable(APIError):
    """``GLOBAL_1001``: Service unavailable (transient; retried on GET)."""

    error_code = "GLOBAL_1001"


_BY_CODE: dict[str, type[APIError]] = {
    cls.error_code: cls
    for cls in (
        CustomerNotFound,
        CampaignNotFound,
        SubscriberNotFound,
        LabelsUnavailable,
        ServiceUnavailable,
    )
    if cls.error_code is not None
}


def error_for_code(
    code: str, message: str, http_status: int, *, context: RequestContext | None = None
) -> APIError:
    """Build the :class:`APIError` subclass for an ``errorCode`` (``APIError`` if unknown)."""
    cls = _BY_CODE.get(code, APIError)
    return cls(code, message, http_status, context=context)


class HTTPStatusError(FloliveError):
    """A non-2xx response without an error envelope.

    Attributes:
        http_status: the HTTP status code.
        body: the first 200 bytes of the body, or ``None`` for auth responses,
            whose bodies are never kept.
        retry_after: seconds the server asked to wait (``Retry-After``, capped
            by the retry policy), or ``None``.
    """

    def __init__(
        self,
        http_status: int,
        *,
        body: bytes | None = None,
        retry_after: float | None = None,
        context: RequestContext | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(detail or f"HTTP {http_status}", context=context)
        self.http_status = http_status
        self.body = body
        self.retry_after = retry_after


class AuthenticationError(HTTPStatusError):
    """HTTP 401 or 403: missing, expired or refused credentials, or a forbidden action."""


class RateLimited(HTTPStatusError):
    """HTTP 429 after retries ran out; ``retry_after`` says what the server asked."""


class ServerError(HTTPStatusError):
    """HTTP 5xx without an error envelope (after retries, for 500/502/503/504)."""


class RedirectRefused(HTTPStatusError):
    """A redirect the client will not follow, so credentials never leave the
    configured origin: any redirect of the login, and a redirect of a GET to
    another scheme, host or port. Never retried.

    Attributes:
        location_host: the host the ``Location`` header pointed to (``None``
            when it named none); never the full URL, which may carry secrets.
    """

    def __init__(
        self,
        http_status: int,
        location_host: str | None,
        *,
        reason: str,
        context: RequestContext | None = None,
    ) -> None:
        where = location_host or "an unnamed location"
        super().__init__(
            http_status,
            context=context,
            detail=f"HTTP {http_status} redirect to {where} refused: {reason}",
        )
        self.location_host = location_host


def error_for_status(
    http_status: int,
    *,
    body: bytes | None,
    retry_after: float | None = None,
    context: RequestContext | None = None,
) -> HTTPStatusError:
    """Build the :class:`HTTPStatusError` subclass for a non-2xx status without an envelope."""
    if http_status == 407 or (
        http_status == 401
        and context is not None
        and context.proxied
        and "proxy-authenticate" in {k.lower() for k in context.headers or ()}
    ):
        return ProxyError(
            http_status,
            context=context,
            detail=f"HTTP {http_status} from the proxy: it refused the proxy credentials "
            "(or none were given); check the proxy URL's user and password",
        )
    if http_status in (401, 403):
        return AuthenticationError(http_status, context=context)
    cls: type[HTTPStatusError]
    if http_status == 429:
        cls = RateLimited
    elif http_status >= 500:
        cls = ServerError
    else:
        cls = HTTPStatusError
    return cls(http_status, body=body, retry_after=retry_after, context=context)


class TransportError(FloliveError):
    """The request failed below HTTP: connection refused or reset, DNS, an
    incomplete body, or a timeout. Retried on GET."""


class CertificateError(TransportError):
    """The server's TLS certificate did not verify (unknown CA, wrong host name,
    expired). Never retried: it does not heal. Give the client an
    :class:`ssl.SSLContext` that trusts the right CA (or set ``SSL_CERT_FILE``)."""


class ProxyError(HTTPStatusError):
    """The HTTP proxy, not the API, refused the request: HTTP 407 (Proxy
    Authentication Required), or a 401 or other refusal the proxy gave while
    connecting. Check the proxy's URL and credentials (``proxy=`` or
    ``HTTPS_PROXY``); the message never shows them."""


class RequestTimeout(TransportError, TimeoutError):
    """One request took longer than its timeout."""


class DeadlineExceeded(RequestTimeout):
    """A listing ran past its ``listing_timeout`` deadline (while a request was
    sent, or while it waited for a slot, a pause or a backoff). Not retried."""


class ResponseTooLarge(FloliveError):
    """A response body larger than the client's ``max_response_size``.

    Checked against ``Content-Length`` before reading, then on the bytes as
    they arrive, after decompression (so a small gzip bomb is caught too).
    Never retried: the same request would bring the same body.

    Attributes:
        limit: the limit in bytes.
        http_status: the HTTP status of the response.
    """

    def __init__(
        self, limit: int, http_status: int, *, context: RequestContext | None = None
    ) -> None:
        super().__init__(
            f"response body larger than max_response_size={limit:,} bytes", context=context
        )
        self.limit = limit
        self.http_status = http_status


class DecodeError(FloliveError):
    """A complete 2xx body that is not a valid envelope of the expected type.

    Attributes:
        reason: msgspec's message, with its JSON path (``$.content[3].timestamp``).
        http_status: the HTTP status of the response.
        body: the first 200 bytes of the body (``None`` for auth responses).
    """

    def __init__(
        self,
        reason: str,
        *,
        http_status: int | None = None,
        body: bytes | None = None,
        context: RequestContext | None = None,
    ) -> None:
        super().__init__(f"invalid response: {reason}", context=context)
        self.reason = reason
        self.http_status = http_status
        self.body = body


class PageMismatch(FloliveError):
    """The server echoed a different page number than the one asked for.

    Almost always a page-base mismatch: the server numbers pages from 1 while
    the client asked from 0 (or the reverse). Set ``page_base`` to match.
    """

    def __init__(
        self,
        requested: int,
        echoed: int,
        page_base: int,
        *,
        context: RequestContext | None = None,
    ) -> None:
        likely = page_base + echoed - requested
        if likely in (0, 1) and likely != page_base:
            hint = f"the server probably numbers pages from {likely}: set page_base={likely}"
        else:
            hint = f"check page_base (now {page_base}) and that the server honours `page`"
        super().__init__(
            f"asked for page {requested} but the server answered page {echoed}; {hint}",
            context=context,
        )
        self.requested = requested
        self.echoed = echoed


class ListChanged(FloliveError):
    """The list changed while it was read (``totalElements`` or ``totalPages``
    differ between pages); raised only with ``on_list_change="raise"``.

    Attributes:
        before: ``totalElements`` on the first page read.
        after: ``totalElements`` on the page that differed (``page``).
    """

    def __init__(
        self,
        before: int,
        after: int,
        *,
        context: RequestContext | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(
            detail
            or (
                f"list changed while read: totalElements {before} -> {after}; offset paging "
                "may skip or repeat items at page boundaries"
            ),
            context=context,
        )
        self.before = before
        self.after = after


class ListIncomplete(ListChanged):
    """A full pass ended with fewer items than the server's ``totalElements``;
    raised only with ``on_list_change="raise"`` (a :class:`ListChangedWarning`
    otherwise).

    Attributes:
        before: ``totalElements`` as the server last reported it (expected).
        after: items the pass actually read.
        page_base: the pass's page base: a one-based client on a zero-based
            server skips the first page, which looks exactly like this.
    """

    def __init__(
        self, expected: int, received: int, page_base: int, *, context: RequestContext | None = None
    ) -> None:
        super().__init__(
            expected,
            received,
            context=context,
            detail=incomplete_message(expected, received, page_base),
        )
        self.page_base = page_base


def incomplete_message(expected: int, received: int, page_base: int) -> str:
    """The words of :class:`ListIncomplete` (and of its warning)."""
    other = 1 - page_base if page_base in (0, 1) else 0
    return (
        f"the list ended after {received:,} items but the server reported "
        f"totalElements {expected:,}; items may be missing. A likely cause is the "
        f"page base: page_base={page_base} is in use; if the server numbers pages "
        f"from {other}, set page_base={other}"
    )


class CursorExpired(FloliveError):
    """A point-in-time cursor read (:meth:`flolive.Client.all_subscribers`) lost
    its session: it outlived its keep-alive, or the server dropped it. The read
    cannot go on from where it was and must start over with a new call. Never
    retried.

    Raised when a call that continues a session (one sending a ``pitId``)
    fails with an error that is not transient: an error envelope whose code
    has no other known meaning, or HTTP 400, 404 or 410 without one. The
    server's own error is the ``__cause__``.

    Attributes:
        records_read: records handed over by the read before the session was lost.
        total: ``totalRecordAmount`` as last reported, or ``None``.
        chunk: number of the chunk that could not be read.
        keep_alive: the keep-alive in minutes the read asked for.
    """

    def __init__(
        self,
        records_read: int,
        total: int | None,
        chunk: int,
        keep_alive: int,
        *,
        reason: str = "",
        context: RequestContext | None = None,
    ) -> None:
        of = f" of {total:,}" if total is not None else ""
        said = f"; the server said: {reason}" if reason else ""
        super().__init__(
            f"the point-in-time session expired or was lost after {records_read:,}{of} "
            f"records (keep_alive {keep_alive} min): the read cannot go on and must start "
            f"over with a new call (a longer keep_alive, or reading chunks faster, "
            f"avoids this){said}",
            context=context,
        )
        self.records_read = records_read
        self.total = total
        self.chunk = chunk
        self.keep_alive = keep_alive


class CursorIncomplete(ListChanged):
    """A point-in-time cursor read ended (on an empty chunk) with fewer records
    than the server's ``totalRecordAmount``; raised only with
    ``on_list_change="raise"`` (a :class:`ListIncompleteWarning` otherwise).

    Attributes:
        before: ``totalRecordAmount`` as the server last reported it (expected).
        after: records the read actually handed over.
    """

    def __init__(
        self, expected: int, received: int, *, context: RequestContext | None = None
    ) -> None:
        super().__init__(
            expected,
            received,
            context=context,
            detail=cursor_incomplete_message(expected, received),
        )


def cursor_incomplete_message(expected: int, received: int) -> str:
    """The words of :class:`CursorIncomplete` (and of its warning)."""
    return (
        f"the cursor ended after {received:,} records but the server reported "
        f"totalRecordAmount {expected:,}; records may be missing (a chunk retried after "
        "its answer was lost, on a server that had already moved past it, is one cause)"
    )


class ListChangedWarning(UserWarning):
    """Warned (by default) when a list changes while it is read; see :class:`ListChanged`."""


class ListIncompleteWarning(ListChangedWarning):
    """Warned (by default) when a full pass ends with fewer items than
    ``totalElements``; see :class:`ListIncomplete`."""
