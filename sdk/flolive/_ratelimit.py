"""The client-wide send-rate limiter: decisions over a clock, no I/O.

Gateways (nginx ``limit_req``, Envoy, Kong, AWS API Gateway) answer a client
that sends too fast with 429 and no ``Retry-After``, so backoff alone never
finds their rate. This limiter shapes the send rate instead, as botocore's
adaptive retry mode does (``botocore/retries/adaptive.py``, ``bucket.py``,
``throttling.py``: a token bucket whose fill rate follows a CUBIC curve, cut on
each throttle), and goes further:

* **Unlimited until the first push-back.** No rate is in force and
  :meth:`RateController.reserve` returns at once, so a server that never
  pushes back costs nothing.
* **It measures what the gateway accepts.** While a client sends faster than a
  rate limit, the gateway passes answers at exactly its rate, whatever the
  client sends. A cut sets the rate just under the passes per second of the
  round it ends (``margin`` of them) rather than at a blind fraction of the
  send rate; only a round with too few passes to count is cut blindly (by
  ``beta``).
* **Once per round trip.** A round is the requests sent after a cut; only a
  push-back of a request of the current round cuts, so the 429s of one burst
  cut once.
* **It probes.** After a cut the rate climbs a CUBIC curve, measured in
  requests rather than seconds so that probes cost the same share of 429s at
  any rate: concave up to the rate measured (after ``probe`` requests), then
  convex past it, until the gateway pushes back again.
* **Push-back that is not about the rate is not learnt.** A cut to just under
  the measured rate ends push-back caused by the rate. When the next round
  is pushed back as often, and passes fewer answers per second, the push-back
  is the server's own (random 503s, an outage): the rate goes back to where it
  was before the cuts, and push-back is not learnt from for ``cooldown``
  seconds. Backoff (the :class:`~flolive.RetryPolicy`) handles that kind.

:class:`RateController` is pure: every method takes the time from its caller
(the event loop's clock in the transport, a fake one in tests).
:class:`RateLimit` carries its decisions out with an injected sleep.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Awaitable, Callable

__all__ = ["MIN_RATE", "RateController", "RateLimit", "check_max_rate"]

#: Requests per second never cut below.
MIN_RATE = 0.5


def check_max_rate(name: str, value: object) -> float | str | None:
    """``"auto"``, ``None`` or a finite number of requests per second > 0."""
    if value is None or value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(
            f"{name} must be 'auto', None or a finite number of requests/s > 0; got {value!r}"
        )
    return float(value)


class RateController:
    """The send-rate decisions of one client.

    Args:
        ceiling: a known quota in requests per second: in force from the
            start, learnt below, never exceeded (``None``: unlimited until the
            first push-back).
        margin: the share of the measured accepted rate a cut sends at.
        beta: the multiplicative cut of a round with too few passes to measure.
        probe: requests after a cut until the rate is back at the measured
            rate; the probe past it follows.
        cooldown: seconds push-back is not learnt from after it proved not to
            be about the rate.
    """

    #: Passes a round needs before its passes per second are trusted.
    MIN_PASSES = 8
    #: Sends remembered to measure the send rate before any rate is in force.
    SEND_HISTORY = 32
    #: How fast the probe grows past the measured rate: ``growth * x**3``
    #: after ``x * probe`` more requests.
    GROWTH = 0.05
    #: Probes (in ``probe`` requests) past the target after which, with no
    #: push-back, no rate is in force any more (10 times the target).
    UNLIMITED_AFTER = 5.7
    #: A round after a measured cut that accepts less than this share of what
    #: the cut measured shows push-back that is not the rate's.
    SAME = 0.97

    def __init__(
        self,
        ceiling: float | None = None,
        *,
        margin: float = 0.98,
        beta: float = 0.5,
        probe: int = 150,
        cooldown: float = 10.0,
    ) -> None:
        self.ceiling = ceiling
        self.margin = margin
        self.beta = beta
        self.probe = probe
        self.cooldown = cooldown
        #: Bumped at every cut: a waiting request re-queues at the new rate.
        self.epoch = 0
        self.cuts = 0
        self._next = -math.inf  # the time of the next free send slot
        self._sends: collections.deque[float] = collections.deque(maxlen=self.SEND_HISTORY)
        # The curve: from `_start` at `_since`, to `_target` after `probe` requests.
        self._start = ceiling
        self._target = ceiling
        self._since = 0.0
        # The round: requests sent from `_round` on; answers counted from the
        # first push-back's send on, when the gateway is full and passes
        # answers at exactly its rate.
        self._round = -math.inf
        self._saturated = math.inf
        self._passed = 0
        self._pushed = 0
        self._last_sent = -math.inf
        self._last_pass = -math.inf
        # The rate before this episode of cuts, and what its last round measured.
        self._before: float | None = ceiling
        self._last_accepted = 0.0
        self._ignore_until = -math.inf
        self.give_ups = 0

    # -- reading ----------------------------------------------------------

    def rate(self, now: float) -> float | None:
        """Requests per second in force at ``now`` (``None``: unlimited)."""
        start, target = self._start, self._target
        if start is None or target is None:
            return None
        x = (now - self._since) * start / self.probe - 1.0
        if x <= 0:
            r = target + (target - start) * x**3  # concave, up to the target
        elif x < self.UNLIMITED_AFTER:
            r = target * (1.0 + self.GROWTH * x**3)  # convex, past it
        elif self.ceiling is None:
            return None  # so far past any push-back that none is in force
        else:
            r = math.inf
        return r if self.ceiling is None else min(r, self.ceiling)

    def passing(self, now: float, within: float = 1.0) -> bool:
        """Whether some answer passed in the last ``within`` seconds: push-back
        among passes is about the rate (the limiter paces the retry), push-back
        alone is the server's (backoff waits)."""
        return (
            self._start is not None
            and now >= self._ignore_until
            and now - self._last_pass <= within
        )

    # -- deciding ---------------------------------------------------------

    def reserve(self, now: float) -> float:
        """Take a send slot: seconds to wait before sending (0 while unlimited)."""
        rate = self.rate(now)
        if rate is None:
            self._sends.append(now)
            return 0.0
        slot = max(now, self._next)
        self._next = slot + 1.0 / rate
        return slot - now

    def observe(self, sent: float, now: float, *, pushback: bool) -> bool:
        """An answer arrived at ``now`` to a request sent at ``sent``.

        Returns whether it is news: ``False`` for the push-back of a request
        sent before the last cut, which that cut already answered, and for one
        that was sent far too fast (it cut the rate blindly): the client's
        fault, not the request's, so its retry need not count as an attempt."""
        if not pushback:
            self._last_pass = now
        if sent < self._round:
            return not pushback or self._start is None
        self._last_sent = max(self._last_sent, sent)
        if not pushback:
            if sent >= self._saturated:
                self._passed += 1
            return True
        if self._saturated == math.inf:
            self._saturated = sent  # the gateway is full from here on
        self._pushed += 1
        if now >= self._ignore_until and now - self._last_pass <= 1.0:
            # Push-back with nothing passing is an outage, not a rate: backoff's.
            return self._decide(now)
        return True

    def _measured_send_rate(self, now: float) -> float:
        sends = self._sends
        if len(sends) < 2 or now <= sends[0]:
            return float(len(sends)) or 1.0
        return (len(sends) - 1) / (now - sends[0])

    def _decide(self, now: float) -> bool:
        """Whether this push-back is news (see :meth:`observe`)."""
        passed, pushed = self._passed, self._pushed
        current = self.rate(now)
        if current is None:
            # The first push-back: its round holds the gateway's burst, which
            # says nothing of its rate.
            self._set(now, self.beta * self._measured_send_rate(now), None, None)
            return False
        if passed < self.MIN_PASSES:
            if pushed >= 2 and pushed > passed and current > MIN_RATE:
                # Mostly pushed back: far too fast to measure anything.
                self._set(now, self.beta * current, None, None)
                return False
            return True
        if pushed < 2:
            return True  # one push-back among passes proves nothing yet
        span = max(self._last_sent - self._saturated, 0.0) + 1.0 / current
        accepted = passed / span
        early = (now - self._since) * (self._start or 0.0) < self.probe
        if early and self._last_accepted and accepted < self.SAME * self._last_accepted:
            # A cut to just under what the gateway accepted ends the push-back
            # the rate caused, and leaves what it accepts as it was. Neither
            # happened: the push-back is the server's own.
            self._give_up(now)
            return True
        if not early:
            self._before = current  # a new episode: the curve got back to its target
        self._set(now, self.margin * accepted, accepted, accepted)
        return True

    def _set(self, now: float, new: float, target: float | None, accepted: float | None) -> None:
        """Cut to ``new`` requests/s, the curve heading back to ``target``
        (the rate cut from, for a blind cut)."""
        if self._start is None:
            self._before = None
        if target is None:
            target = new / self.beta
        new = max(MIN_RATE, new)
        if self.ceiling is not None:
            new, target = min(new, self.ceiling), min(target, self.ceiling)
        self._start, self._target, self._since = new, max(target, new), now
        self._last_accepted = accepted or 0.0
        self.cuts += 1
        self._next_round(now)
        # The gateway is full now: the first send of the round waits a slot.
        self._next = now + 1.0 / new

    def _give_up(self, now: float) -> None:
        """After a cut to just under what the gateway accepted, push-back the
        rate caused stops. It went on: it is the server's own. Back to the rate
        before this episode, and push-back is not learnt from for a while."""
        self._start = self._target = self._before
        self._since = now
        self._ignore_until = now + self.cooldown
        self._last_accepted = 0.0
        self.give_ups += 1
        self._next_round(now)

    def _next_round(self, now: float) -> None:
        self.epoch += 1
        self._round, self._passed, self._pushed = now, 0, 0
        self._saturated = math.inf
        self._last_sent = now
        self._next = now


