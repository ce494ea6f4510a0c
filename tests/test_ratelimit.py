"""The send-rate limiter's decisions, over a fake clock: no HTTP, no sleeps."""

from __future__ import annotations

import math
import random
import time
from typing import Any

import pytest

from flolive._options import check
from flolive._ratelimit import MIN_RATE, RateController, Verdict


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
        assert ctl.observe(i * 0.001, i * 0.001 + 0.0005, pushback=False) == Verdict()
    assert ctl.rate(1.0) is None
    assert ctl.cuts == 0


def test_a_burst_of_pushbacks_cuts_once_and_costs_no_attempt() -> None:
    ctl = RateController()
    sends = [i * 0.001 for i in range(20)]
    for t in sends:
        ctl.reserve(t)
    ctl.observe(sends[0], 0.020, pushback=False)
    # The first push-back alone proves nothing: backoff, and it counts.
    assert ctl.observe(sends[1], 0.021, pushback=True) == Verdict(paced=False, counts=True)
    # The second cuts (the gateway's burst is spent): it costs no attempt.
    assert ctl.observe(sends[2], 0.021, pushback=True) == Verdict(paced=True, counts=False)
    for t in sends[3:]:  # sent before the cut: answered by it, paced, free
        assert ctl.observe(t, 0.021, pushback=True) == Verdict(paced=True, counts=False)
    assert ctl.cuts == 1
    rate = ctl.rate(0.021)
    # beta times the send rate measured up to the push-back: 19 sends over 21 ms.
    assert rate is not None
    assert math.isclose(rate, 0.5 * 19 / 0.021)


def test_pushback_with_nothing_passing_is_not_learnt() -> None:
    ctl = RateController()
    for i in range(10):
        ctl.reserve(i * 0.01)
        # Nothing ever passed: an outage, backoff's, and every one counts.
        assert ctl.observe(i * 0.01, i * 0.01 + 0.001, pushback=True) == Verdict()
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
    assert check("max_rate", value, "client") == expected
    assert check("max_rate", value, "request") == expected


@pytest.mark.parametrize("value", [0, -1, math.inf, math.nan, True, "fast"])
def test_max_rate_refused(value: object) -> None:
    with pytest.raises(ValueError, match="max_rate"):
        check("max_rate", value, "client")


@pytest.mark.parametrize("fault", [0.05, 0.3])
def test_random_faults_are_not_learnt_as_a_rate(fault: float) -> None:
    """An unlimited server failing a random share of requests (the test
    suite's server_error=0.3) pushes back on the same share at any rate: at
    most a brief cut, then no rate in force, and the share is the background."""
    ctl = RateController()
    rng = random.Random(7)
    now = 0.0
    for _ in range(3000):
        now += max(ctl.reserve(now), 0.001)  # 1000 requests/s while unlimited
        ctl.observe(now, now + 0.002, pushback=rng.random() < fault)
    assert now <= 1.2 * 3.0  # a cut or two, undone
    assert ctl.rate(now) is None or ctl.rate(now) >= 1000.0
    assert ctl.give_ups >= 1
    assert abs(ctl.background - fault) < 0.15


def test_a_known_quota_with_random_faults_stays_at_the_quota() -> None:
    ctl = RateController(ceiling=20.0)
    rng = random.Random(3)
    now = 0.0
    for _ in range(2000):
        now += ctl.reserve(now)
        ctl.observe(now, now + 0.002, pushback=rng.random() < 0.3)
    rate = ctl.rate(now)
    assert rate is not None
    assert rate >= 15.0


def test_every_pushback_counts_when_nothing_passes_however_long() -> None:
    """A server that throttles every request: no cut, no pacing, every
    push-back an attempt, so the RetryPolicy ends it with RateLimited."""
    ctl = RateController()
    for i in range(500):
        t = i * 0.1
        assert ctl.reserve(t) == 0.0
        assert ctl.observe(t, t + 0.01, pushback=True) == Verdict(paced=False, counts=True)
    assert ctl.cuts == 0


