"""End-to-end paging against the embedded sandbox on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest

from flolive import (
    CampaignNotFound,
    Client,
    CustomerNotFound,
    DeadlineExceeded,
    LabelsUnavailable,
    ListChanged,
    ListChangedWarning,
    PageMismatch,
    Participant,
    RetryPolicy,
    ServerError,
    ServiceUnavailable,
    SubscriberNotFound,
    TransportError,
)
from flolive.sandbox import DataSet, Faults, Sandbox

from .support.clients import FakeSleep
from .support.envelopes import page_body, participant
from .support.events import running_tasks, settled
from .support.servers import (
    RequestGate,
    ThreadedSandbox,
    later_pages,
    pages_from,
    sandbox_app,
    serving,
)

EXPECTED_IDS = [1_030_247 + i for i in range(988)]
PAGE_QS = re.compile(r"[?&]page=(\d+)")


def pages_in_log(sandbox: Sandbox) -> list[int]:
    return [int(m.group(1)) for _, qs in sandbox.log if (m := PAGE_QS.search(qs))]


@pytest.mark.usefixtures("no_leaks")
async def test_seed_case_988_over_99_pages_in_order_within_the_limit() -> None:
    sandbox = Sandbox(latency=0.005, record=True)
    async with sandbox as url, Client(base_url=url, max_concurrency=4, page_size=10) as client:
        got = [p async for p in client.campaign_participants(customer_id=1, campaign_id=1)]
        assert client.stats.requests == 99
    assert [p.id for p in got] == EXPECTED_IDS
    assert all(isinstance(p, Participant) for p in got)
    assert got[0] == Participant(**_wire(DataSet().participant(1, 1, 0)))
    assert sorted(pages_in_log(sandbox)) == list(range(99))
    assert sandbox.stats.max_in_flight == 4  # fanned out, and never past the limit


@pytest.mark.usefixtures("no_leaks")
async def test_ten_pagers_share_one_limit() -> None:
    sandbox = Sandbox(latency=0.002)
    async with sandbox as url, Client(base_url=url, max_concurrency=5, page_size=10) as client:

        async def read() -> list[int]:
            return [p.id async for p in client.campaign_participants(1, 1)]

        results = await asyncio.gather(*(read() for _ in range(10)))
    assert all(r == EXPECTED_IDS for r in results)
    assert sandbox.stats.requests == 990
    assert sandbox.stats.max_in_flight == 5


async def test_pages_carry_their_metadata() -> None:
    async with Sandbox() as url, Client(base_url=url, page_size=100) as client:
        pages = [page async for page in client.campaign_participants(1, 1).pages()]
    assert [p.number for p in pages] == list(range(10))
    assert [len(p.items) for p in pages] == [100] * 9 + [88]
    assert {(p.size, p.total_pages, p.total_elements) for p in pages} == {(100, 10, 988)}


async def test_one_based_server() -> None:
    sandbox = Sandbox(page_base=1, record=True)
    async with sandbox as url, Client(base_url=url, page_base=1, page_size=10) as client:
        ids = [p.id async for p in client.campaign_participants(1, 1)]
    assert ids == EXPECTED_IDS
    assert sorted(pages_in_log(sandbox)) == list(range(1, 100))


async def test_page_base_mismatch_is_caught_and_named() -> None:
    async with Sandbox(page_base=1) as url, Client(base_url=url, page_size=10) as client:
        with pytest.raises(PageMismatch, match="page_base=1") as info:
            await client.campaign_participants(1, 1).collect()
    assert (info.value.requested, info.value.echoed, info.value.page) == (0, 1, 0)


async def test_start_page_and_max_pages() -> None:
    sandbox = Sandbox(record=True)
    async with sandbox as url, Client(base_url=url, page_size=10) as client:
        ids = await client.campaign_participants(1, 1, start_page=50, max_pages=3).collect()
    assert [p.id for p in ids] == EXPECTED_IDS[500:530]
    assert sorted(pages_in_log(sandbox)) == [50, 51, 52]


async def test_server_capped_page_size_yields_every_item_once() -> None:
    sandbox = Sandbox(max_page_size=100, record=True)
    async with sandbox as url, Client(base_url=url, page_size=1000) as client:
        pager = client.campaign_participants(1, 1)
        items = aiter(pager)
        ids = [p.id async for p in items]
        assert items.page_size == pager.page_size_used == 100
    assert ids == EXPECTED_IDS
    sizes = [
        (page, qs.split("size=")[1])
        for page, (_, qs) in zip(pages_in_log(sandbox), sandbox.log, strict=True)
    ]
    # The first window asked pages 0-3 at 1000; page 0 said 100: pages 1-3 at
    # 1000 were dropped and every other page fetched at 100.
    assert sorted(sizes[:4]) == [(0, "1000"), (1, "1000"), (2, "1000"), (3, "1000")]
    assert sorted(sizes[4:]) == [(n, "100") for n in range(1, 10)]


async def assert_all_cancelled(
    client: Client, gate: RequestGate, tasks: set[asyncio.Task[Any]]
) -> None:
    """After a pass ended early, with its next pages held by the server: the
    client's tasks end (a fetch left running would wait forever), nothing is in
    flight, the server saw every held request given up, and a request made now
    is the only one sent since."""
    await settled(tasks)
    assert client.stats.in_flight == 0
    sent = client.stats.requests
    await gate.until(lambda g: g.cancelled == g.held > 0)
    assert (await client.campaign(1, 1)).id == 1
    assert client.stats.requests == sent + 1, "requests were sent after the pass ended"
    # The server saw no more than the client sent (cancelled ones may not arrive).
    assert gate.seen <= sent + 1


@pytest.mark.usefixtures("no_leaks")
async def test_break_inside_the_fan_out_cancels_everything(
    held_sandbox: Callable[..., tuple[ThreadedSandbox, RequestGate]],
) -> None:
    server, gate = held_sandbox(pages_from(2))
    async with Client(base_url=server.url, max_concurrency=4, page_size=10) as client:
        tasks = running_tasks()
        seen = []
        async for p in client.campaign_participants(1, 1):
            seen.append(p.id)
            if len(seen) == 15:
                break
        await assert_all_cancelled(client, gate, tasks)
        sent = client.stats.requests - 1
        assert sent <= 1 + 2 * 4  # first page plus at most one prefetch window
    assert seen == EXPECTED_IDS[:15]


@pytest.mark.usefixtures("no_leaks")
async def test_async_with_pager_closes_deterministically(
    threaded_sandbox: Callable[..., ThreadedSandbox],
) -> None:
    server = threaded_sandbox(latency=0.02)
    async with Client(base_url=server.url, page_size=10) as client:
        tasks = running_tasks()
        pager = client.campaign_participants(1, 1)
        async with pager:
            async for _ in pager:
                break
        assert client.stats.in_flight == 0
        assert running_tasks() == tasks


@pytest.mark.usefixtures("no_leaks")
async def test_cancelling_the_caller_cancels_the_fetches(
    held_sandbox: Callable[..., tuple[ThreadedSandbox, RequestGate]],
) -> None:
    server, gate = held_sandbox(pages_from(3))
    async with Client(base_url=server.url, max_concurrency=4, page_size=10) as client:
        tasks = running_tasks()
        seen: list[int] = []
        read_25 = asyncio.Event()

        async def consume() -> None:
            async for p in client.campaign_participants(1, 1):
                seen.append(p.id)
                if len(seen) == 25:
                    read_25.set()

        task = asyncio.create_task(consume())
        await read_25.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await assert_all_cancelled(client, gate, tasks)
    assert 25 <= len(seen) <= 30  # page 3 was held
    assert seen == EXPECTED_IDS[: len(seen)]


@pytest.mark.usefixtures("no_leaks")
async def test_consumer_exception_cancels_the_fetches() -> None:
    async with Sandbox(latency=0.02) as url, Client(base_url=url, page_size=10) as client:
        pager = client.campaign_participants(1, 1)
        with pytest.raises(ZeroDivisionError):
            async with pager:
                async for p in pager:
                    if p.id == EXPECTED_IDS[33]:
                        1 / 0  # noqa: B018
        assert client.stats.in_flight == 0


@pytest.mark.usefixtures("no_leaks")
async def test_a_failing_page_raises_after_the_earlier_items_and_resumes() -> None:
    sandbox = Sandbox(fail_pages={7: 500}, latency=0.002)
    async with (
        sandbox as url,
        Client(base_url=url, page_size=10, retry=RetryPolicy.disabled()) as client,
    ):
        seen: list[int] = []
        with pytest.raises(ServerError) as info:
            async for p in client.campaign_participants(1, 1):
                seen.append(p.id)
        assert seen == EXPECTED_IDS[:70]
        assert info.value.page == 7
        assert info.value.http_status == 500
        sandbox.fail_pages.clear()
        rest = await client.campaign_participants(1, 1, start_page=info.value.page).collect()
    assert seen + [p.id for p in rest] == EXPECTED_IDS


async def test_error_code_on_a_later_page_is_typed(fake_sleep: FakeSleep) -> None:
    sandbox = Sandbox(fail_pages={3: "GLOBAL_1001"})
    async with sandbox as url, Client(base_url=url, page_size=10, sleep=fake_sleep) as client:
        with pytest.raises(ServiceUnavailable) as info:
            await client.campaign_participants(1, 1).collect()
    assert (info.value.code, info.value.page, info.value.http_status) == ("GLOBAL_1001", 3, 503)
    # Retried 3 times first, and at most 4 more while the rate limiter took
    # the push-back for its own (Verdict.counts).
    assert 3 <= client.stats.retries <= 7


async def test_faulty_server_still_yields_everything_exactly_once(fake_sleep: FakeSleep) -> None:
    faults = Faults(
        global_1001=0.05,
        rate_limited=0.05,
        server_error=0.05,
        unavailable=0.05,
        drop=0.05,
        truncate=0.05,
        retry_after=1,
    )
    sandbox = Sandbox(faults=faults, seed=3)
    async with (
        sandbox as url,
        Client(
            base_url=url, page_size=10, sleep=fake_sleep, retry=RetryPolicy(max_retries=8)
        ) as client,
    ):
        ids = [p.id async for p in client.campaign_participants(1, 1)]
        retries = client.stats.retries
    assert ids == EXPECTED_IDS
    injected = sum(sandbox.stats.faults.values())
    # Every fault cost exactly one more request. aiohttp itself re-sends once
    # when a reused keep-alive connection is dropped, so some drops never
    # reach the SDK's retry loop.
    assert sandbox.stats.requests == 99 + injected
    assert 0 < retries <= injected
    assert all(n > 0 for n in sandbox.stats.faults.values()), sandbox.stats.faults


@pytest.mark.parametrize("kind", ["drop", "truncate"])
async def test_broken_connections_are_transport_errors(kind: str) -> None:
    async with (
        Sandbox(faults=Faults(**{kind: 1.0})) as url,
        Client(base_url=url, retry=RetryPolicy.disabled()) as client,
    ):
        with pytest.raises(TransportError) as info:
            await client.campaign_participants(1, 1).collect()
    assert info.value.page == 0


async def test_list_drift_warns_and_goes_on() -> None:
    async with Sandbox(drift=1) as url, Client(base_url=url, page_size=100) as client:
        pager = client.campaign_participants(1, 1)
        with pytest.warns(ListChangedWarning, match="totalElements changed from 988"):
            ids = [p.id async for p in pager]
        assert pager.total_elements is not None
        assert pager.total_elements > 988
    # Appended items are read too, once the list is known to have grown.
    assert ids[:988] == EXPECTED_IDS
    assert len(ids) == len(set(ids))


async def test_list_drift_can_raise() -> None:
    async with (
        Sandbox(drift=1) as url,
        Client(base_url=url, page_size=100, on_list_change="raise") as client,
    ):
        with pytest.raises(ListChanged) as info:
            await client.campaign_participants(1, 1).collect()
    assert info.value.before == 988
    assert info.value.after > 988
    assert info.value.page is not None
    assert info.value.page >= 1


async def test_consumer_calling_the_client_does_not_deadlock() -> None:
    async with (
        Sandbox(latency=0.001) as url,
        Client(base_url=url, max_concurrency=1, page_size=100) as client,
    ):
        names = []
        async for _page in client.campaign_participants(1, 1).pages():
            names.append((await client.campaign(1, 1)).name)
            async for _ in client.campaigns(1):
                pass
        assert names == ["campaign-1-1"] * 10


async def test_listing_deadline() -> None:
    async with (
        Sandbox(latency=0.05) as url,
        Client(base_url=url, page_size=10, max_concurrency=2, listing_timeout=0.12) as client,
    ):
        with pytest.raises(DeadlineExceeded) as info:
            await client.campaign_participants(1, 1).collect()
    assert info.value.page is not None
    assert info.value.page > 0


async def test_empty_list() -> None:
    async with Sandbox() as url, Client(base_url=url) as client:
        assert await client.campaign_participants(1, 4).collect() == []
        pages = [p async for p in client.campaign_participants(1, 4).pages()]
    assert [(p.number, p.items, p.total_pages) for p in pages] == [(0, [], 0)]


async def test_labels_campaigns_and_not_found_codes() -> None:
    data = DataSet()
    iccid = data.identifier("iccid", 1, 3, 999)
    imsi = data.identifier("imsi", 1, 3, 999)
    async with Sandbox() as url, Client(base_url=url, page_size=10) as client:
        by_iccid = await client.subscriber_labels("iccid", iccid).collect()
        by_imsi = await client.subscriber_labels("imsi", imsi).collect()
        assert [lb.name for lb in by_iccid] == [f"label{n}" for n in range(1, 46)]
        assert by_imsi == by_iccid
        campaigns = await client.campaigns(1).collect()
        assert [c.id for c in campaigns] == [1, 2, 3, 4, 5]
        assert (await client.campaign(1, 2)).name == "campaign-1-2"
        with pytest.raises(SubscriberNotFound):
            await client.subscriber_labels("msisdn", "123").collect()
        with pytest.raises(LabelsUnavailable) as info:
            await client.subscriber_labels("iccid", data.identifier("iccid", 1, 3, 1008)).collect()
        assert info.value.page == 0
        with pytest.raises(CampaignNotFound):
            await client.campaign(1, 99)
        with pytest.raises(CustomerNotFound):
            await client.campaign_participants(404, 1).collect()


async def test_password_login_is_shared_and_reused() -> None:
    sandbox = Sandbox(users={"alice": "wonder"})
    async with (
        sandbox as url,
        Client(
            base_url=url, username="alice", password="wonder", page_size=10, max_concurrency=8
        ) as client,
    ):
        assert len(await client.campaign_participants(1, 1).collect()) == 988
        assert client.stats.logins == 1
    assert sandbox.stats.logins == 1


async def test_one_shared_relogin_when_16_requests_get_401() -> None:
    sandbox = Sandbox(users={"alice": "wonder"})
    # Held before the sandbox checks their token: revoked while held, all get 401.
    gate = RequestGate(later_pages)
    async with (
        serving(sandbox_app(sandbox, [gate.middleware])) as url,
        Client(
            base_url=url, username="alice", password="wonder", page_size=10, max_concurrency=16
        ) as client,
    ):
        ids = []
        async for p in client.campaign_participants(1, 1):
            ids.append(p.id)
            if len(ids) == 10:  # first page read: 16 requests held in flight
                await gate.until(lambda g: g.held == 16)
                assert client.stats.in_flight == 16
                sandbox.revoke_tokens()
                gate.open()
        assert client.stats.logins == 2
    assert ids == EXPECTED_IDS
    assert sandbox.stats.logins == 2


async def test_bad_credentials_raise_authentication_error() -> None:
    from flolive import AuthenticationError

    async with (
        Sandbox(users={"alice": "wonder"}) as url,
        Client(base_url=url, username="alice", password="nope") as client,
    ):
        with pytest.raises(AuthenticationError) as info:
            await client.campaign(1, 1)
    assert info.value.http_status == 401
    assert info.value.body is None
    assert "nope" not in str(info.value)


async def test_a_failed_login_while_listing_carries_the_page() -> None:
    from flolive import AuthenticationError

    async with (
        Sandbox(users={"alice": "wonder"}) as url,
        Client(base_url=url, username="alice", password="nope") as client,
    ):
        with pytest.raises(AuthenticationError) as info:
            await client.campaign_participants(1, 1, start_page=4).collect()
    assert (info.value.page, info.value.path) == (4, "/api/v2/auth/token")


async def test_token_provider_is_asked_again_after_401() -> None:
    sandbox = Sandbox(token="fresh")
    tokens = iter(["stale", "fresh", "fresh"])
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        return next(tokens)

    async with sandbox as url, Client(base_url=url, token_provider=provider) as client:
        assert (await client.campaign(1, 1)).id == 1
    assert calls == 2


def _wire(p: object) -> dict[str, object]:
    import datetime as dt

    import msgspec

    d = msgspec.structs.asdict(p)  # type: ignore[arg-type]
    d["timestamp"] = dt.datetime.strptime(str(d["timestamp"]), "%Y-%m-%d %H:%M:%S")
    return d


async def test_a_callers_session_is_used_and_left_open() -> None:
    import aiohttp

    async with Sandbox() as url, aiohttp.ClientSession() as session:
        async with Client(base_url=url, session=session) as client:
            assert len(await client.campaign_participants(1, 5).collect()) == 25
        assert not session.closed
        async with Client(base_url=url, session=session) as client:
            assert (await client.campaign(1, 5)).id == 5
        assert not session.closed


# -- speculative first window, max_items, resume tokens, per-pass state ------


def requests_for(sandbox: Sandbox) -> list[int]:
    return sorted(pages_in_log(sandbox))


@pytest.mark.usefixtures("no_leaks")
@pytest.mark.parametrize(
    ("page_size", "pages", "requested"),
    [
        (25, 1, [0, 1, 2, 3]),  # a one-page list costs at most 1 + speculate requests
        (13, 2, [0, 1, 2, 3]),
        (5, 5, [0, 1, 2, 3, 4]),  # the speculative pages were all needed
    ],
)
async def test_first_window_is_requested_with_the_first_page(
    page_size: int, pages: int, requested: list[int]
) -> None:
    sandbox = Sandbox(record=True)
    async with sandbox as url, Client(base_url=url, page_size=page_size) as client:
        pager = client.campaign_participants(1, 5)  # 25 participants
        got = await pager.collect()
        assert len(got) == 25
        assert pager.total_pages == pages
        assert requests_for(sandbox) == requested
        # A second pass knows where the list ends: no request is wasted.
        sandbox.log.clear()
        assert [p.id for p in await pager.collect()] == [p.id for p in got]
        assert requests_for(sandbox) == list(range(pages))


async def test_speculation_respects_max_pages_prefetch_and_adaptive_mode() -> None:
    sandbox = Sandbox(record=True)
    async with sandbox as url:
        async with Client(base_url=url, page_size=5) as client:
            await client.campaign_participants(1, 5, max_pages=2).collect()
            assert requests_for(sandbox) == [0, 1]
            sandbox.log.clear()
            await client.campaign_participants(1, 5, prefetch=2, speculate=8).collect()
            assert requests_for(sandbox) == [0, 1, 2, 3, 4]
            sandbox.log.clear()
            await client.campaign_participants(1, 5, speculate=0, page_size=25).collect()
            assert requests_for(sandbox) == [0]
        sandbox.log.clear()
        async with Client(base_url=url, page_size=25, adaptive_concurrency=True) as client:
            await client.campaign_participants(1, 5, speculate=3).collect()
            assert requests_for(sandbox) == [0]


async def test_first_window_with_a_slow_consumer_never_exceeds_prefetch() -> None:
    sandbox = Sandbox(latency=0.001)
    async with sandbox as url, Client(base_url=url, page_size=10, max_concurrency=16) as client:
        pages = client.campaign_participants(1, 1, prefetch=3, speculate=10).pages()
        async with pages:
            async for _page in pages:
                # Held or in flight ahead of this page: never more than prefetch.
                assert sandbox.stats.max_in_flight <= 3
    assert sandbox.stats.max_in_flight <= 3


@pytest.mark.usefixtures("no_leaks")
async def test_max_items_stops_exactly_and_asks_no_page_it_cannot_need() -> None:
    sandbox = Sandbox(record=True)
    async with sandbox as url, Client(base_url=url, page_size=10) as client:
        items = [p.id async for p in client.campaign_participants(1, 1, max_items=25)]
        assert items == EXPECTED_IDS[:25]
        assert requests_for(sandbox) == [0, 1, 2]
        sandbox.log.clear()
        pages = [p async for p in client.campaign_participants(1, 1, max_items=25).pages()]
        assert [len(p.items) for p in pages] == [10, 10, 5]
        assert requests_for(sandbox) == [0, 1, 2]
        sandbox.log.clear()
        one = await client.campaign_participants(1, 1, max_items=1, page_size=100).collect()
        assert [p.id for p in one] == EXPECTED_IDS[:1]
        assert requests_for(sandbox) == [0]


async def test_a_failed_page_carries_a_picklable_resume_token() -> None:
    import pickle

    from flolive import ResumeToken

    sandbox = Sandbox(max_page_size=100, fail_pages={4: 500})
    async with sandbox as url, Client(base_url=url, page_size=1000) as client:
        seen: list[int] = []
        with pytest.raises(ServerError) as info:
            async for p in client.campaign_participants(1, 1, retry=RetryPolicy.disabled()):
                seen.append(p.id)
        token = info.value.resume
        assert token == ResumeToken(
            path="/api/v2/customer/1/campaign/1/participants", page=4, page_size=100, page_base=0
        )
        assert pickle.loads(pickle.dumps(token)) == token
        sandbox.fail_pages.clear()
        rest = [p.id async for p in client.campaign_participants(1, 1, resume=token)]
        # The resume asks at the size the server used, so it starts on item 400.
        assert seen + rest == EXPECTED_IDS
        with pytest.raises(ValueError, match="resume token is for"):
            client.campaign_participants(1, 2, resume=token)
        with pytest.raises(ValueError, match="not both"):
            client.campaign_participants(1, 1, resume=token, start_page=3)


async def test_passes_start_anywhere_and_keep_their_own_state() -> None:
    async with Sandbox() as url, Client(base_url=url, page_size=100) as client:
        pager = client.campaign_participants(1, 1)
        tail = [p.id async for p in pager.items(start_page=8)]
        assert tail == EXPECTED_IDS[800:]
        a, b = pager.pages(), pager.pages(start_page=5)
        async with a, b:
            first_a, first_b = await anext(a), await anext(b)
            assert (first_a.number, first_b.number) == (0, 5)
            assert (a.pages_read, b.pages_read, a.items_read, b.items_read) == (1, 1, 100, 100)
            assert a.total_elements == b.total_elements == 988
            assert a.page_size == b.page_size == 100
            rest = [p.number async for p in b]
            assert rest == [6, 7, 8, 9]
            assert (a.pages_read, b.pages_read) == (1, 5)


async def test_on_page_reports_every_page_in_order() -> None:
    calls: list[tuple[int, int, int, int]] = []

    def on_page(page: object) -> None:
        from flolive import Page

        assert isinstance(page, Page)
        calls.append((page.number, len(page.items), page.total_pages, page.total_elements))

    async with Sandbox(latency=0.001) as url, Client(base_url=url, max_concurrency=8) as client:
        got = await client.campaign_participants(1, 1, page_size=10, on_page=on_page).collect()
    assert len(got) == 988
    assert calls == [(n, 10 if n < 98 else 8, 99, 988) for n in range(99)]


async def test_empty_page_after_total_elements_ends_an_absurd_list() -> None:
    from aiohttp import web

    seen: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        page = int(request.query["page"])
        seen.append(page)
        items = [participant(i) for i in range(3)] if page == 0 else []
        return web.Response(body=page_body(items, page, 10, 10**9, 3))

    app = web.Application()
    app.router.add_get("/api/v2/customer/1/campaign/1/participants", handler)
    async with serving(app) as url, Client(base_url=url, page_size=10) as client:
        got = await client.campaign_participants(1, 1).collect()
    assert [p.id for p in got] == [1000, 1001, 1002]
    assert len(seen) <= 1 + 3 + 16  # the first window, then at most one prefetch window
