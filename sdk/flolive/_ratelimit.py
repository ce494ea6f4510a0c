"""The client-wide send-rate limiter: decisions over a clock, no I/O.

Gateways (nginx ``limit_req``, Envoy, Kong, AWS API Gateway) answer a client
that sends too fast with 429 and no ``Retry-After``, so backoff alone never
finds their rate. This limiter shapes the send rate instead, as botocore's
adaptive retry mode does (``botocore/retries/adaptive.py``, ``bucket.py``,
``throttling.py``: a token bucket whose fill rate follows a CUBIC curve, cut on
each throttle), and goes further:

* **Unlimited until push-back says otherwise.** No rate is in force and
  :meth:`RateController.reserve` returns at once, so a server that never
  pushes back costs nothing.
* **It measures what the gateway accepts.** While a client sends faster than a
  rate limit, the gateway passes answers at exactly its rate, whatever the
  client sends. A cut sets the rate just under the passes per second of the
  round it ends (``margin`` of them) rather than at a blind fraction of the
  send rate; only a round mostly pushed back, with too few passes to count,
  is cut blindly (by ``beta``).
* **Once per round trip.** A round is the requests sent after a cut; only a
  push-back of a request of the current round cuts, so the 429s of one burst
  cut once.
* **It probes.** After a cut the rate climbs a CUBIC curve, measured in
  requests rather than seconds so that probes cost the same share of 429s at
  any rate: concave up to the rate measured (after ``probe`` requests), then
  convex past it, until the gateway pushes back again.
* **Push-back that is not about the rate is not learnt.** A rate limit pushes
  back only on what is sent too fast: sending slower ends it. A server's own
  faults (random 500s and 503s) push back on the same share of requests at
  any rate. Push-back is judged on its share of the last answers: up to a
  background share (``tolerance`` at first) it is the server's, and backoff
  (the :class:`~flolive.RetryPolicy`) handles it. When a measured cut leaves
  the share as it was, the share is the server's: it becomes the background,
  and the rate goes back to where it was before the cuts.

:class:`RateController` is pure: every method takes the time from its caller
(the event loop's clock in the transport, a fake one in tests), and
:meth:`RateController.observe` returns its decision about an answer as data
(:class:`Verdict`). :class:`RateLimit` carries the decisions out with an
injected sleep.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["MIN_RATE", "RateController", "RateLimit", "Verdict"]

#: Requests per second never cut below.
MIN_RATE = 0.5


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the limiter makes of one answer.

    Attributes:
        paced: a push-back whose retry waits only for its turn at the rate in
            force, not the policy's backoff: a rate is in force and answers
            pass, so the push-back is the rate's and the (cut) rate is the wait.
        counts: whether the push-back uses up one of the policy's attempts.
            ``False`` for one sent before the latest cut (that cut already
            answered it), for one that triggered a cut, and for any while
            the rate is being cut blindly (far too fast to measure): the client
            sent too fast, which is not the request's fault.
    """

    paced: bool = False
    counts: bool = True


PASS = Verdict()


