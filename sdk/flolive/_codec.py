"""Decoding of response bodies: one place that turns bytes into pages or errors.

One :class:`msgspec.json.Decoder` per envelope type is built once and reused;
bodies are decoded straight from bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from .errors import DecodeError, FloliveError, error_for_code, error_for_status
from .models import Envelope, ErrorEnvelope, Page, Pageable

T = TypeVar("T")

_BODY_EXCERPT = 200
_error_decoder = msgspec.json.Decoder(ErrorEnvelope)


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What an error needs to say where it happened. ``sensitive`` bodies
    (auth responses) are never copied into an error."""

    method: str
    path: str
    page: int | None = None
    sensitive: bool = False

    def excerpt(self, body: bytes) -> bytes | None:
        return None if self.sensitive else body[:_BODY_EXCERPT]


def _envelope_error(body: bytes, http_status: int, info: RequestInfo) -> FloliveError | None:
    """The :class:`APIError` an error envelope asks for, or ``None`` if the
    body is not an envelope with an ``errorCode``."""
    try:
        err = _error_decoder.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    if not err.error_code:
        return None
    return error_for_code(
        err.error_code,
        err.error_message,
        http_status,
        method=info.method,
        path=info.path,
        page=info.page,
    )


def error_from_response(
    http_status: int, body: bytes, retry_after: float | None, info: RequestInfo
) -> FloliveError:
    """The typed error for a non-2xx response: the envelope's code if there is
    one, else the HTTP status."""
    return _envelope_error(body, http_status, info) or error_for_status(
        http_status,
        body=info.excerpt(body),
        retry_after=retry_after,
        method=info.method,
        path=info.path,
        page=info.page,
    )


class EnvelopeCodec(Generic[T]):
    """Decodes 2xx bodies into the items and paging of ``Envelope[item_type]``.

    Get one with :func:`codec_for`, which caches one per item type.
    """

    __slots__ = ("_decoder", "item_type")

    def __init__(self, item_type: type[T]) -> None:
        self.item_type = item_type
        self._decoder: msgspec.json.Decoder[Envelope[T]] = msgspec.json.Decoder(
            Envelope[item_type]  # type: ignore[valid-type]
        )

    def _decode(self, body: bytes, http_status: int, info: RequestInfo) -> Envelope[T]:
        try:
            env = self._decoder.decode(body)
        except (msgspec.DecodeError, RecursionError) as exc:
            # An error envelope whose other fields do not fit the item type is
            # still an error envelope: the code decides.
            api_error = _envelope_error(body, http_status, info)
            if api_error is not None:
                raise api_error from None
            reason = "JSON nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise DecodeError(
                reason,
                http_status=http_status,
                body=info.excerpt(body),
                method=info.method,
                path=info.path,
                page=info.page,
            ) from None
        if env.error_code:
            raise error_for_code(
                env.error_code,
                env.error_message,
                http_status,
                method=info.method,
                path=info.path,
                page=info.page,
            )
        return env

    def _invalid(
        self, reason: str, body: bytes, http_status: int, info: RequestInfo
    ) -> DecodeError:
        return DecodeError(
            reason,
            http_status=http_status,
            body=info.excerpt(body),
            method=info.method,
            path=info.path,
            page=info.page,
        )

    def items(self, body: bytes, http_status: int, info: RequestInfo) -> list[T]:
        """The ``content`` list of a success envelope; raises the typed error otherwise."""
        content = self._decode(body, http_status, info).content
        if not isinstance(content, list):
            raise self._invalid("`content` is not a list - at `$.content`", body, http_status, info)
        return content

    def page(self, body: bytes, http_status: int, info: RequestInfo) -> Page[T]:
        """A :class:`~flolive.models.Page` from a success envelope with paging."""
        env = self._decode(body, http_status, info)
        content, pageable = env.content, env.pageable
        if not isinstance(content, list):
            raise self._invalid("`content` is not a list - at `$.content`", body, http_status, info)
        if not isinstance(pageable, Pageable):
            raise self._invalid(
                "`pageable` is not an object - at `$.pageable`", body, http_status, info
            )
        return Page(
            items=content,
            number=pageable.page,
            size=pageable.size,
            total_pages=pageable.total_pages,
            total_elements=pageable.total_elements,
        )


_codecs: dict[Any, EnvelopeCodec[Any]] = {}


def codec_for(item_type: type[T]) -> EnvelopeCodec[T]:
    """The shared codec (and so the shared decoder) for ``Envelope[item_type]``."""
    codec = _codecs.get(item_type)
    if codec is None:
        codec = _codecs[item_type] = EnvelopeCodec(item_type)
    return codec
