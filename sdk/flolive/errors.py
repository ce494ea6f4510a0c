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

__all__ = [
    "APIError",
    "AuthenticationError",
    "CampaignNotFound",
    "ClientNotOpenError",
    "CustomerNotFound",
    "DecodeError",
    "DeadlineExceeded",
    "FloliveError",
    "HTTPStatusError",
    "LabelsUnavailable",
    "ListChanged",
    "ListChangedWarning",
    "PageMismatch",
    "RateLimited",
    "RequestTimeout",
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
        method: HTTP method of the failed request, or ``None``.
        path: URL path of the failed request (no query string, no host), or ``None``.
        page: API page number the error happened on while listing, else ``None``.
    """

    def __init__(
        self,
        detail: str,
        *,
        method: str | None = None,
        path: str | None = None,
        page: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.method = method
        self.path = path
        self.page = page

    def __str__(self) -> str:
        where = []
        if self.method and self.path:
            where.append(f"{self.method} {self.path}")
        if self.page is not None:
            where.append(f"page {self.page}")
        return f"{self.detail} ({', '.join(where)})" if where else self.detail

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
        self,
        code: str,
        message: str,
        http_status: int,
        method: str | None = None,
        path: str | None = None,
        page: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}", method=method, path=path, page=page)
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
    code: str,
    message: str,
    http_status: int,
    *,
    method: str | None = None,
    path: str | None = None,
    page: int | None = None,
) -> APIError:
    """Build the :class:`APIError` subclass for an ``errorCode`` (``APIError`` if unknown)."""
    cls = _BY_CODE.get(code, APIError)
    return cls(code, message, http_status, method=method, path=path, page=page)


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
        method: str | None = None,
        path: str | None = None,
        page: int | None = None,
    ) -> None:
        super().__init__(f"HTTP {http_status}", method=method, path=path, page=page)
        self.http_status = http_status
        self.body = body
        self.retry_after = retry_after


class AuthenticationError(HTTPStatusError):
    """HTTP 401 or 403: missing, expired or refused credentials, or a forbidden action."""


class RateLimited(HTTPStatusError):
    """HTTP 429 after retries ran out; ``retry_after`` says what the server asked."""


class ServerError(HTTPStatusError):
    """HTTP 5xx without an error envelope (after retries, for 500/502/503/504)."""


def error_for_status(
    http_status: int,
    *,
    body: bytes | None,
    retry_after: float | None = None,
    method: str | None = None,
    path: str | None = None,
    page: int | None = None,
) -> HTTPStatusError:
    """Build the :class:`HTTPStatusError` subclass for a non-2xx status without an envelope."""
    if http_status in (401, 403):
        return AuthenticationError(http_status, method=method, path=path, page=page)
    cls: type[HTTPStatusError]
    if http_status == 429:
        cls = RateLimited
    elif http_status >= 500:
        cls = ServerError
    else:
        cls = HTTPStatusError
    return cls(http_status, body=body, retry_after=retry_after, method=method, path=path, page=page)


class TransportError(FloliveError):
    """The request failed below HTTP: connection refused or reset, DNS, an
    incomplete body, or a timeout. Retried on GET."""


class RequestTimeout(TransportError, TimeoutError):
    """One request took longer than its timeout."""


class DeadlineExceeded(RequestTimeout):
    """A listing ran past its ``listing_timeout`` deadline. Not retried."""


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
        method: str | None = None,
        path: str | None = None,
        page: int | None = None,
    ) -> None:
        super().__init__(f"invalid response: {reason}", method=method, path=path, page=page)
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
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        likely = page_base + echoed - requested
        if likely in (0, 1) and likely != page_base:
            hint = f"the server probably numbers pages from {likely}: set page_base={likely}"
        else:
            hint = f"check page_base (now {page_base}) and that the server honours `page`"
        super().__init__(
            f"asked for page {requested} but the server answered page {echoed}; {hint}",
            method=method,
            path=path,
            page=requested,
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
        method: str | None = None,
        path: str | None = None,
        page: int | None = None,
    ) -> None:
        super().__init__(
            f"list changed while read: totalElements {before} -> {after}; offset paging "
            "may skip or repeat items at page boundaries",
            method=method,
            path=path,
            page=page,
        )
        self.before = before
        self.after = after


class ListChangedWarning(UserWarning):
    """Warned (by default) when a list changes while it is read; see :class:`ListChanged`."""
