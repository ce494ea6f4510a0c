"""The subscriber API: models, the paged list, the point-in-time cursor,
details and eSIM profiles, against the sandbox (and a scripted server where
the sandbox cannot misbehave the way a test needs)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import math
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import msgspec
import pytest
from aioresponses import CallbackResult, aioresponses

from flolive import (
    APIError,
    AsyncCursor,
    Campaign,
    Chunk,
    Client,
    ClientNotOpenError,
    CursorExpired,
    CursorIncomplete,
    CursorToken,
    CustomerNotFound,
    DeadlineExceeded,
    DecodeError,
    FloliveError,
    HTTPStatusError,
    ImsiMsisdnPair,
    Label,
    ListIncompleteWarning,
    Participant,
    Profile,
    RedirectRefused,
    RequestContext,
    RequestTimeout,
    RetryPolicy,
    ServerError,
    ServiceUnavailable,
    Subscriber,
    SubscriberDetails,
    SubscriberNotFound,
    SubscriberStatus,
    TransportError,
)
from flolive._codec import codec_for
from flolive.sandbox import DataSet, Faults, Sandbox
from flolive.sandbox.server import PIT_EXPIRED

from .support.clients import BASE, FakeSleep, make_client
from .support.events import running_tasks, sdk_tasks, settled
from .support.readme import run_example
from .support.servers import RequestGate, ThreadedSandbox

DATA = DataSet()
CUSTOMER_1 = 25_000
CUSTOMER_2 = 2_500


def iccids(customer: int, n: int) -> list[str]:
    return [DATA.identifier("iccid", customer, 0, i) for i in range(n)]


def as_model(wire: msgspec.Struct, model: type[Any]) -> Any:
    """What the SDK must decode a sandbox wire record into."""
    return msgspec.json.decode(msgspec.json.encode(wire), type=model)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- models ----------------------------------------------------------------------

SUBSCRIBER_JSON = b"""{
  "subscriberId": "6f1c0b4e-3a1f-4c39-9a51-1f6f7a2e1a10",
  "imsiMsisdnPairs": [
    {"imsi": "425019000000001", "msisdn": "972500000001", "isLastActive": false},
    {"imsi": "425019000000002", "isLastActive": true, "apn": "iot"}
  ],
  "iccid": "8935771600000000003",
  "status": "ACTIVE",
  "imei": "350000000000001",
  "customerId": "0b6d9c1e-7f5a-4d1e-8f3a-2a9e0c4b5d6e",
  "customerName": "Acme",
  "somethingNew": {"nested": [1, 2, 3]}
}"""

DETAILS_JSON = b"""{
  "subscriberIdentifiers": {
    "subscriberId": "6f1c0b4e-3a1f-4c39-9a51-1f6f7a2e1a10",
    "imsiMsisdnPairs": [{"imsi": "425019000000001", "msisdn": "972500000001",
                         "isLastActive": true}],
    "iccid": "8935771600000000003",
    "imeisv": null
  },
  "customerId": "0b6d9c1e-7f5a-4d1e-8f3a-2a9e0c4b5d6e",
  "customerName": "Acme",
  "subsStatus": "A_STATUS_FROM_NEXT_YEAR",
  "userLabels": "red,blue",
  "lastKnownLocation": {"country": "Israel", "lastUpdate": "2022-02-11 14:21:53.120",
                        "cell": {"lac": 1, "ci": 2}},
  "lastConnectedNetwork": null,
  "lastRatType": 6,
  "lastRatTypeLabel": "4G",
  "plans": [{"planId": 7}],
  "offers": "whatever",
  "usage": {"bytes": 12}
}"""


def test_subscriber_decodes_and_ignores_what_it_does_not_know() -> None:
    s = msgspec.json.decode(SUBSCRIBER_JSON, type=Subscriber)
    assert s == Subscriber(
        subscriber_id=uuid.UUID("6f1c0b4e-3a1f-4c39-9a51-1f6f7a2e1a10"),
        imsi_msisdn_pairs=(
            ImsiMsisdnPair("425019000000001", "972500000001", False),
            ImsiMsisdnPair("425019000000002", None, True),
        ),
        iccid="8935771600000000003",
        status=SubscriberStatus.ACTIVE,
        imei="350000000000001",
        imeisv=None,
        customer_id=uuid.UUID("0b6d9c1e-7f5a-4d1e-8f3a-2a9e0c4b5d6e"),
        customer_name="Acme",
    )
    assert s.active_pair == ImsiMsisdnPair("425019000000002", None, True)
    bare = msgspec.json.decode(
        b'{"subscriberId": "6f1c0b4e-3a1f-4c39-9a51-1f6f7a2e1a10", "imsiMsisdnPairs": [],'
        b' "iccid": "1", "status": "SUSPEND"}',
        type=Subscriber,
    )
    assert (bare.active_pair, bare.imei, bare.customer_id, bare.customer_name) == (
        None,
        None,
        None,
        None,
    )
    # Frozen structs of tuples of leaf structs: no cycle possible, so untracked.
    assert not gc.is_tracked(s)
    assert not gc.is_tracked(s.imsi_msisdn_pairs[0])


def test_details_keep_nested_objects_as_mappings_and_unknown_statuses_as_strings() -> None:
    d = msgspec.json.decode(DETAILS_JSON, type=SubscriberDetails)
    assert d.subs_status == "A_STATUS_FROM_NEXT_YEAR"
    assert d.subscriber_identifiers.iccid == "8935771600000000003"
    assert d.subscriber_identifiers.imeisv is None
    assert d.subscriber_identifiers.active_pair == ImsiMsisdnPair(
        "425019000000001", "972500000001", True
    )
    assert d.customer_id == uuid.UUID("0b6d9c1e-7f5a-4d1e-8f3a-2a9e0c4b5d6e")
    assert d.last_known_location == {
        "country": "Israel",
        "lastUpdate": "2022-02-11 14:21:53.120",
        "cell": {"lac": 1, "ci": 2},
    }
    assert d.last_connected_network is None
    assert (d.last_rat_type, d.last_rat_type_label) == (6, "4G")
    assert (d.tags, d.system_labels, d.user_labels, d.alias) == (None, None, "red,blue", None)
    assert (d.last_data_rat_type, d.last_data_rat_type_label) == (None, None)


def test_a_details_answer_missing_a_documented_field_is_a_decode_error_with_its_path() -> None:
    body = msgspec.json.encode(
        {
            "errorCode": "",
            "errorMessage": "",
            "content": [{"subscriberIdentifiers": {}, "customerName": "x"}],
            "pageable": {"page": 0, "size": 1, "totalPages": 1, "totalElements": 1},
        }
    )
    with pytest.raises(DecodeError) as info:
        codec_for(SubscriberDetails).items(body, 200, RequestContext("GET", "/x"))
    assert "$.content[0]" in info.value.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-02-11 14:21:53", dt.datetime(2022, 2, 11, 14, 21, 53)),
        ("2022-02-11 14:21:53.120", dt.datetime(2022, 2, 11, 14, 21, 53, 120_000)),
        ("2022-02-11 14:21:53.1", dt.datetime(2022, 2, 11, 14, 21, 53, 100_000)),
        ("2022-02-11T14:21:53.120", dt.datetime(2022, 2, 11, 14, 21, 53, 120_000)),
    ],
)
@pytest.mark.parametrize(
    ("model", "record"),
    [
        (
            Participant,
            {"id": 1, "iccid": "8", "status": "WAIT", "attempt": 1, "code": "", "message": ""},
        ),
        (Label, {"id": "6f1c0b4e-3a1f-4c39-9a51-1f6f7a2e1a10", "name": "x"}),
        (
            Campaign,
            {
                "id": 1,
                "name": "c",
                "templateId": 2,
                "status": "CREATED",
                "effectiveStart": "",
                "effectiveEnd": "",
                "maxRetries": 1,
            },
        ),
    ],
)
def test_both_date_time_forms_decode_wherever_a_date_time_appears(
    model: type[Any], record: dict[str, Any], text: str, expected: dt.datetime
) -> None:
    field = "creationTime" if model is Label else "timestamp"
    body = msgspec.json.encode(
        {
            "errorCode": "",
            "errorMessage": "",
            "content": [{**record, field: text}],
            "pageable": {"page": 0, "size": 1, "totalPages": 1, "totalElements": 1},
        }
    )
    [item] = codec_for(model).items(body, 200, RequestContext("GET", "/x"))
    got = item.creation_time if model is Label else item.timestamp
    assert got == expected
    assert got.tzinfo is None


# -- the paged list -----------------------------------------------------------------


@pytest.mark.usefixtures("no_leaks")
async def test_paged_list_reads_25000_sims_in_order_once_each_fanned_out() -> None:
    sandbox = Sandbox(latency=0.005)
    async with sandbox as url, Client(base_url=url, max_concurrency=8) as client:
        got = await client.subscribers(1, page_size=1000).collect()
        assert client.stats.requests == 25
    assert len(got) == CUSTOMER_1
    assert [s.iccid for s in got] == iccids(1, CUSTOMER_1)
    assert len({s.subscriber_id for s in got}) == CUSTOMER_1
    assert got[0] == as_model(DATA.subscriber(DATA.sim(1, 0)), Subscriber)
    assert got[-1] == as_model(DATA.subscriber(DATA.sim(1, CUSTOMER_1 - 1)), Subscriber)
    assert sandbox.stats.max_in_flight > 1
    # Every documented status, sub-customers' SIMs and multi-IMSI SIMs occur.
    assert {s.status for s in got} == set(SubscriberStatus)
    assert len({s.customer_id for s in got}) == 3
    assert any(len(s.imsi_msisdn_pairs) == 2 for s in got)
    assert all(sum(p.is_last_active for p in s.imsi_msisdn_pairs) <= 1 for s in got)


async def test_paged_list_faults_and_a_failed_page_resume_exactly() -> None:
    sandbox = Sandbox(fail_pages={4: "GLOBAL_1001"})
    async with sandbox as url, Client(base_url=url, sleep=FakeSleep()) as client:
        got: list[Subscriber] = []
        with pytest.raises(ServiceUnavailable) as info:
            async for s in client.subscribers(2, page_size=200):
                got.append(s)
        assert info.value.page == 4
        assert info.value.resume is not None
        sandbox.fail_pages.clear()
        got += await client.subscribers(2, resume=info.value.resume).collect()
    assert [s.iccid for s in got] == iccids(2, CUSTOMER_2)


async def test_empty_and_unknown_customers() -> None:
    async with Sandbox() as url, Client(base_url=url) as client:
        assert await client.subscribers(3).collect() == []
        assert await client.all_subscribers(3).collect() == []
        with pytest.raises(CustomerNotFound) as info:
            await client.subscribers(99).collect()
        assert (info.value.code, info.value.http_status) == ("CUSTOMER_1002", 404)
        # The first call of a read opens the session: its error is the server's own.
        with pytest.raises(CustomerNotFound):
            await client.all_subscribers(99).collect()
        with pytest.raises(CustomerNotFound):
            await client.all_subscriber_details(0).collect()


# -- the point-in-time cursor ---------------------------------------------------------


@pytest.mark.parametrize(("chunk_size", "calls"), [(1000, 25), (3000, 9), (10_000, 3)])
@pytest.mark.usefixtures("no_leaks")
async def test_cursor_reads_25000_sims_in_order_in_ceil_total_over_size_calls(
    chunk_size: int, calls: int
) -> None:
    sandbox = Sandbox(record=True)
    async with sandbox as url, Client(base_url=url) as client:
        got = [s async for s in client.all_subscribers(1, chunk_size=chunk_size)]
        assert client.stats.requests == calls == math.ceil(CUSTOMER_1 / chunk_size)
    assert [s.iccid for s in got] == iccids(1, CUSTOMER_1)
    assert len({s.subscriber_id for s in got}) == CUSTOMER_1
    assert got[12_345] == as_model(DATA.subscriber(DATA.sim(1, 12_345)), Subscriber)
    assert all(size == chunk_size for _, size in sandbox.cursor_log)
    assert sandbox.cursor_log[0][0] == ""  # the first call opens a session
    assert len({pit for pit, _ in sandbox.cursor_log}) == calls


async def test_cursor_sends_back_the_pit_id_of_the_previous_answer() -> None:
    sandbox = Sandbox(record=True)
    async with sandbox as url, Client(base_url=url) as client:
        chunks = [
            c async for c in client.all_subscribers(2, chunk_size=1000, keep_alive=30).pages()
        ]
    assert [c.number for c in chunks] == [0, 1, 2]
    assert [len(c.items) for c in chunks] == [1000, 1000, 500]
    assert [c.record_amount for c in chunks] == [1000, 1000, 500]
    assert {c.total_record_amount for c in chunks} == {CUSTOMER_2}
    assert [pit for pit, _ in sandbox.cursor_log] == ["", chunks[0].pit_id, chunks[1].pit_id]
    assert all(isinstance(c, Chunk) and c.total_elements == CUSTOMER_2 for c in chunks)


async def test_cursor_request_body(mocked: aioresponses) -> None:
    bodies: list[Any] = []

    def answer(url: Any, **kwargs: Any) -> CallbackResult:
        bodies.append(kwargs["json"])
        return CallbackResult(body=cursor_body([], "p1", total=0))

    mocked.post(f"{BASE}/api/v2/customer/7/subscriber-all", callback=answer)
    async with Client(base_url=BASE, token="t") as client:
        assert await client.all_subscribers(7, chunk_size=250, keep_alive=12).collect() == []
    assert bodies == [{"pitId": "", "pitKeepAlive": 12, "size": 250}]


async def test_iterator_state_and_resume_from_its_position_while_the_session_lives() -> None:
    async with Sandbox() as url, Client(base_url=url) as client:
        cursor = client.all_subscribers(2, chunk_size=400)
        head: list[Subscriber] = []
        async with cursor.pages() as chunks:
            assert chunks.position is None
            async for chunk in chunks:
                head += chunk.items
                assert chunks.items_read == len(head)
                assert chunks.pages_read == chunk.number + 1
                assert chunks.total_elements == CUSTOMER_2
                if chunk.number == 2:
                    break
        token = chunks.position
        assert token == CursorToken(
            path="/api/v2/customer/2/subscriber-all",
            pit_id=chunk.pit_id,
            chunk=3,
            records_read=1200,
            total=CUSTOMER_2,
        )
        # Small, picklable, JSON-encodable: fit for a checkpoint file.
        assert pickle.loads(pickle.dumps(token)) == token
        saved = msgspec.json.decode(msgspec.json.encode(token), type=CursorToken)
        rest_pages = client.all_subscribers(2, chunk_size=400, resume=saved).pages()
        rest = [s async for c in rest_pages for s in c.items]
        assert rest_pages.items_read == CUSTOMER_2
        assert rest_pages.pages_read == 4
        requests = client.stats.requests
        # A token taken after the last chunk has nothing left to read.
        assert await client.all_subscribers(2, resume=rest_pages.position).collect() == []
        assert client.stats.requests == requests
        with pytest.raises(ValueError, match="for /api/v2/customer/2/subscriber-all"):
            client.all_subscriber_details(2, resume=saved)
    assert [s.iccid for s in head + rest] == iccids(2, CUSTOMER_2)


@pytest.mark.parametrize("read_ahead", [False, True])
async def test_a_session_that_expires_mid_read_raises_cursor_expired(read_ahead: bool) -> None:
    clock = FakeClock()
    sandbox = Sandbox(clock=clock, record=True)
    async with (
        sandbox as url,
        Client(base_url=url, retry=RetryPolicy(base_delay=0), sleep=FakeSleep()) as client,
    ):
        got: list[Subscriber] = []
        with pytest.raises(CursorExpired) as info:
            async for chunk in client.all_subscribers(
                1, chunk_size=1000, keep_alive=5, read_ahead=read_ahead
            ).pages():
                got += chunk.items
                if chunk.number == 1:
                    # No await since the chunk arrived: the read-ahead, if any,
                    # has not been sent yet.
                    clock.now += 5 * 60
        assert client.stats.requests == 3  # never retried
    err = info.value
    assert [s.iccid for s in got] == iccids(1, 2000)
    assert (err.records_read, err.total, err.chunk, err.keep_alive) == (2000, CUSTOMER_1, 2, 5)
    assert err.page == 2
    assert err.path == "/api/v2/customer/1/subscriber-all"
    assert "must start over" in str(err)
    assert isinstance(err.__cause__, APIError)
    assert err.__cause__.code == PIT_EXPIRED
    assert pickle.loads(pickle.dumps(err)).records_read == 2000
    assert len(sandbox.cursor_log) == 3


async def test_each_call_keeps_the_session_alive_and_expire_cursors_ends_it() -> None:
    clock = FakeClock()
    sandbox = Sandbox(clock=clock)
    async with sandbox as url, Client(base_url=url) as client:
        chunks = client.all_subscribers(2, chunk_size=500, keep_alive=5, read_ahead=False).pages()
        async with chunks:
            async for chunk in chunks:
                clock.now += 4 * 60  # under the keep-alive between calls
                if chunk.number == 2:
                    break
        assert sandbox.open_cursors == 1
        assert sandbox.expire_cursors() == 1
        assert sandbox.open_cursors == 0
        with pytest.raises(CursorExpired) as info:
            await client.all_subscribers(2, chunk_size=500, resume=chunks.position).collect()
        # A resume token whose session is gone fails on its first call.
        assert (info.value.records_read, info.value.chunk) == (1500, 3)


async def test_pit_ttl_seconds_replace_the_keep_alive() -> None:
    clock = FakeClock()
    async with Sandbox(clock=clock, pit_ttl=2.0) as url, Client(base_url=url) as client:
        with pytest.raises(CursorExpired):
            async for _ in client.all_subscribers(2, chunk_size=1000).pages():
                clock.now += 2.0


async def test_a_faulty_server_still_gives_every_record_once_retrying_the_same_pit_id() -> None:
    faults = Faults(global_1001=0.1, server_error=0.1, drop=0.1, truncate=0.1)
    sandbox = Sandbox(faults=faults, record=True, seed=3)
    sleep = FakeSleep()
    retry = RetryPolicy(max_retries=10)
    async with sandbox as url, Client(base_url=url, sleep=sleep, retry=retry) as client:
        got = await client.all_subscribers(2, chunk_size=100).collect()
        retries = client.stats.retries
    assert [s.iccid for s in got] == iccids(2, CUSTOMER_2)
    faulted = sum(sandbox.stats.faults.values())
    assert faulted > 5
    assert retries == faulted == len(sleep.calls)
    # A retried call sent the same pitId again (a new session only when the
    # very first call's answer was lost).
    pits = [pit for pit, _ in sandbox.cursor_log]
    assert len(pits) == 25 + faulted
    assert len(set(pits[1:]) - {""}) == 24


async def test_retries_run_out_on_a_cursor_call_with_the_transient_error() -> None:
    sandbox = Sandbox(fail_pages={2: 503})
    retry = RetryPolicy(max_retries=2)
    async with sandbox as url, Client(base_url=url, sleep=FakeSleep(), retry=retry) as client:
        pages = client.all_subscribers(2, chunk_size=1000).pages()
        with pytest.raises(ServerError) as info:
            async for _ in pages:
                pass
        assert client.stats.requests == 2 + 3
        # Not CursorExpired: the session lives on, the read can go on from its position.
        assert info.value.page == 2
        assert pages.position is not None
        sandbox.fail_pages.clear()
        rest = await client.all_subscribers(2, resume=pages.position).collect()
    assert [s.iccid for s in rest] == iccids(2, CUSTOMER_2)[2000:]


@pytest.mark.parametrize("read_ahead", [False, True])
async def test_read_ahead_requests_the_next_chunk_while_the_consumer_works(
    read_ahead: bool,
) -> None:
    async with Sandbox() as url, Client(base_url=url) as client:
        cursor = client.all_subscribers(2, chunk_size=1000, read_ahead=read_ahead)
        async with cursor.pages() as chunks:
            first = await anext(chunks)
            assert first.number == 0
            assert len(sdk_tasks()) == (1 if read_ahead else 0)
            rest = [c async for c in chunks]
        assert sdk_tasks() == set()
        assert client.stats.requests == 3
    assert [c.number for c in rest] == [1, 2]


@pytest.mark.usefixtures("no_leaks")
async def test_breaking_out_of_a_cursor_read_leaks_nothing(
    held_sandbox: Callable[..., tuple[ThreadedSandbox, RequestGate]],
) -> None:
    server, gate = held_sandbox(RequestGate.nth(3))  # the read-ahead of chunk 2
    async with Client(base_url=server.url) as client:
        tasks = running_tasks()
        seen = 0
        async for _ in client.all_subscribers(1, chunk_size=1000):
            seen += 1
            if seen == 1500:
                break
        # The loop's finalizer closes the generator; the held read-ahead,
        # left running, would never end.
        await settled(tasks)
        assert client.stats.in_flight == 0
        sent = client.stats.requests
        assert sent == 3  # two chunks read, the read-ahead of the third cancelled
        await gate.until(lambda g: g.held == g.cancelled == 1)
        cursor = client.all_subscribers(1, chunk_size=1000)
        async with cursor:
            async for _ in cursor:
                break
        assert running_tasks() == tasks
        assert client.stats.in_flight == 0


@pytest.mark.usefixtures("no_leaks")
async def test_cancelling_the_consumer_cancels_the_read_ahead(
    held_sandbox: Callable[..., tuple[ThreadedSandbox, RequestGate]],
) -> None:
    server, gate = held_sandbox(RequestGate.nth(2))  # the read-ahead of chunk 1
    async with Client(base_url=server.url) as client:
        got_one = asyncio.Event()

        async def consume() -> None:
            async with client.all_subscribers(1).pages() as chunks:
                async for _ in chunks:
                    got_one.set()
                    await asyncio.Event().wait()

        task = asyncio.create_task(consume())
        await got_one.wait()
        await gate.until(lambda g: g.held == 1)
        assert len(sdk_tasks()) == 1  # the read-ahead is in flight
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sdk_tasks() == set()
        assert client.stats.in_flight == 0
        await gate.until(lambda g: g.held == g.cancelled == 1)


async def test_max_items_stops_without_asking_for_more() -> None:
    async with Sandbox() as url, Client(base_url=url) as client:
        first = client.all_subscribers(1, chunk_size=1000, max_items=2500).pages()
        got = [s async for c in first for s in c.items]
        assert client.stats.requests == 3
        token = first.position
        assert token is not None
        # The read stopped inside chunk 2: its position asks for chunk 2 again
        # (with the pitId chunk 2 was asked with) and skips what was handed over.
        assert (token.chunk, token.records_read, token.skip) == (2, 2500, 500)
        # On a resume, max_items counts from where the read goes on.
        more = await client.all_subscribers(
            1, chunk_size=1000, max_items=1200, resume=token
        ).collect()
        assert client.stats.requests == 3 + 2
        # A chunk handed over whole before the resume is skipped whole.
        whole = msgspec.structs.replace(token, skip=1000, records_read=3000)
        after = await client.all_subscribers(
            1, chunk_size=1000, max_items=10, resume=whole
        ).collect()
        assert client.stats.requests == 5 + 2
    assert [s.iccid for s in got + more] == iccids(1, 3700)
    assert [s.iccid for s in after] == iccids(1, 3010)[3000:]


async def test_details_cursor_matches_the_details_endpoint() -> None:
    async with Sandbox() as url, Client(base_url=url) as client:
        got = await client.all_subscriber_details(2, chunk_size=1000).collect()
        assert client.stats.requests == 3
        one = await client.subscriber("iccid", got[1234].subscriber_identifiers.iccid)
    assert [d.subscriber_identifiers.iccid for d in got] == iccids(2, CUSTOMER_2)
    assert all(isinstance(d, SubscriberDetails) for d in got)
    assert one == got[1234]
    assert got[7] == as_model(DATA.details(DATA.sim(2, 7)), SubscriberDetails)
    located = [d for d in got if d.last_known_location]
    assert located
    assert all(
        dt.datetime.fromisoformat(d.last_known_location["lastUpdate"]).microsecond % 1000 == 0
        and len(d.last_known_location["lastUpdate"]) == len("2022-02-11 14:21:53.120")
        for d in located
        if d.last_known_location is not None
    )


async def test_a_session_is_bound_to_its_customer_and_listing() -> None:
    async with Sandbox() as url, Client(base_url=url) as client:
        async with client.all_subscribers(2, chunk_size=1000).pages() as chunks:
            await anext(chunks)
        moved = msgspec.structs.replace(
            chunks.position, path="/api/v2/customer/2/subscriber-all-details"
        )
        with pytest.raises(CursorExpired):
            await client.all_subscriber_details(2, resume=moved).collect()


# -- the cursor against a scripted server ----------------------------------------------------

ALL_1 = f"{BASE}/api/v2/customer/1/subscriber-all"


def cursor_body(
    items: list[dict[str, Any]], pit: str | None, total: int | None = None, **extra: Any
) -> bytes:
    body: dict[str, Any] = {"errorCode": "", "errorMessage": "", "content": items, **extra}
    if pit is not None:
        body["pitId"] = pit
    body["recordAmount"] = len(items)
    if total is not None:
        body["totalRecordAmount"] = total
    return msgspec.json.encode(body)


def sim(i: int) -> dict[str, Any]:
    return {
        "subscriberId": str(uuid.UUID(int=i + 1)),
        "imsiMsisdnPairs": [{"imsi": f"4250{i:011d}", "isLastActive": True}],
        "iccid": f"89{i:017d}",
        "status": "ACTIVE",
    }


class CursorScript:
    """Answers chunk calls from a list of (status, body) answers, recording bodies."""

    def __init__(self, *answers: tuple[int, bytes]) -> None:
        self.answers = list(answers)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, url: Any, **kwargs: Any) -> CallbackResult:
        self.bodies.append(kwargs["json"])
        status, body = self.answers.pop(0)
        return CallbackResult(status=status, body=body)


def scripted(mocked: aioresponses, *answers: tuple[int, bytes]) -> CursorScript:
    script = CursorScript(*answers)
    mocked.post(ALL_1, callback=script, repeat=True)
    return script


async def test_without_a_total_the_read_ends_on_an_empty_chunk(mocked: aioresponses) -> None:
    script = scripted(
        mocked,
        (200, cursor_body([sim(0), sim(1)], "a")),
        (200, cursor_body([sim(2)], "b")),
        (200, cursor_body([], "c")),
    )
    async with make_client() as c:
        got = await c.all_subscribers(1, chunk_size=2).collect()
    assert [s.iccid for s in got] == [sim(i)["iccid"] for i in range(3)]
    assert [b["pitId"] for b in script.bodies] == ["", "a", "b"]


async def test_a_read_ending_short_of_the_total_warns_or_raises(mocked: aioresponses) -> None:
    answers = [(200, cursor_body([sim(0)], "a", total=5)), (200, cursor_body([], "b", total=5))]
    scripted(mocked, *answers, *answers, *answers)
    async with make_client() as c:
        with pytest.warns(ListIncompleteWarning, match="after 1 records.*totalRecordAmount 5"):
            assert len(await c.all_subscribers(1).collect()) == 1
        with pytest.raises(CursorIncomplete) as info:
            await c.all_subscribers(1, on_list_change="raise").collect()
        assert (info.value.before, info.value.after) == (5, 1)
        assert len(await c.all_subscribers(1, on_list_change="ignore").collect()) == 1


async def test_a_chunk_without_pit_id_is_handed_over_then_the_read_fails(
    mocked: aioresponses,
) -> None:
    script = scripted(mocked, (200, cursor_body([sim(0)], None, total=3)))
    got: list[Subscriber] = []
    async with make_client() as c:
        with pytest.raises(DecodeError, match="pitId"):
            async for s in c.all_subscribers(1):
                got.append(s)
    assert [s.iccid for s in got] == [sim(0)["iccid"]]
    assert len(script.bodies) == 1


@pytest.mark.parametrize(
    ("status", "body", "expired"),
    [
        (404, b"", True),
        (410, b"gone", True),
        (400, b'{"status": 400}', True),
        (404, msgspec.json.encode({"errorCode": "PIT_9", "errorMessage": "no such"}), True),
        (200, msgspec.json.encode({"errorCode": "PIT_9", "errorMessage": "no such"}), True),
        (200, msgspec.json.encode({"errorCode": "CUSTOMER_1002", "errorMessage": "x"}), False),
        (404, msgspec.json.encode({"errorCode": "SUBSCRIBER_1002", "errorMessage": "x"}), False),
        (403, b"", False),
        (409, b"", False),
        (503, b"", False),
    ],
)
async def test_which_errors_of_a_continuing_call_mean_the_session_is_lost(
    mocked: aioresponses, status: int, body: bytes, expired: bool
) -> None:
    scripted(mocked, (200, cursor_body([sim(0)], "a", total=2)), (status, body))
    async with make_client(retry=RetryPolicy.disabled()) as c:
        with pytest.raises(FloliveError) as info:
            await c.all_subscribers(1).collect()
    assert isinstance(info.value, CursorExpired) is expired
    if expired:
        assert info.value.records_read == 1
        assert isinstance(info.value.__cause__, APIError | HTTPStatusError)
    else:
        assert isinstance(info.value, APIError | HTTPStatusError)


async def test_a_lost_answer_is_retried_with_the_same_pit_id(mocked: aioresponses) -> None:
    script = CursorScript(
        (200, cursor_body([sim(0)], "a", total=2)),
        (200, cursor_body([sim(1)], "b", total=2)),
    )
    calls = 0

    def flaky(url: Any, **kwargs: Any) -> CallbackResult:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionResetError("reset by peer")
        return script(url, **kwargs)

    mocked.post(ALL_1, callback=flaky, repeat=True)
    async with make_client() as c:
        got = await c.all_subscribers(1).collect()
        assert c.stats.retries == 1
    assert [s.iccid for s in got] == [sim(0)["iccid"], sim(1)["iccid"]]
    assert [b["pitId"] for b in script.bodies] == ["", "a"]
    # With retries off, the same reset is the transport error.
    calls = 0
    script.answers = [(200, cursor_body([sim(0)], "a", total=2))]
    async with make_client(retry=RetryPolicy.disabled()) as c:
        with pytest.raises(TransportError):
            await c.all_subscribers(1).collect()


def test_retry_policy_retries_gets_and_idempotent_reads_only() -> None:
    policy = RetryPolicy()

    def unavailable(ctx: RequestContext) -> ServerError:
        return ServerError(503, context=ctx)

    assert policy.is_retryable(unavailable(RequestContext("GET", "/x")))
    assert policy.is_retryable(unavailable(RequestContext("POST", "/x", idempotent=True)))
    assert not policy.is_retryable(unavailable(RequestContext("POST", "/x")))
    assert not policy.is_retryable(ServerError(503))


async def test_a_redirected_cursor_call_is_refused(mocked: aioresponses) -> None:
    mocked.post(ALL_1, status=307, headers={"Location": f"{BASE}/elsewhere"})
    async with make_client() as c:
        with pytest.raises(RedirectRefused, match="only GETs are redirected"):
            await c.all_subscribers(1).collect()


async def test_cursor_arguments_are_checked_at_the_call() -> None:
    async with Client(base_url=BASE, token="t") as c:
        for bad in (
            {"chunk_size": 0},
            {"chunk_size": 10_001},
            {"chunk_size": True},
            {"keep_alive": 0},
            {"keep_alive": 31},
            {"max_items": 0},
            {"on_list_change": "shout"},
            {"timeout": -1},
            {"max_response_size": 0},
        ):
            with pytest.raises(ValueError, match=next(iter(bad))):
                c.all_subscribers(1, **bad)
        with pytest.raises(TypeError, match="unknown cursor option 'page_size'"):
            c.all_subscribers(1, page_size=10)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="CursorToken"):
            c.all_subscribers(1, resume="abc")  # type: ignore[typeddict-item]
        with pytest.raises(ValueError, match="customer_id"):
            c.all_subscribers("1/../2")  # type: ignore[arg-type]
        assert isinstance(c.all_subscribers(1), AsyncCursor)
        assert c.stats.requests == 0
    with pytest.raises(ClientNotOpenError):
        c.all_subscribers(1)


# -- details and profiles ------------------------------------------------------------


async def test_details_by_every_identifier_type_and_for_campaign_participants() -> None:
    index = next(i for i in range(100) if DATA.has_imei(DATA.sim(1, i)))
    async with Sandbox() as url, Client(base_url=url) as client:
        found = [
            await client.subscriber(kind.upper() if kind == "imei" else kind, value)
            for kind in ("iccid", "imsi", "msisdn", "imei")
            for value in [DATA.identifier(kind, 1, 0, index)]
        ]
        listed = await client.subscribers(1, max_items=index + 1).collect()
        participant = (await client.campaign_participants(1, 1, max_items=3).collect())[2]
        as_subscriber = await client.subscriber("iccid", participant.iccid)
        labels = await client.subscriber_labels("iccid", participant.iccid).collect()
    assert all(f == found[0] for f in found)
    ids = found[0].subscriber_identifiers
    sim_ = listed[index]
    assert (ids.subscriber_id, ids.iccid, ids.imsi_msisdn_pairs, ids.imei) == (
        sim_.subscriber_id,
        sim_.iccid,
        sim_.imsi_msisdn_pairs,
        sim_.imei,
    )
    assert (found[0].customer_id, found[0].subs_status) == (sim_.customer_id, sim_.status)
    assert as_subscriber.subscriber_identifiers.iccid == participant.iccid
    assert as_subscriber.user_labels == (",".join(label.name for label in labels) or None)


async def test_unknown_subscribers_and_eids_are_subscriber_not_found() -> None:
    no_imei = next(i for i in range(100) if not DATA.has_imei(DATA.sim(1, i)))
    async with Sandbox() as url, Client(base_url=url) as client:
        for kind, value in (
            ("iccid", DATA.identifier("iccid", 1, 0, CUSTOMER_1)),  # one past the last SIM
            ("imei", DATA.identifier("imei", 1, 0, no_imei)),
            ("msisdn", "1"),
        ):
            with pytest.raises(SubscriberNotFound) as info:
                await client.subscriber(kind, value)
            assert (info.value.code, info.value.http_status) == ("SUBSCRIBER_1002", 404)
        for eid in (DATA.eid(1, 11), DATA.eid(1, CUSTOMER_1), DATA.eid(99, 0), "8904903"):
            with pytest.raises(SubscriberNotFound):
                await client.subscriber_profiles(eid).collect()


async def test_profiles_of_an_eid() -> None:
    async with Sandbox() as url, Client(base_url=url) as client:
        counts = {}
        for index in range(0, 50, 5):
            profiles = await client.subscriber_profiles(DATA.eid(1, index)).collect()
            counts[len(profiles)] = profiles
            assert 1 <= len(profiles) <= 3
            assert sum(p.is_active for p in profiles) == 1
            assert [p.subscriber_identifiers.iccid for p in profiles] == iccids(1, index + 3)[
                index : index + len(profiles)
            ]
            assert all(isinstance(p, Profile) for p in profiles)
            assert len({p.id for p in profiles}) == len(profiles)
        assert set(counts) == {1, 2, 3}
        three = counts[3]
        paged = await client.subscriber_profiles(
            DATA.eid(1, int(three[0].subscriber_identifiers.iccid[-7:])), page_size=1
        ).collect()
        assert paged == three
        details = await client.subscriber("iccid", three[2].subscriber_identifiers.iccid)
        assert details.subscriber_identifiers == three[2].subscriber_identifiers


HOSTILE = [
    "../../customer/1/subscriber",
    "a/b",
    "?page=1&size=1",
    "#frag",
    " 8935770010000000000 ",
    "%2e%2e",
    "x\x00y",
    "\uff18\uff19",  # fullwidth digits
    "²",
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_identifiers_stay_one_path_segment(value: str) -> None:
    sandbox = Sandbox(record=True)
    async with sandbox as url, Client(base_url=url, retry=RetryPolicy.disabled()) as client:
        with pytest.raises(HTTPStatusError) as info:
            await client.subscriber("iccid", value)
        # The details route itself refused the value: not a route not found,
        # nor another endpoint reached through dot segments or a query.
        assert info.value.http_status == 400
        assert info.value.body is not None
        assert b"identifier must be numeric" in info.value.body
        with pytest.raises(HTTPStatusError) as info:
            await client.subscriber_profiles(value).collect()
        assert info.value.body is not None
        assert b"eid must be numeric" in info.value.body
    segment = quote(value, safe="")
    assert sandbox.log[0] == ("GET", f"/api/v2/subscriber/iccid/{segment}")
    assert {p.split("?")[0] for _, p in sandbox.log[1:]} == {
        f"/api/v2/subscriber/eid/{segment}/profiles"
    }


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.subscriber("iccid", ""), ValueError),
        (lambda c: c.subscriber("iccid", ".."), ValueError),
        (lambda c: c.subscriber("iccid", "."), ValueError),
        (lambda c: c.subscriber("iccid", True), ValueError),
        (lambda c: c.subscriber("eid", "1"), ValueError),
        (lambda c: c.subscriber("phone", "1"), ValueError),
        (lambda c: c.subscriber_profiles(".."), ValueError),
        (lambda c: c.subscriber_profiles(""), ValueError),
        (lambda c: c.subscribers("²"), ValueError),
    ],
)
async def test_refused_identifiers_send_nothing(
    call: Callable[[Client], Any], error: type[Exception]
) -> None:
    async with Client(base_url=BASE, token="t") as c:
        with pytest.raises(error):
            result = call(c)
            if asyncio.iscoroutine(result):
                await result
        assert c.stats.requests == 0


async def test_a_details_answer_with_other_than_one_item_is_a_decode_error(
    mocked: aioresponses,
) -> None:
    empty = msgspec.json.encode(
        {
            "errorCode": "",
            "errorMessage": "",
            "content": [],
            "pageable": {"page": 0, "size": 1, "totalPages": 0, "totalElements": 0},
        }
    )
    mocked.get(f"{BASE}/api/v2/subscriber/iccid/1", body=empty)
    async with make_client() as c:
        with pytest.raises(DecodeError, match="expected one subscriber"):
            await c.subscriber("iccid", "1")


# -- the sandbox's cursor, at the HTTP level ---------------------------------------------


async def post(url: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.post(url + path, data=body) as r:
        return r.status, msgspec.json.decode(await r.read())


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"size": 0}', 400, None),
        (b'{"size": 10001}', 400, None),
        (b'{"pitKeepAlive": 31}', 400, None),
        (b'{"pitKeepAlive": 0}', 400, None),
        (b"[1, 2]", 400, None),
        (b'{"size": "ten"}', 400, None),
        (b'{"pitId": "\xff"}', 400, None),
        (b'{"pitId": "not-a-pit-id"}', 404, PIT_EXPIRED),
        (b'{"pitId": "czk5OTk6MTA"}', 404, PIT_EXPIRED),  # a session never opened
    ],
)
async def test_sandbox_refuses_bad_cursor_calls(body: bytes, status: int, code: str | None) -> None:
    async with Sandbox() as url:
        got_status, answer = await post(url, "/api/v2/customer/1/subscriber-all", body)
    assert got_status == status
    if code is None:
        assert "errorCode" not in answer  # Spring's own error body
    else:
        assert answer["errorCode"] == code


async def test_sandbox_cursor_answer_shape() -> None:
    async with Sandbox() as url:
        status, answer = await post(
            url, "/api/v2/customer/2/subscriber-all", b'{"pitId": "", "size": 2}'
        )
        status2, again = await post(
            url,
            "/api/v2/customer/2/subscriber-all",
            msgspec.json.encode({"pitId": answer["pitId"], "size": 2}),
        )
        _, same = await post(
            url,
            "/api/v2/customer/2/subscriber-all",
            msgspec.json.encode({"pitId": answer["pitId"], "size": 2}),
        )
    assert (status, status2) == (200, 200)
    assert list(answer) == [
        "errorCode",
        "errorMessage",
        "content",
        "pitId",
        "recordAmount",
        "totalRecordAmount",
    ]
    assert (answer["recordAmount"], answer["totalRecordAmount"]) == (2, CUSTOMER_2)
    assert [s["iccid"] for s in answer["content"] + again["content"]] == iccids(2, 4)
    assert same == again  # the same pitId reads the same chunk again
    assert list(answer["content"][0])[:2] == ["subscriberId", "imsiMsisdnPairs"]


def test_the_docs_subscribers_example_runs(tmp_path: Path) -> None:
    done = run_example("subscribers", tmp_path)  # docs/subscribers.md, as a program
    first = iccids(2, 1)[0]
    sub = DATA.find_subscriber("iccid", first)
    assert sub is not None
    lines = done.stdout.splitlines()
    assert lines[:3] == [f"{CUSTOMER_2} {first}", f"{CUSTOMER_1} {CUSTOMER_1}", "True ACTIVE"]
    assert lines[3].startswith("['profile-")  # the eSIM's profiles, by name
    assert lines[4:] == [str(DATA.label_count(sub))]


async def test_listing_timeout_and_timeout_bound_a_cursor_read() -> None:
    # The server is slow on purpose: no answer can come within the limits.
    async with Sandbox(latency=0.5) as url, Client(base_url=url) as client:
        with pytest.raises(DeadlineExceeded):
            await client.all_subscribers(2, listing_timeout=0.05).collect()
        with pytest.raises(RequestTimeout) as info:
            await client.all_subscribers(2, timeout=0.05, retry=RetryPolicy.disabled()).collect()
        assert not isinstance(info.value, DeadlineExceeded)
        assert info.value.method == "POST"


async def test_a_resume_token_without_a_pit_id_is_refused() -> None:
    from flolive.cursor import CursorToken

    token = CursorToken(
        path="/api/v2/customer/1/subscriber-all",
        pit_id="",
        chunk=2,
        records_read=2000,
        total=25_000,
    )
    async with Client(base_url="http://127.0.0.1:9", token="t") as client:
        with pytest.raises(ValueError, match="start over"):
            client.all_subscribers(1, resume=token)