Sleep = Callable[[float], Awaitable[None]]


class RateLimit:
    """Carries a :class:`RateController`'s decisions out: waits for a send
    slot, and tells it what each answer said. ``None`` as the controller
    turns it off (``Client(max_rate=None)``)."""

    def __init__(
        self, controller: RateController | None, clock: Callable[[], float], sleep: Sleep
    ) -> None:
        self.controller = controller
        self._clock = clock
        self._sleep = sleep

    @property
    def rate(self) -> float | None:
        """Requests per second in force now (``None``: unlimited or off)."""
        c = self.controller
        return None if c is None else c.rate(self._clock())

    async def acquire(self) -> float:
        """Wait for a send slot; returns the send time, for :meth:`observe`."""
        c = self.controller
        now = self._clock()
        if c is None:
            return now
        while True:
            epoch = c.epoch
            wait = c.reserve(now)
            if wait <= 0.0:
                return now
            await self._sleep(wait)
            if c.epoch == epoch:
                return now + wait
            now = self._clock()  # cut while waiting: queue again at the new rate

    def observe(self, sent: float, *, pushback: bool) -> bool:
        """An answer arrived to the request sent at ``sent``; ``False`` when
        it was a push-back the limiter had already slowed down for."""
        c = self.controller
        return c is None or c.observe(sent, self._clock(), pushback=pushback)

    def paces_retry(self) -> bool:
        """Whether the retry of a push-back waits only for its send slot
        rather than the policy's backoff: while answers pass, the push-back is
        the rate's, and the rate (just cut) is the wait."""
        c = self.controller
        return c is not None and c.passing(self._clock())
