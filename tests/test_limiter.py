"""The client-wide limiter: FIFO, cancel-safe, and adaptive when asked."""

from __future__ import annotations

import asyncio

from flolive import Client, RetryPolicy
from flolive._limiter import Limiter
from flolive.sandbox import Faults, Sandbox

from .support.clients import FakeSleep


async def test_fifo_order_and_limit() -> None:
    limiter = Limiter(2)
    order: list[int] = []
    peak = 0

    async def worker(n: int) -> None:
        nonlocal peak
        await limiter.acquire()
        order.append(n)
        peak = max(peak, limiter.in_use)
        await asyncio.sleep(0)
        limiter.release()

    await asyncio.gather(*(worker(n) for n in range(10)))
    assert order == list(range(10))
    assert peak == 2
    assert limiter.in_use == 0


async def test_cancelled_waiters_leave_no_trace() -> None:
    limiter = Limiter(1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    later = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    limiter.release()
    await later
    assert limiter.in_use == 1
    limiter.release()
    assert limiter.in_use == 0


async def test_a_slot_granted_to_a_cancelled_waiter_is_passed_on() -> None:
    limiter = Limiter(1)
    await limiter.acquire()
    first = asyncio.create_task(limiter.acquire())
    second = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    limiter.release()  # grants `first` ...
    first.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, 1)
    assert limiter.in_use == 1


def test_adaptive_limit_halves_once_per_overload_and_grows_back() -> None:
    limiter = Limiter(16, adaptive=True)
    epoch = limiter.epoch
    for _ in range(5):  # one overload answered by five requests: one cut
        limiter.throttled(epoch)
    assert limiter.limit == 8
    limiter.throttled(limiter.epoch)
    assert limiter.limit == 4
    for _ in range(4):
        limiter.succeeded()
    assert limiter.limit == 5
    for _ in range(1000):
        limiter.succeeded()
    assert limiter.limit == 16
    fixed = Limiter(16)
    fixed.throttled(fixed.epoch)
    assert fixed.limit == 16


async def test_adaptive_client_backs_off_a_throttling_server(fake_sleep: FakeSleep) -> None:
    throttled = {}
    for adaptive in (False, True):
        sandbox = Sandbox(throttle_above=3, latency=0.005, faults=Faults(retry_after=0))
        async with (
            sandbox as url,
            Client(
                base_url=url,
                page_size=10,
                max_concurrency=12,
                adaptive_concurrency=adaptive,
                sleep=fake_sleep,
                retry=RetryPolicy(max_retries=100),
            ) as client,
        ):
            ids = [p.id async for p in client.campaign_participants(1, 1)]
            assert ids == [1_030_247 + i for i in range(988)]
            if adaptive:
                assert client.concurrency_limit < 12
        throttled[adaptive] = sandbox.stats.throttled
    assert throttled[False] > 0
    assert throttled[True] * 2 < throttled[False], throttled
