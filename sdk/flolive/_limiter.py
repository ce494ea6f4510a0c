"""The client-wide concurrency limiter: FIFO, and optionally adaptive (AIMD).

Adaptive mode treats throttling answers (429, GLOBAL_1001, 500, 503) as a
sign the server wants fewer requests at once: it halves the limit, and grows it
back by one for every ``limit`` successes (additive increase), never above the
configured ``max_concurrency``. A burst of throttled answers caused by one
overload cuts only once: a request only cuts the limit if it was admitted under
the limit in force now (an "epoch" check, so no timers are involved).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

from . import _logging as L

__all__ = ["Limiter"]


class Limiter:
    """A FIFO semaphore whose limit can move between 1 and ``ceiling``."""

    def __init__(self, limit: int, *, adaptive: bool = False) -> None:
        self.ceiling = limit
        self.limit = limit
        self.adaptive = adaptive
        self.in_use = 0
        #: Bumped at every cut; requests remember the epoch they were admitted in.
        self.epoch = 0
        self._credit = 0.0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self) -> int:
        """Take a slot (waiting in FIFO order); returns the admission epoch."""
        if self.in_use < self.limit and not self._waiters:
            self.in_use += 1
            return self.epoch
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # granted as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
            raise
        return self.epoch

    def release(self) -> None:
        self.in_use -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_use < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_use += 1
                fut.set_result(None)

    def throttled(self, epoch: int) -> None:
        """The server pushed back on a request admitted in ``epoch``."""
        if not self.adaptive or epoch != self.epoch:
            return
        self.epoch += 1
        old, self.limit = self.limit, max(1, self.limit // 2)
        self._credit = 0.0
        L.log_rate_change("concurrency", old, self.limit, "the server pushed back")

    def succeeded(self) -> None:
        if not self.adaptive or self.limit >= self.ceiling:
            return
        self._credit += 1.0 / self.limit
        if self._credit >= 1.0:
            self._credit -= 1.0
            self.limit += 1
            L.log_rate_change("concurrency", self.limit - 1, self.limit, "no push-back")
            self._wake()
