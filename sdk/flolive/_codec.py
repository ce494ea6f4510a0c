"""Decoding of response bodies: one place that turns bytes into pages or errors.

One :class:`msgspec.json.Decoder` per envelope type is built once and reused;
bodies are decoded straight from bytes.

Typed errors are built *outside* the ``except`` blocks that caught the decoder's
error, so they carry no ``__context__``: a ``UnicodeDecodeError`` holds the
whole body in its ``object`` attribute, and a login body holds a token.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from ._types import RequestContext, Response, request_id_of
from .errors import DecodeError, FloliveError, error_for_code, error_for_status
from .models import CursorEnvelope, Envelope, ErrorEnvelope, Page, Pageable

T = TypeVar("T")

_error_decoder = msgspec.json.Decoder(ErrorEnvelope)

# What a decoder raises on a body it cannot read: its own error, RecursionError
# on deep nesting, UnicodeDecodeError on invalid UTF-8 inside a string.
_DECODE_FAILURES = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 in a string at byte {exc.start}"
    return str(exc)


_WITHHELD = "(message withheld: a login's answer may echo the credentials)"


def _api_error(code: str, message: str, http_status: int, ctx: RequestContext) -> FloliveError:
    """The :class:`~flolive.APIError` for an envelope; a login's own message
    is not kept, since a server may echo the password in it."""
    return error_for_code(code, _WITHHELD if ctx.sensitive else message, http_status, context=ctx)


def _envelope_error(body: bytes, http_status: int, ctx: RequestContext) -> FloliveError | None:
    """The :class:`APIError` an error envelope asks for, or ``None`` if the
    body is not an envelope with an ``errorCode``."""
    try:
        err = _error_decoder.decode(body)
    except _DECODE_FAILURES:
        return None
    if not err.error_code:
        return None
    return _api_error(err.error_code, err.error_message, http_status, ctx)


def error_from_response(
    http_status: int, body: bytes, retry_after: float | None, ctx: RequestContext
) -> FloliveError:
    """The typed error for a non-2xx response: the envelope's code if there is
    one, else the HTTP status."""
    return _envelope_error(body, http_status, ctx) or error_for_status(
        http_status, body=ctx.excerpt(body), retry_after=retry_after, context=ctx
    )


E = TypeVar("E", Envelope[Any], CursorEnvelope[Any])


def _decode(
    decoder: msgspec.json.Decoder[E], body: bytes, http_status: int, ctx: RequestContext
) -> E:
    """``body`` decoded, or the typed error it stands for: an error envelope's
    code, else a :class:`DecodeError` with msgspec's reason."""
    reason = None
    try:
        env = decoder.decode(body)
    except _DECODE_FAILURES as exc:
        reason = _reason(exc)
    if reason is not None:
        # An error envelope whose other fields do not fit the item type is
        # still an error envelope: the code decides.
        raise _envelope_error(body, http_status, ctx) or _invalid(reason, body, http_status, ctx)
    if env.error_code:
        raise _api_error(env.error_code, env.error_message, http_status, ctx)
    return env


def _invalid(reason: str, body: bytes, http_status: int, ctx: RequestContext) -> DecodeError:
    return DecodeError(reason, http_status=http_status, body=ctx.excerpt(body), context=ctx)


def _content(content: object, body: bytes, http_status: int, ctx: RequestContext) -> list[Any]:
    if not isinstance(content, list):
        raise _invalid("`content` is not a list - at `$.content`", body, http_status, ctx)
    return content


class EnvelopeCodec(Generic[T]):
    """Decodes 2xx bodies into the items and paging of ``Envelope[item_type]``.

    Get one with :func:`codec_for`, which caches one per item type.
    """

    __slots__ = ("_decoder",)

    def __init__(self, item_type: type[T]) -> None:
        self._decoder: msgspec.json.Decoder[Envelope[T]] = msgspec.json.Decoder(
            Envelope[item_type]  # type: ignore[valid-type]
        )

    def items(self, body: bytes, http_status: int, ctx: RequestContext) -> list[T]:
        """The ``content`` list of a success envelope; raises the typed error otherwise."""
        return _content(
            _decode(self._decoder, body, http_status, ctx).content, body, http_status, ctx
        )

    def page(self, body: bytes, http_status: int, ctx: RequestContext) -> Page[T]:
        """A :class:`~flolive.models.Page` from a success envelope with paging."""
        env = _decode(self._decoder, body, http_status, ctx)
        content = _content(env.content, body, http_status, ctx)
        pageable = env.pageable
        if not isinstance(pageable, Pageable):
            raise _invalid("`pageable` is not an object - at `$.pageable`", body, http_status, ctx)
        return Page(
            items=content,
            number=pageable.page,
            size=pageable.size,
            total_pages=pageable.total_pages,
            total_elements=pageable.total_elements,
            request_id=request_id_of(ctx.headers),
        )


_codecs: dict[Any, EnvelopeCodec[Any]] = {}
_cursor_codecs: dict[Any, CursorCodec[Any]] = {}


def codec_for(item_type: type[T]) -> EnvelopeCodec[T]:
    """The shared codec (and so the shared decoder) for ``Envelope[item_type]``."""
    codec = _codecs.get(item_type)
    if codec is None:
        codec = _codecs[item_type] = EnvelopeCodec(item_type)
    return codec


class CursorCodec(Generic[T]):
    """Decodes the answers of a point-in-time cursor (``CursorEnvelope[item_type]``).

    Get one with :func:`cursor_codec_for`, which caches one per item type.
    """

    __slots__ = ("_decoder",)

    def __init__(self, item_type: type[T]) -> None:
        self._decoder: msgspec.json.Decoder[CursorEnvelope[T]] = msgspec.json.Decoder(
            CursorEnvelope[item_type]  # type: ignore[valid-type]
        )

    def chunk(
        self, body: bytes, http_status: int, ctx: RequestContext
    ) -> tuple[CursorEnvelope[T], str | None]:
        """A success answer whose ``content`` is a list, and the answer's
        request id; raises the typed error otherwise."""
        env = _decode(self._decoder, body, http_status, ctx)
        _content(env.content, body, http_status, ctx)
        return env, request_id_of(ctx.headers)


def cursor_codec_for(item_type: type[T]) -> CursorCodec[T]:
    """The shared codec for ``CursorEnvelope[item_type]``."""
    codec = _cursor_codecs.get(item_type)
    if codec is None:
        codec = _cursor_codecs[item_type] = CursorCodec(item_type)
    return codec


def raw_response(body: bytes, http_status: int, ctx: RequestContext) -> Response:
    """A 2xx answer as it came, for :meth:`flolive.Client.request`."""
    headers = ctx.headers if ctx.headers is not None else {}
    return Response(http_status, headers, body, request_id_of(headers))