class RateController:
    """The send-rate decisions of one client.

    Args:
        ceiling: a known quota in requests per second: in force from the
            start, learnt below, never exceeded (``None``: unlimited until
            push-back).
        margin: the share of the measured accepted rate a cut sends at.
        beta: the multiplicative cut of a round mostly pushed back.
        probe: requests after a cut until the rate is back at the measured
            rate; the probe past it follows.
        tolerance: the share of push-back among the last answers taken for
            the server's own until a background share is learnt.
    """

    #: Passes a round needs before its passes per second are trusted.
    MIN_PASSES = 8
    #: Answers the push-back share is judged on.
    WINDOW = 20
    #: Answers of a round after a measured cut before its share is compared.
    MIN_JUDGED = 10
    #: Sends remembered to measure the send rate before any rate is in force.
    SEND_HISTORY = 32
    #: How fast the probe grows past the measured rate: ``growth * x**3``
    #: after ``x * probe`` more requests.
    GROWTH = 0.05
    #: Probes (in ``probe`` requests) past the target after which, with no
    #: push-back, no rate is in force any more (10 times the target).
    UNLIMITED_AFTER = 5.7
    #: A round after a measured cut whose push-back share is still this share
    #: of the share that caused the cut shows push-back that is not the rate's.
    SAME = 0.5
    #: Push-back shares above this are never the server's background.
    MOSTLY = 0.5

    def __init__(
        self,
        ceiling: float | None = None,
        *,
        margin: float = 0.98,
        beta: float = 0.5,
        probe: int = 150,
        tolerance: float = 0.1,
    ) -> None:
        self.ceiling, self.margin, self.beta = ceiling, margin, beta
        self.probe, self.tolerance = probe, tolerance
        #: Bumped at every cut: a waiting request re-queues at the new rate.
        self.epoch = 0
        self.cuts = 0
        #: Times push-back proved to be the server's own (not learnt).
        self.give_ups = 0
        #: The share of answers the server pushes back whatever the rate.
        self.background = 0.0
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
        self._window: collections.deque[bool] = collections.deque(maxlen=self.WINDOW)
        # The rate before this episode of cuts, and the share that made the
        # last measured cut (None: nothing to compare the round with).
        self._before: float | None = ceiling
        self._cut_share: float | None = None
        # Cut blindly and not measured since: every push-back is the rate's.
        self._too_fast = False

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
        """Whether a rate is in force and some answer passed in the last
        ``within`` seconds: push-back among passes is the rate's (the limiter
        paces the retry), push-back alone is the server's (backoff waits)."""
        return self.rate(now) is not None and now - self._last_pass <= within

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

    def observe(self, sent: float, now: float, *, pushback: bool) -> Verdict:
        """An answer arrived at ``now`` to a request sent at ``sent``."""
        if not pushback:
            self._last_pass = now
            if sent >= self._round:
                self._window.append(False)
                self._last_sent = max(self._last_sent, sent)
                if sent >= self._saturated:
                    self._passed += 1
            return PASS
        if sent < self._round:
            # Sent before the latest cut, which already answered it.
            return Verdict(paced=self.passing(now), counts=self._start is None)
        self._window.append(True)
        self._last_sent = max(self._last_sent, sent)
        if self._saturated == math.inf:
            self._saturated = sent  # the gateway is full from here on
        self._pushed += 1
        if now - self._last_pass > 1.0:
            # Push-back with nothing passing is an outage, not a rate: backoff's.
            return Verdict()
        cut = self._decide(now)
        return Verdict(paced=self.passing(now), counts=not (cut or self._too_fast))

    def _share(self) -> tuple[float, int]:
        w = self._window
        return (sum(w) / len(w) if w else 0.0), sum(w)

    def _measured_send_rate(self, now: float) -> float:
        sends = self._sends
        if len(sends) < 2 or now <= sends[0]:
            return float(len(sends)) or 1.0
        return (len(sends) - 1) / (now - sends[0])

    def _decide(self, now: float) -> bool:
        """Whether this push-back cuts the rate."""
        share, pushed = self._share()
        n = len(self._window)
        current = self.rate(now)
        early = current is not None and (now - self._since) * (self._start or 0.0) < self.probe
        if self._cut_share is not None and n >= self.MIN_JUDGED:
            before, self._cut_share = self._cut_share, None
            b = self.background
            if early and self.SAME * before <= share <= self.MOSTLY:
                # A cut under what the gateway accepted ends the push-back the
                # rate caused. It went on as before: it is the server's own.
                self._give_up(now, share)
                return False
        if current is None and not self.give_ups and pushed >= 2 and share > self.tolerance:
            # The first push-back of a client that never learnt the server
            # pushes back on its own: the gateway's burst is spent. Its round
            # says nothing of the rate; what follows is judged.
            self._blind(now, self._measured_send_rate(now))
            return True
        b = self.background
        # Once the server proved to push back on its own, only a window
        # mostly pushed back is the rate's.
        if self.give_ups:
            limit = max(self.MOSTLY, b + 3.0 * _sd(b, n))
        else:
            limit = b + max(self.tolerance, 2.0 * _sd(b, n))
        if pushed < 2 or share <= limit or (self.give_ups and n < self.MIN_JUDGED):
            return False  # the server's own share of push-back
        passed = self._passed
        if passed < self.MIN_PASSES:
            if share > self.MOSTLY and pushed >= 3 and (current or 1e9) > MIN_RATE:
                # Mostly pushed back: far too fast to measure anything.
                self._blind(now, self._measured_send_rate(now) if current is None else current)
                return True
            return False
        span = max(self._last_sent - self._saturated, 0.0) + 1.0 / (current or 1e9)
        # What the gateway admits: its passes, and the server's own failures among them.
        accepted = passed / span / (1.0 - b)
        if current is not None and not early:
            self._before = current  # a new episode: the curve got back to its target
        self._set(now, self.margin * accepted, accepted, share)
        self._too_fast = False
        return True

    def _blind(self, now: float, rate: float) -> None:
        self._set(now, self.beta * rate, None, None)
        self._too_fast = True

    def _set(self, now: float, new: float, target: float | None, share: float | None) -> None:
        """Cut to ``new`` requests/s, the curve heading back to ``target``
        (the rate cut from, for a blind cut); ``share`` is what a measured cut
        is judged against."""
        if self._start is None:
            self._before = None
        if target is None:
            target = new / self.beta
        new = max(MIN_RATE, new)
        if self.ceiling is not None:
            new, target = min(new, self.ceiling), min(target, self.ceiling)
        self._start, self._target, self._since = new, max(target, new), now
        self._cut_share = share
        self.cuts += 1
        self._next_round(now)
        # The gateway is full now: the first send of the round waits a slot.
        self._next = now + 1.0 / new

    def _give_up(self, now: float, share: float) -> None:
        """Back to the rate before this episode; ``share`` is the background."""
        self._start = self._target = self._before
        self._since = now
        self.background = share if not self.background else (self.background + share) / 2
        self.give_ups += 1
        self._too_fast = False
        self._next_round(now)

    def _next_round(self, now: float) -> None:
        self.epoch += 1
        self._round, self._passed, self._pushed = now, 0, 0
        self._saturated = math.inf
        self._last_sent = now
        self._next = now
        self._window.clear()


