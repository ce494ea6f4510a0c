"""Plain values every layer shares: tokens, aliases, the request context and the
"client's default" sentinel. No I/O, no imports of the rest of the SDK.

They are re-exported from :mod:`flolive`; this module is where they live so
that errors, models, the listing core and the client can all use them without
importing one another.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from .models import Page

__all__ = [
    "USE_CLIENT_DEFAULT",
    "CursorToken",
    "Headers",
    "OnListChange",
    "OnPage",
    "RequestContext",
    "Response",
    "ResumeToken",
    "UseClientDefault",
    "request_id_of",
    "safe_headers",
]


class UseClientDefault(enum.Enum):
    """The type of :data:`USE_CLIENT_DEFAULT`."""

    USE_CLIENT_DEFAULT = enum.auto()

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT = UseClientDefault.USE_CLIENT_DEFAULT
"""Passed for a per-call setting (``timeout``, ``retry``, ``max_response_size``)
it means "the client's setting", which ``None`` cannot mean where ``None`` is a
value of its own (``timeout=None``: no timeout)."""

OnListChange = Literal["warn", "raise", "ignore"]
"""What a listing does when ``totalElements`` changes while a list is read, or
a full pass ends short of it."""

OnPage = Callable[[Page[Any]], object]
"""Called with each page (:class:`~flolive.Page`) as it is handed over, in page
order (for progress)."""


class ResumeToken(msgspec.Struct, frozen=True, kw_only=True):
    """Where a failed pass can go on: attached to every error raised while
    listing as ``err.resume``. Small, picklable, and JSON-encodable with
    msgspec; pass it back as ``resume=`` to a listing of the same path.

    Attributes:
        path: the URL path that was listed.
        page: the API page to start at (the one that failed).
        page_size: the page size the server actually used, so a resume after a
            server-capped size starts on the right item.
        page_base: the page base of the pass.
    """

    path: str
    page: int
    page_size: int
    page_base: int


class CursorToken(msgspec.Struct, frozen=True, kw_only=True):
    """Where a cursor read can go on while its session lives: ``position`` of
    a read's iterator after each chunk. Small, picklable, JSON-encodable with
    msgspec; pass it back as ``resume=`` to a read of the same path. A token
    whose session expired makes the read raise :class:`~flolive.CursorExpired`
    at once.

    Attributes:
        path: the URL path of the read.
        pit_id: the ``pitId`` to send for the next chunk.
        chunk: the number of the next chunk.
        records_read: records handed over before the next chunk.
        total: ``totalRecordAmount`` as last reported, or ``None``.
        skip: records of the next chunk already handed over (a read stopped
            by ``max_items`` inside a chunk asks for that chunk again).
    """

    path: str
    pit_id: str
    chunk: int
    records_read: int
    total: int | None = None
    skip: int = 0


_BODY_EXCERPT = 200


class Headers(Mapping[str, str]):
    """Response headers: read-only, looked up in any case, picklable (errors
    carry them across process pools). A header sent more than once has its
    values joined with ``", "``."""

    __slots__ = ("_index", "_names")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        names: dict[str, str] = {}
        index: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            if key in index:
                index[key] = f"{index[key]}, {value}"
            else:
                names[key], index[key] = name, value
        self._names = names
        self._index = index

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Headers, (tuple(self.items()),))


#: Response headers that carry or set credentials: never kept on an error.
_SECRET_HEADERS = frozenset(
    {
        "set-cookie",
        "set-cookie2",
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "x-auth-token",
    }
)
_REQUEST_ID_HEADERS = ("Request-Id", "X-Request-Id", "X-Correlation-Id")


def safe_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only copy of response ``headers`` without those that carry or
    set credentials (``Set-Cookie``, ``Authorization``, ...)."""
    return Headers((k, v) for k, v in headers.items() if k.lower() not in _SECRET_HEADERS)


def request_id_of(headers: Mapping[str, str] | None) -> str | None:
    """The server's request id in ``headers``: ``Request-Id``, else
    ``X-Request-Id``, else ``X-Correlation-Id`` (any case); ``None`` without one."""
    if not headers:
        return None
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Where an error happened: one object handed to every error, instead of
    the same keywords repeated in every constructor and every ``raise``.

    Attributes:
        method: HTTP method, e.g. ``"GET"``.
        path: URL path (no query string, no host, never a credential).
        page: API page number while listing, else ``None``.
        sensitive: the request carried credentials in its body (a login): its
            response body is never copied into an error.
        idempotent: sending the request again is safe although it is not a
            GET (a cursor read with the same ``pitId``), so the retry policy
            may retry it.
        resume: for a page of a listing, the :class:`ResumeToken` that starts
            a new pass at this page (``err.resume``), else ``None``.
        headers: the response's headers, credential-bearing ones removed
            (``err.headers``), once a response arrived; else ``None``.
        proxied: the request went through an HTTP proxy, so a 407 (or a
            proxy's 401) is the proxy's answer, not the API's.
    """

    method: str
    path: str
    page: int | None = None
    sensitive: bool = False
    idempotent: bool = False
    resume: ResumeToken | None = None
    headers: Mapping[str, str] | None = None
    proxied: bool = False

    def excerpt(self, body: bytes) -> bytes | None:
        """The first 200 bytes of ``body`` to keep on an error (``None`` if sensitive)."""
        return None if self.sensitive else body[:_BODY_EXCERPT]


@dataclass(frozen=True, slots=True)
class Response:
    """A 2xx answer to :meth:`flolive.Client.request`.

    Attributes:
        status: the HTTP status.
        headers: the response's headers (read-only; ``Set-Cookie`` and any
            credential-bearing header removed).
        content: the body as bytes, at most the client's ``max_response_size``.
        request_id: the server's id of the request (``Request-Id``, else
            ``X-Request-Id``, else ``X-Correlation-Id``), or ``None``.
    """

    status: int
    headers: Mapping[str, str]
    content: bytes
    request_id: str | None = None

    def json(self) -> Any:
        """The body decoded as JSON (:class:`msgspec.DecodeError` if it is not JSON)."""
        return msgspec.json.decode(self.content)
