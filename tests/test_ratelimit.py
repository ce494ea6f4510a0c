"""The send-rate limiter's decisions, over a fake clock: no HTTP, no sleeps."""

from __future__ import annotations

import math

import pytest

from flolive._ratelimit import MIN_RATE, RateController, check_max_rate


class LeakyBucket:
    """nginx ``limit_req ... nodelay``: ``burst + 1`` pass at once, then one per ``1/rate`` s."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.excess = 0.0
        self.last: float | None = None

    def admit(self, now: float) -> bool:
        if self.last is None:
            self.last = now
            return True
        excess = max(0.0, self.excess - self.rate * (now - self.last) + 1.0)
        if excess > self.burst + 1e-9:
            return False
        self.excess, self.last = excess, now
        return True


def drive(ctl: RateController, gateway: LeakyBucket, requests: int, rtt: float) -> dict[str, float]:
    """One request at a time in flight per slot of 4, each answered ``rtt`` after
    its send; a push-back is retried at once (the limiter paces it)."""
    now, sent, pushed, done = 0.0, 0, 0, 0
    pending: list[tuple[float, float, bool]] = []  # (answer time, send time, passed)
    while done < requests:
        while len(pending) < 4 and done + len(pending) < requests:
            now += ctl.reserve(now)
            pending.append((now + rtt, now, gateway.admit(now)))
            sent += 1
        pending.sort()
        at, when, ok = pending.pop(0)
        now = max(now, at)
        ctl.observe(when, now, pushback=not ok)
        if ok:
            done += 1
        else:
            pushed += 1
    return {"time": now, "sent": sent, "pushed": pushed}


def test_unlimited_until_the_first_pushback() -> None:
    ctl = RateController()
    for i in range(1000):
        assert ctl.reserve(i * 0.001) == 0.0
        assert ctl.observe(i * 0.001, i * 0.001 + 0.0005, pushback=False)
    assert ctl.rate(1.0) is None
    assert ctl.cuts == 0


def test_a_burst_of_pushbacks_cuts_once() -> None:
    ctl = RateController()
    sends = [i * 0.001 for i in range(20)]
    for t in sends:
        ctl.reserve(t)
    ctl.observe(sends[0], 0.020, pushback=False)
    for t in sends[1:]:  # all sent before the cut: one cut for all of them
        ctl.observe(t, 0.021, pushback=True)
    assert ctl.cuts == 1
    rate = ctl.rate(0.021)
    # beta times the send rate measured up to the push-back: 19 sends over 21 ms.
    assert rate is not None
    assert math.isclose(rate, 0.5 * 19 / 0.021)


def test_pushback_with_nothing_passing_is_not_learnt() -> None:
    ctl = RateController()
    for i in range(10):
        ctl.reserve(i * 0.01)
        assert ctl.observe(i * 0.01, i * 0.01 + 0.001, pushback=True)
    assert ctl.rate(1.0) is None
    assert not ctl.passing(1.0)


def test_a_known_quota_is_in_force_from_the_start_and_never_exceeded() -> None:
    ctl = RateController(ceiling=50.0)
    assert ctl.rate(0.0) == 50.0
    waits = [ctl.reserve(0.0) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08])
    assert ctl.rate(1e6) == 50.0


@pytest.mark.parametrize(
    ("rate", "burst", "requests", "max_ratio", "max_share"),
    [
        (100.0, 10, 988, 1.05, 0.05),
        (40.0, 5, 494, 1.15, 0.10),
        (1000.0, 50, 5000, 1.05, 0.02),
        # The descent costs a few dozen 429s whatever the rate: a large share of 200.
        (5.0, 2, 200, 1.15, 0.20),
    ],
)
def test_converges_on_a_leaky_bucket(
    rate: float, burst: int, requests: int, max_ratio: float, max_share: float
) -> None:
    ctl = RateController()
    r = drive(ctl, LeakyBucket(rate, burst), requests, rtt=0.002)
    assert r["time"] / (requests / rate) <= max_ratio
    assert r["pushed"] / r["sent"] <= max_share
    final = ctl.rate(r["time"])
    assert final is not None
    assert 0.8 * rate <= final <= 1.3 * rate


def test_never_below_the_floor() -> None:
    ctl = RateController()
    now = 0.0
    for _ in range(200):
        ctl.reserve(now)
        ctl.observe(now, now + 0.001, pushback=False)
        ctl.observe(now, now + 0.001, pushback=True)
        ctl.observe(now, now + 0.001, pushback=True)
        now += 1.0
    rate = ctl.rate(now)
    assert rate is None or rate >= MIN_RATE


@pytest.mark.parametrize(
    ("value", "expected"), [("auto", "auto"), (None, None), (10, 10.0), (0.5, 0.5)]
)
def test_max_rate_values(value: object, expected: object) -> None:
    assert check_max_rate("max_rate", value) == expected


@pytest.mark.parametrize("value", [0, -1, math.inf, math.nan, True, "fast"])
def test_max_rate_refused(value: object) -> None:
    with pytest.raises(ValueError, match="max_rate"):
        check_max_rate("max_rate", value)