def _sd(share: float, n: int) -> float:
    """The standard deviation of a share of ``n`` answers."""
    return math.sqrt(share * (1.0 - share) / max(n, 1))


Sleep = Callable[[float], Awaitable[None]]


class RateLimit:
    """Carries a :class:`RateController`'s decisions out: waits for a send
    slot, and tells it what each answer said."""

    def __init__(
        self, controller: RateController, clock: Callable[[], float], sleep: Sleep
    ) -> None:
        self.controller = controller
        self._clock = clock
        self._sleep = sleep

    @property
    def rate(self) -> float | None:
        """Requests per second in force now (``None``: unlimited)."""
        return self.controller.rate(self._clock())

    async def acquire(self) -> float:
        """Wait for a send slot; returns the send time, for :meth:`observe`."""
        c = self.controller
        now = self._clock()
        while True:
            epoch = c.epoch
            wait = c.reserve(now)
            if wait <= 0.0:
                return now
            await self._sleep(wait)
            if c.epoch == epoch:
                return now + wait
            now = self._clock()  # cut while waiting: queue again at the new rate

    def observe(self, sent: float, *, pushback: bool) -> Verdict:
        """An answer arrived to the request sent at ``sent``."""
        return self.controller.observe(sent, self._clock(), pushback=pushback)
