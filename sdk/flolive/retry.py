"""Retry policy: which failures are retried, and how long to wait between tries.

Only idempotent GETs are retried. A retry happens on the ``GLOBAL_1001`` error
envelope, on HTTP 429, 500, 502, 503 and 504 without an envelope, and on
transport errors (reset, truncated body, timeout). Nothing else is retried:
not other 4xx statuses and not other error codes, which would fail again.

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
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["RetryPolicy"]


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

    Example::

        Client(retry=RetryPolicy(max_retries=6, base_delay=0.2))
        client.campaign_participants(1, 2, retry=RetryPolicy.disabled())
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

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must be >= 0")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_retries=0)

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * math.ldexp(1.0, retry_number - 1))
        return (rng or random).uniform(0.0, ceiling)

    def retry_after(self, headers: Mapping[str, str]) -> float | None:
        """The server's requested wait in seconds, capped, or ``None`` if it asked none.

        Reads ``Retry-After`` as seconds or an HTTP date, and ``retry-after-ms``.
        """
        raw_ms = headers.get("retry-after-ms")
        seconds: float | None = None
        if raw_ms is not None:
            try:
                seconds = float(raw_ms) / 1000.0
            except ValueError:
                seconds = None
        raw = headers.get("Retry-After")
        if seconds is None and raw is not None:
            try:
                seconds = float(raw)
            except ValueError:
                try:
                    when = email.utils.parsedate_to_datetime(raw)
                except (TypeError, ValueError, IndexError):
                    return None
                seconds = when.timestamp() - time.time()
        if seconds is None or not math.isfinite(seconds):
            return None
        return min(max(seconds, 0.0), self.max_retry_after)
