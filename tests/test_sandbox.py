"""The sandbox answers like the real API, and its knobs do what they say."""

from __future__ import annotations

import json

import aiohttp
import pytest

from flolive import Client, RetryPolicy
from flolive.sandbox import DataSet, Faults, Sandbox

from .support.clients import FakeSleep

PARTICIPANTS = "/api/v2/customer/1/campaign/1/participants"


async def get(url: str, path: str, **headers: str) -> tuple[int, dict[str, object], dict[str, str]]:
    async with aiohttp.ClientSession() as s, s.get(url + path, headers=headers) as r:
        raw = await r.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"text": raw.decode()}
        return r.status, body, dict(r.headers)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v2/subscriber/phone/123/label", 400, None),
        ("/api/v2/subscriber/iccid/12ab/label", 400, None),
        ("/api/v2/customer/one/campaign/1/participants", 400, None),
        ("/api/v2/customer/1/campaign/x/participants", 400, None),
        (PARTICIPANTS + "?page=a", 400, None),
        ("/api/v2/customer/0/campaign/1/participants", 404, "CUSTOMER_1002"),
        ("/api/v2/customer/1/campaign/6/participants", 404, "CUSTOMER_1037"),
        ("/api/v2/customer/1/campaign/6", 404, "CUSTOMER_1037"),
        ("/api/v2/subscriber/imei/35001001000000000/label", 404, "SUBSCRIBER_1002"),
    ],
)
async def test_rejects_what_the_real_api_would(path: str, status: int, code: str | None) -> None:
    async with Sandbox() as url:
        got_status, body, _ = await get(url, path)
    assert got_status == status
    if code is None:
        assert "errorCode" not in body  # Spring's own error body, not an envelope
    else:
        assert body == {
            "errorCode": code,
            "errorMessage": body["errorMessage"],
            "content": "",
            "pageable": "",
        }


async def test_page_envelope_matches_the_vendor_shape() -> None:
    async with Sandbox(max_page_size=50) as url:
        status, body, _ = await get(url, PARTICIPANTS + "?page=3&size=500")
    assert status == 200
    assert body["errorCode"] == ""
    assert body["pageable"] == {"page": 3, "size": 50, "totalPages": 20, "totalElements": 988}
    content = body["content"]
    assert isinstance(content, list)
    assert [c["id"] for c in content] == [1_030_247 + i for i in range(150, 200)]
    assert list(content[0]) == ["id", "iccid", "status", "attempt", "code", "message", "timestamp"]


async def test_every_identifier_type_finds_the_same_labels() -> None:
    data = DataSet()
    async with Sandbox() as url, Client(base_url=url) as client:
        results = [
            await client.subscriber_labels(kind, data.identifier(kind, 2, 5, 24)).collect()
            for kind in ("iccid", "imsi", "msisdn", "imei")
        ]
    assert all(r == results[0] for r in results)


async def test_required_token_and_stats_endpoint() -> None:
    sandbox = Sandbox(token="s3", latency=0.001)
    async with sandbox as url:
        assert (await get(url, PARTICIPANTS))[0] == 401
        assert (await get(url, PARTICIPANTS, Authorization="Bearer nope"))[0] == 401
        assert (await get(url, PARTICIPANTS, Authorization="Bearer s3"))[0] == 200
        status, stats, _ = await get(url, "/_sandbox/stats")
    assert status == 200
    assert stats["requests"] == 3
    assert stats["max_in_flight"] == 1
    assert set(stats["faults"]) == {  # type: ignore[arg-type]
        "global_1001",
        "rate_limited",
        "server_error",
        "unavailable",
        "drop",
        "truncate",
    }


async def test_429_carries_retry_after_and_throttle_mode_limits_in_flight(
    fake_sleep: FakeSleep,
) -> None:
    async with Sandbox(faults=Faults(rate_limited=1.0, retry_after=3)) as url:
        status, _, headers = await get(url, PARTICIPANTS)
    assert (status, headers["Retry-After"]) == (429, "3")
    sandbox = Sandbox(throttle_above=2, latency=0.01, faults=Faults(retry_after=0.5))
    async with (
        sandbox as url,
        Client(
            base_url=url,
            page_size=10,
            max_concurrency=6,
            sleep=fake_sleep,
            retry=RetryPolicy(max_retries=50),
        ) as client,
    ):
        ids = [p.id async for p in client.campaign_participants(1, 1)]
    assert ids == [1_030_247 + i for i in range(988)]
    assert sandbox.stats.throttled > 0
    assert set(fake_sleep.calls) == {0.5}


async def test_faults_are_reproducible_whatever_the_arrival_order(fake_sleep: FakeSleep) -> None:
    faults = Faults(global_1001=0.1, server_error=0.1, unavailable=0.1, retry_after=0)
    seen = []
    for concurrency in (1, 8):
        sandbox = Sandbox(seed=11, faults=faults)
        async with (
            sandbox as url,
            Client(
                base_url=url,
                page_size=10,
                max_concurrency=concurrency,
                sleep=fake_sleep,
                retry=RetryPolicy(max_retries=10),
            ) as client,
        ):
            assert len(await client.campaign_participants(1, 1).collect()) == 988
        seen.append(dict(sandbox.stats.faults))
    assert seen[0] == seen[1]
    assert sum(seen[0].values()) > 0


async def test_million_participant_campaign_is_generated_per_page() -> None:
    async with Sandbox() as url, Client(base_url=url, page_size=1000) as client:
        pager = client.campaign_participants(1, 2, start_page=999)
        last = await pager.collect()
    assert pager.total_elements == 1_000_000
    assert [p.id for p in last] == [1_030_247 + i for i in range(999_000, 1_000_000)]
