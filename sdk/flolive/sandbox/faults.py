"""The sandbox's faults and its gateway rate limit, apart from its server so
that reading them (``flolive sandbox --help`` is built from them) does not load
``aiohttp.web``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["FAULT_DESCRIPTIONS", "FAULT_KINDS", "Faults", "LeakyBucket"]


def _rate(serves: str) -> Any:
    """A fault kind's rate field; ``serves`` says what a request drawn for it gets."""
    return field(default=0.0, metadata={"serves": serves})


@dataclass(frozen=True)
class Faults:
    """Per-request fault rates (each in [0, 1]) of list GETs, one per kind of
    :data:`FAULT_DESCRIPTIONS`, and the ``Retry-After`` sent with 429s.

    Whether a request fails, and how, is decided by (seed, path, page, attempt),
    so a run is reproducible whatever order requests arrive in.
    """

    global_1001: float = _rate("GLOBAL_1001 error envelopes (HTTP 503)")
    rate_limited: float = _rate("HTTP 429 with Retry-After")
    server_error: float = _rate("bare HTTP 500")
    unavailable: float = _rate("bare HTTP 503")
    drop: float = _rate("connections closed before any response")
    truncate: float = _rate("bodies cut short of their Content-Length")
    #: The ``Retry-After`` seconds sent with 429s.
    retry_after: float = 1.0

    def __post_init__(self) -> None:
        rates = [getattr(self, k) for k in FAULT_KINDS]
        if any(r < 0 for r in rates) or sum(rates) > 1:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")

    def pick(self, draw: float) -> str | None:
        edge = 0.0
        for kind in FAULT_KINDS:
            edge += getattr(self, kind)
            if draw < edge:
                return kind
        return None


#: The fault kinds of :class:`Faults`, in draw order, with what each one serves.
FAULT_DESCRIPTIONS: dict[str, str] = {
    f.name: f.metadata["serves"] for f in fields(Faults) if "serves" in f.metadata
}
#: The fault kinds alone, in draw order.
FAULT_KINDS = tuple(FAULT_DESCRIPTIONS)


class LeakyBucket:
    """A gateway's rate limit as nginx's ``limit_req rate=R burst=B nodelay``
    counts it: ``burst + 1`` requests pass at once, then one every
    ``1/rate`` seconds; the rest are refused (nginx answers them 429 with no
    ``Retry-After`` under ``limit_req_status 429``).

    Args:
        rate: requests per second (> 0).
        burst: requests above the rate that may pass at once (>= 0).
    """

    def __init__(self, rate: float, burst: int) -> None:
        if not rate > 0 or isinstance(burst, bool) or not isinstance(burst, int) or burst < 0:
            raise ValueError(f"rate_limit must be (rate > 0, burst >= 0), got {(rate, burst)!r}")
        self.rate, self.burst = float(rate), burst
        # nginx's `excess`: requests waiting in the bucket, drained at `rate`.
        self._excess = 0.0
        self._last: float | None = None

    def admit(self, now: float) -> bool:
        """Whether a request arriving at ``now`` (seconds) passes."""
        if self._last is None:
            self._last = now
            return True
        # nginx: excess = max(0, excess - rate * elapsed + 1), refused above burst.
        excess = max(0.0, self._excess - self.rate * (now - self._last) + 1.0)
        if excess > self.burst + 1e-9:
            return False
        self._excess, self._last = excess, now
        return True
