"""Retry policy: which failures are retried, and how long to wait between tries.

Decisions are data: :meth:`RetryPolicy.decide` takes the error and the number
of the attempt that failed and returns the seconds to wait, or ``None`` to give
up. The transport only carries that decision out, so the policy is tested as
a table, with no HTTP.

Only idempotent requests are retried: GETs, and the reads a caller marks as
idempotent (a point-in-time cursor call with the same ``pitId``). A retry
happens on the ``GLOBAL_1001`` error envelope, on HTTP 429, 500, 502, 503 and
504 without an envelope, and on transport errors (reset, truncated body,
timeout). Nothing else is retried: not other 4xx statuses, not other error
codes, not an oversized body, not a refused redirect and not a passed
deadline, which would all fail again.

The wait is exponential backoff with full jitter (AWS's "full jitter":
``uniform(0, min(max_delay, base_delay * 2**n))``), unless the server sent
``Retry-After``, which wins, capped at ``max_retry_after``. The waiting request
gives its concurrency slot back while it sleeps.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .errors import (
    APIError,
    CertificateError,
    DeadlineExceeded,
    FloliveError,
    HTTPStatusError,
    TransportError,
)

__all__ = ["OnRetry", "RetryPolicy", "is_pushback"]

OnRetry = Callable[[FloliveError, int, float], object]
"""``on_retry(error, attempt, delay)``: a request is about to retry."""

#: HTTP statuses that mean "fewer requests at once": 429, 503, and 500 too (the
#: vendor's servers answer 500 when called too fast).
PUSHBACK_STATUSES = frozenset({429, 500, 503})
PUSHBACK_CODES = frozenset({"GLOBAL_1001"})


def is_pushback(error: FloliveError) -> bool:
    """Whether ``error`` is the server pushing back (too many requests at once).

    The one definition shared by ``client.stats.throttles`` and the adaptive
    limiter: ``GLOBAL_1001`` envelopes and HTTP 429, 500 and 503 without one.
    """
    if isinstance(error, APIError):
        return error.code in PUSHBACK_CODES
    return isinstance(error, HTTPStatusError) and error.http_status in PUSHBACK_STATUSES


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a client retries failed GET requests.

    Args:
        max_retries: retries after the first attempt (default 3, so 4 attempts).
            ``0`` disables retries.
        base_delay: backoff base in seconds (default 0.5).
        max_delay: cap of one backoff wait in seconds (default 8).
        max_retry_after: cap of a server's ``Retry-After`` in seconds (default 60).
        retry_statuses: HTTP statuses retried when the body is not an error
            envelope (default 429, 500, 502, 503, 504).
        retry_codes: envelope ``errorCode`` values retried (default ``GLOBAL_1001``).
        retry_transport_errors: retry resets, truncated bodies and timeouts
            (default ``True``).
        on_retry: called as ``on_retry(error, attempt, delay)`` each time a
            request is about to wait ``delay`` seconds and go again after its
            attempt number ``attempt`` failed with ``error`` (default ``None``).
            For metrics and logs; it runs on the event loop, so keep it quick.

    Example::

        Client(retry=RetryPolicy(max_retries=6, base_delay=0.2))
        client.campaign_participants(1, 2, retry=RetryPolicy.disabled())
        RetryPolicy(on_retry=lambda err, attempt, delay: retries.inc())
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = field(
        default_factory=lambda: frozenset({429, 500, 502, 503, 504})
    )
    retry_codes: frozenset[str] = field(default_factory=lambda: frozenset({"GLOBAL_1001"}))
    retry_transport_errors: bool = True
    on_retry: OnRetry | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError("max_retries must be an int")
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        for name in ("base_delay", "max_delay", "max_retry_after"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_retries=0)

    def is_retryable(self, error: FloliveError) -> bool:
        """Whether ``error`` is worth another attempt of the same request
        (whatever the attempt count; for GETs, and requests marked idempotent
        such as a cursor read with the same ``pitId``)."""
        ctx = error.context
        if ctx is None or isinstance(error, DeadlineExceeded):
            return False
        if ctx.method not in ("GET", "HEAD") and not ctx.idempotent:
            return False
        if isinstance(error, APIError):
            return error.code in self.retry_codes
        if isinstance(error, HTTPStatusError):
            return error.http_status in self.retry_statuses
        if isinstance(error, CertificateError):
            return False  # a certificate that fails to verify does not heal
        if isinstance(error, TransportError):
            return self.retry_transport_errors
        return False

    def decide(self, error: FloliveError, attempt: int) -> float | None:
        """Seconds to wait before trying again after attempt ``attempt``
        (1 for the first attempt) failed with ``error``, or ``None`` to give up.

        The server's ``Retry-After`` (already capped, on ``error.retry_after``)
        wins over backoff.
        """
        if attempt > self.max_retries or not self.is_retryable(error):
            return None
        server_wait = error.retry_after if isinstance(error, HTTPStatusError) else None
        return server_wait if server_wait is not None else self.backoff(attempt)

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
        exponent = min(max(retry_number - 1, 0), 1000)  # 2**1000 is finite; more is not
        ceiling = min(self.max_delay, self.base_delay * math.ldexp(1.0, exponent))
        return (rng or random).uniform(0.0, ceiling)

    def retry_after(self, headers: Mapping[str, str]) -> float | None:
        """The server's requested wait in seconds, capped, or ``None`` if it
        asked none (or asked in a form that cannot be read).

        Reads ``retry-after-ms`` and ``Retry-After`` as seconds or an HTTP date.
        A wait of 0, below zero or in the past is no hint (as openai-python and
        dlt read it): backoff applies, so the retries are not sent all at
        once. NaN, infinities and garbage are ignored too; anything above
        ``max_retry_after`` is capped.
        """
        seconds = _seconds(headers.get("retry-after-ms"), scale=1000.0)
        if seconds is None:
            seconds = _seconds(headers.get("Retry-After"), scale=1.0)
        if seconds is None or seconds <= 0.0:
            return None
        return min(seconds, self.max_retry_after)


def _seconds(raw: str | None, *, scale: float) -> float | None:
    """A header's wait in seconds, or ``None``. Never raises."""
    if raw is None:
        return None
    raw = raw.strip()
    try:
        value = float(raw) / scale
    except (ValueError, OverflowError):
        if scale != 1.0:
            return None
        # An HTTP date. Huge years overflow, garbage raises all kinds of things.
        try:
            when = email.utils.parsedate_to_datetime(raw)
            value = when.timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError, OSError):
            return None
    return value if math.isfinite(value) else None