def test_pushback_after_a_measured_cut_is_paced_and_counts() -> None:
    ctl = RateController()
    r = drive(ctl, LeakyBucket(100.0, 10), 500, rtt=0.002)
    now = r["time"]
    assert ctl.rate(now) is not None
    cuts = ctl.cuts
    ctl.reserve(now)
    ctl.observe(now, now + 0.001, pushback=False)
    v = ctl.observe(now, now + 0.002, pushback=True)  # one among passes
    assert v.paced  # its turn at the rate is the wait
    assert ctl.cuts == cuts
    assert v.counts


# -- against gateways: the sandbox's rate_limit and a real nginx limit_req ------

EXPECTED_IDS = [1_030_247 + i for i in range(988)]


async def test_the_sandbox_limits_like_nginx_limit_req_nodelay() -> None:
    from flolive.sandbox.faults import LeakyBucket

    bucket = LeakyBucket(10.0, 2)
    # burst + 1 at once, then one per 1/rate s; refusals do not fill the bucket.
    assert [bucket.admit(0.0) for _ in range(5)] == [True, True, True, False, False]
    assert [bucket.admit(0.05), bucket.admit(0.1), bucket.admit(0.1)] == [False, True, False]
    with pytest.raises(ValueError, match="rate_limit"):
        LeakyBucket(0.0, 1)


async def test_a_listing_behind_the_sandbox_rate_limit_learns_the_rate() -> None:
    from flolive import Client
    from flolive.sandbox import Sandbox

    sandbox = Sandbox(rate_limit=(200.0, 5))
    async with sandbox as url, Client(base_url=url, page_size=5) as client:
        ids = [p.id async for p in client.campaign_participants(1, 1)]
        stats = client.stats
    assert ids == EXPECTED_IDS  # complete, each once, in order
    assert sandbox.stats.rate_limited == stats.throttles > 0  # 429s, none lost
    # No Retry-After: the rate, not backoff, ended the push-back.
    assert stats.rate is not None
    assert sandbox.stats.rate_limited / sandbox.stats.requests < 0.25


async def test_a_server_that_throttles_every_request_still_ends_with_rate_limited(
    fake_sleep: Any,
) -> None:
    from flolive import Client, RateLimited
    from flolive.sandbox import Sandbox

    sandbox = Sandbox(rate_limit=(0.001, 0), record=True)
    assert sandbox.rate_limit is not None
    sandbox.rate_limit.admit(time.monotonic())  # its one pass spent: 1000 s to the next
    async with sandbox as url, Client(base_url=url, sleep=fake_sleep) as client:
        with pytest.raises(RateLimited) as info:
            await client.campaign(1, 1)
        assert client.stats.requests == 4  # the policy's 4 attempts, none free
    assert info.value.http_status == 429
    assert len(fake_sleep.calls) == 3  # backoff, not the rate: nothing passed


def test_a_listing_behind_real_nginx_limit_req() -> None:
    """nginx 1.22 `limit_req rate=100r/s burst=10 nodelay; limit_req_status
    429` in front of the sandbox, as the gateways the limiter is for."""
    from benchmarks.gateway import nginx, nginx_binary, sandbox

    if nginx_binary() is None:
        pytest.skip("nginx is not installed (CI installs nginx-light)")
    import asyncio

    from flolive import Client

    async def listing(url: str) -> tuple[list[int], int, int]:
        async with Client(base_url=url, page_size=2) as client:
            ids = [p.id async for p in client.campaign_participants(1, 1)]
            return ids, client.stats.throttles, client.stats.requests

    with sandbox() as api, nginx(api, 100, 10) as url:
        ids, throttles, requests = asyncio.run(listing(url))
    assert ids == EXPECTED_IDS
    assert throttles > 0  # nginx did limit
    assert throttles / requests < 0.25  # unlimited, about a third are 429
