"""The sandbox's fault kinds, apart from its server so that reading them
(``flolive sandbox --help`` is built from them) does not load ``aiohttp.web``."""

from __future__ import annotations

__all__ = ["FAULT_DESCRIPTIONS", "FAULT_KINDS"]

#: The fault kinds of :class:`~flolive.sandbox.Faults`, in draw order, with
#: what each one serves.
FAULT_DESCRIPTIONS = {
    "global_1001": "GLOBAL_1001 error envelopes (HTTP 503)",
    "rate_limited": "HTTP 429 with Retry-After",
    "server_error": "bare HTTP 500",
    "unavailable": "bare HTTP 503",
    "drop": "connections closed before any response",
    "truncate": "bodies cut short of their Content-Length",
}
#: The fault kinds alone, in draw order.
FAULT_KINDS = tuple(FAULT_DESCRIPTIONS)
