"""The HTTP layer, mocked with aioresponses: error mapping, retries, pauses, headers."""

from __future__ import annotations

import asyncio
import re

import pytest
from aioresponses import CallbackResult, aioresponses

from flolive import (
    APIError,
    AuthenticationError,
    CampaignNotFound,
    Client,
    ClientNotOpenError,
    CustomerNotFound,
    DecodeError,
    FloliveError,
    HTTPStatusError,
    ListChangedWarning,
    RateLimited,
    RequestTimeout,
    RetryPolicy,
    ServerError,
    ServiceUnavailable,
    TransportError,
)

from .support.clients import BASE, FakeSleep, make_client
from .support.envelopes import PagedScript, error_body, page_body
from .support.events import turns
from .support.hostile import TOKEN

PARTICIPANTS = re.compile(r"^http://api\.test/api/v2/customer/1/campaign/2/participants\?.*$")


async def collect_ids(c: Client, **kw: object) -> list[int]:
    return [p.id async for p in c.campaign_participants(1, 2, **kw)]  # type: ignore[arg-type]


async def test_requests_carry_paging_auth_and_user_agent(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    script = PagedScript(total=25, size=10)
    mocked.get(PARTICIPANTS, callback=script, repeat=True)
    async with make_client(sleep=fake_sleep, page_size=10, headers={"X-Trace": "t1"}) as c:
        ids = await collect_ids(c)
    assert ids == [1000 + i for i in range(25)]
    assert sorted(script.pages_requested()) == [0, 1, 2]
    headers = script.requests[0][1]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["User-Agent"].startswith("flolive-sdk/")
    assert headers["X-Trace"] == "t1"
    call = next(iter(mocked.requests.values()))[0]
    assert call.kwargs["params"] == {"page": 0, "size": 10}


@pytest.mark.parametrize(
    ("status", "body", "exc_type", "code"),
    [
        (
            200,
            error_body("CUSTOMER_1037", "Campaign does not exist"),
            CampaignNotFound,
            "CUSTOMER_1037",
        ),
        (
            404,
            error_body("CUSTOMER_1002", "Customer does not exist"),
            CustomerNotFound,
            "CUSTOMER_1002",
        ),
        (500, error_body("CUSTOMER_1099", "Something new"), APIError, "CUSTOMER_1099"),
        (404, b"<html>Not Found</html>", HTTPStatusError, None),
        (401, b'{"error": "Unauthorized"}', AuthenticationError, None),
        (403, b"forbidden", AuthenticationError, None),
        (400, b'{"status": 400}', HTTPStatusError, None),
    ],
)
async def test_error_mapping_without_retry(
    mocked: aioresponses,
    fake_sleep: FakeSleep,
    status: int,
    body: bytes,
    exc_type: type[FloliveError],
    code: str | None,
) -> None:
    mocked.get(PARTICIPANTS, status=status, body=body, repeat=True)
    async with make_client(sleep=fake_sleep) as c:
        with pytest.raises(exc_type) as info:
            await collect_ids(c)
        assert c.stats.requests == 1  # none of these is retried
    err = info.value
    assert type(err) is exc_type
    assert err.page == 0
    assert (err.method, err.path) == ("GET", "/api/v2/customer/1/campaign/2/participants")
    if code is not None:
        assert isinstance(err, APIError)
        assert err.code == code
        assert err.http_status == status
    else:
        assert isinstance(err, HTTPStatusError)
        assert err.http_status == status
    if isinstance(err, AuthenticationError):
        assert err.body is None  # auth response bodies are never kept
    assert fake_sleep.calls == []


async def test_html_502_is_retried_then_server_error(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    mocked.get(PARTICIPANTS, status=502, body=b"<html>Bad Gateway</html>", repeat=True)
    async with make_client(sleep=fake_sleep, retry=RetryPolicy(max_retries=3, base_delay=0.5)) as c:
        with pytest.raises(ServerError) as info:
            await collect_ids(c)
        assert c.stats.requests == 4
        assert c.stats.retries == 3
    assert info.value.http_status == 502
    assert info.value.body == b"<html>Bad Gateway</html>"
    assert len(fake_sleep.calls) == 3
    # Full jitter: each wait lies in [0, base * 2**n].
    for n, delay in enumerate(fake_sleep.calls):
        assert 0 <= delay <= 0.5 * 2**n


async def test_global_1001_then_success(mocked: aioresponses, fake_sleep: FakeSleep) -> None:
    script = PagedScript(total=30, size=10)
    script.fail(1, 200, error_body("GLOBAL_1001", "Service unavailable. Please try again"))
    script.fail(1, 503, error_body("GLOBAL_1001", "Service unavailable. Please try again"))
    mocked.get(PARTICIPANTS, callback=script, repeat=True)
    async with make_client(sleep=fake_sleep, page_size=10) as c:
        ids = await collect_ids(c)
        assert c.stats.retries == 2
        assert c.stats.throttles == 2
    assert ids == [1000 + i for i in range(30)]
    assert script.pages_requested().count(1) == 3
    assert len(fake_sleep.calls) == 2


async def test_exhausted_global_1001_raises_service_unavailable(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    mocked.get(PARTICIPANTS, status=200, body=error_body("GLOBAL_1001", "busy"), repeat=True)
    async with make_client(sleep=fake_sleep, retry=RetryPolicy(max_retries=5)) as c:
        with pytest.raises(ServiceUnavailable) as info:
            await collect_ids(c)
        assert c.stats.requests == 6
    assert info.value.code == "GLOBAL_1001"
    assert info.value.page == 0


async def test_other_codes_are_never_retried_even_on_5xx(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    mocked.get(PARTICIPANTS, status=503, body=error_body("CUSTOMER_1037", "gone"), repeat=True)
    async with make_client(sleep=fake_sleep) as c:
        with pytest.raises(CampaignNotFound):
            await collect_ids(c)
        assert c.stats.requests == 1


async def test_retry_after_is_honoured_and_capped(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    script = PagedScript(total=5, size=10)
    script.fail(0, 429, b"slow down", **{"Retry-After": "7"})
    script.fail(0, 503, b"busy", **{"Retry-After": "3600"})
    mocked.get(PARTICIPANTS, callback=script, repeat=True)
    async with make_client(sleep=fake_sleep, retry=RetryPolicy(max_retry_after=60)) as c:
        assert len(await collect_ids(c)) == 5
    assert fake_sleep.calls == [7.0, 60.0]


async def test_429_pauses_every_request_of_the_client(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    script = PagedScript(total=20, size=1)
    script.fail(3, 429, b"", **{"Retry-After": "5"})
    mocked.get(PARTICIPANTS, callback=script, repeat=True)
    seen: list[tuple[int, int]] = []

    async def pausing_sleep(seconds: float) -> None:
        fake_sleep.calls.append(seconds)
        before = c.stats.requests
        await turns(50)  # plenty of loop turns for waiting requests to move
        seen.append((before, c.stats.requests))

    async with make_client(sleep=pausing_sleep, max_concurrency=4, page_size=1) as c:
        ids = await collect_ids(c)
        assert c.stats.throttles == 1
    assert ids == [1000 + i for i in range(20)]
    assert fake_sleep.calls == [5.0]
    ((before, after),) = seen
    assert before == after, "a request was sent while the client was paused"
    assert before < 21  # the pause began before the listing was done


async def test_exhausted_429_raises_rate_limited_with_retry_after(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    mocked.get(PARTICIPANTS, status=429, body=b"", headers={"Retry-After": "2"}, repeat=True)
    async with make_client(sleep=fake_sleep, retry=RetryPolicy(max_retries=2)) as c:
        with pytest.raises(RateLimited) as info:
            await collect_ids(c)
        assert c.stats.requests == 3
        assert c.stats.throttles == 3
    assert info.value.retry_after == 2.0
    assert fake_sleep.calls == [2.0, 2.0]


async def test_transport_errors_are_retried_then_typed(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    import aiohttp

    mocked.get(PARTICIPANTS, exception=aiohttp.ServerDisconnectedError(), repeat=True)
    async with make_client(sleep=fake_sleep) as c:
        with pytest.raises(TransportError) as info:
            await collect_ids(c)
        assert c.stats.requests == 4
    assert "ServerDisconnectedError" in str(info.value)
    assert info.value.page == 0


async def test_timeouts_are_request_timeouts(mocked: aioresponses, fake_sleep: FakeSleep) -> None:
    mocked.get(PARTICIPANTS, exception=TimeoutError(), repeat=True)
    async with make_client(sleep=fake_sleep, retry=RetryPolicy.disabled()) as c:
        with pytest.raises(RequestTimeout):
            await collect_ids(c)
        assert c.stats.requests == 1


async def test_per_call_retry_override(mocked: aioresponses, fake_sleep: FakeSleep) -> None:
    mocked.get(PARTICIPANTS, status=500, body=b"", repeat=True)
    async with make_client(sleep=fake_sleep) as c:
        with pytest.raises(ServerError):
            await collect_ids(c, retry=RetryPolicy(max_retries=1))
        assert c.stats.requests == 2


async def test_post_is_never_retried(mocked: aioresponses, fake_sleep: FakeSleep) -> None:
    mocked.post(f"{BASE}/api/v2/auth/token", status=503, body=b"", repeat=True)
    async with Client(
        base_url=BASE, username="u", password="pw-secret", sleep=fake_sleep, speculate=0
    ) as c:
        with pytest.raises(ServerError) as info:
            await collect_ids(c)
        assert c.stats.requests == 1
    assert "pw-secret" not in repr(info.value) + str(info.value)


async def test_truncated_body_against_content_length_is_transport_error(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    import aiohttp

    mocked.get(
        PARTICIPANTS,
        exception=aiohttp.ClientPayloadError("Response payload is not completed"),
        repeat=True,
    )
    async with make_client(sleep=fake_sleep, retry=RetryPolicy(max_retries=1)) as c:
        with pytest.raises(TransportError) as info:
            await collect_ids(c)
    assert "ClientPayloadError" in str(info.value)


async def test_secrets_never_appear_in_errors_or_reprs(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    def echo_auth(url: object, **kwargs: object) -> CallbackResult:
        headers = kwargs["headers"]
        assert isinstance(headers, dict)
        return CallbackResult(status=418, body=headers["Authorization"].encode())

    mocked.get(PARTICIPANTS, callback=echo_auth)
    c = Client(base_url=BASE, token="tok-SECRET", sleep=fake_sleep)
    async with c:
        with pytest.raises(HTTPStatusError) as info:
            await collect_ids(c)
    text = repr(c) + str(info.value) + repr(info.value)
    assert "tok-SECRET" not in text
    assert "tok-SECRET" not in repr(c._auth)


async def test_use_outside_async_with_is_a_clear_error() -> None:
    c = Client(base_url=BASE)
    with pytest.raises(ClientNotOpenError, match="async with"):
        c.campaign_participants(1, 2)
    with pytest.raises(ClientNotOpenError):
        await c.campaign(1, 2)


async def test_closing_the_client_stops_a_listing(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    script = PagedScript(total=30, size=10)
    mocked.get(PARTICIPANTS, callback=script, repeat=True)
    async with make_client(sleep=fake_sleep, page_size=10, max_concurrency=1, prefetch=1) as c:
        pager = c.campaign_participants(1, 2)
        it = aiter(pager)
        assert (await anext(it)).id == 1000
    with pytest.raises(ClientNotOpenError) as info:
        async for _ in it:
            pass
    assert info.value.page == 1


async def test_campaign_endpoint(mocked: aioresponses, fake_sleep: FakeSleep) -> None:
    campaign = {
        "id": 7,
        "name": "c7",
        "templateId": 3,
        "status": "CREATED",
        "timestamp": "2022-02-11 14:21:53",
        "effectiveStart": "2022-02-11 14:21:53",
        "effectiveEnd": "2022-03-11 14:21:53",
        "maxRetries": 2,
        "description": "d",
    }
    mocked.get(f"{BASE}/api/v2/customer/1/campaign/7", body=page_body([campaign], 0, 1, 1, 1))
    mocked.get(f"{BASE}/api/v2/customer/1/campaign/8", body=page_body([], 0, 1, 0, 0))
    async with make_client(sleep=fake_sleep) as c:
        got = await c.campaign(1, 7)
        assert (got.id, got.name, got.description, got.max_retries) == (7, "c7", "d", 2)
        with pytest.raises(DecodeError, match="expected one campaign"):
            await c.campaign(1, 8)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.subscriber_labels("phone", "1"), "id_type"),
        (lambda c: c.subscriber_labels("iccid", ""), "identifier"),
        (lambda c: c.campaign_participants("1/../2", 3), "customer_id"),
        (lambda c: c.campaign_participants(1, -3), "campaign_id"),
        (lambda c: c.campaign_participants(1, 2, page_size=0), "page_size"),
        (lambda c: c.campaign_participants(1, 2, page_base=2), "page_base"),
        (lambda c: c.campaign_participants(1, 2, start_page=0, page_base=1), "start_page"),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    mocked: aioresponses, fake_sleep: FakeSleep, call: object, message: str
) -> None:
    async with make_client(sleep=fake_sleep) as c:
        with pytest.raises(ValueError, match=message):
            call(c)  # type: ignore[operator]
        assert c.stats.requests == 0


def test_client_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOLIVE_BASE_URL", "https://env.example/")
    monkeypatch.setenv("FLOLIVE_USERNAME", "alice")
    monkeypatch.setenv("FLOLIVE_PASSWORD", "pw")
    c = Client()
    assert c.base_url == "https://env.example"
    assert c._auth.kind == "password"
    assert "pw" not in repr(c)
    monkeypatch.delenv("FLOLIVE_BASE_URL")
    with pytest.raises(ValueError, match="FLOLIVE_BASE_URL"):
        Client()


def test_retry_after_parsing() -> None:
    policy = RetryPolicy(max_retry_after=60)
    assert policy.retry_after({"Retry-After": "2.5"}) == 2.5
    assert policy.retry_after({"retry-after-ms": "1500"}) == 1.5
    assert policy.retry_after({"Retry-After": "999"}) == 60
    # A wait of 0 or in the past is no hint: backoff applies (#14).
    assert policy.retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert policy.retry_after({"Retry-After": "0"}) is None
    assert policy.retry_after({"retry-after-ms": "-5"}) is None
    assert policy.retry_after({"Retry-After": "soon"}) is None
    assert policy.retry_after({}) is None


async def test_environment_proxy_is_resolved_once_and_used(
    mocked: aioresponses, fake_sleep: FakeSleep, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yarl import URL

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.test:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    mocked.get(PARTICIPANTS, callback=PagedScript(total=3, size=10), repeat=True)
    async with make_client(sleep=fake_sleep) as c:
        await collect_ids(c)
    call = next(iter(mocked.requests.values()))[0]
    assert call.kwargs["proxy"] == URL("http://proxy.test:3128")


async def test_an_empty_page_in_the_middle_does_not_end_the_list(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    script = PagedScript(total=50, size=10)
    script.fail(2, 200, page_body([], 2, 10, 5, 50))
    mocked.get(PARTICIPANTS, callback=script, repeat=True)
    async with make_client(sleep=fake_sleep, page_size=10) as c:
        # The list ends 10 short of the 50 the server counted: reported, not hidden.
        with pytest.warns(ListChangedWarning, match="after 40 items .* totalElements 50"):
            ids = await collect_ids(c)
    assert ids == [1000 + i for i in range(50) if not 20 <= i < 30]
    assert sorted(script.pages_requested()) == [0, 1, 2, 3, 4]


async def test_retries_are_logged_without_secrets(
    mocked: aioresponses, fake_sleep: FakeSleep, caplog: pytest.LogCaptureFixture
) -> None:
    script = PagedScript(total=5, size=10).fail(0, 503, b"busy")
    mocked.get(PARTICIPANTS, callback=script, repeat=True)
    with caplog.at_level("DEBUG", logger="flolive"):
        async with make_client(sleep=fake_sleep) as c:
            await collect_ids(c)
    (record,) = [r for r in caplog.records if r.name == "flolive"]
    message = record.getMessage()
    assert message.startswith("retry 1 of 3 in ")
    assert (
        "ServerError: HTTP 503 (GET /api/v2/customer/1/campaign/2/participants, page 0)" in message
    )
    assert "tok-123" not in caplog.text


async def test_a_login_refused_by_envelope_never_keeps_the_servers_words(
    mocked: aioresponses, fake_sleep: FakeSleep
) -> None:
    mocked.post(
        f"{BASE}/api/v2/auth/token",
        status=401,
        body=error_body("AUTH_1001", "bad password pw-secret-123 for u"),
        repeat=True,
    )
    async with Client(
        base_url=BASE, username="u", password="pw-secret-123", sleep=fake_sleep, speculate=0
    ) as c:
        with pytest.raises(APIError) as info:
            await collect_ids(c)
    assert (info.value.code, info.value.path) == ("AUTH_1001", "/api/v2/auth/token")
    said = repr(info.value) + str(info.value) + info.value.message
    assert "pw-secret-123" not in said
    assert "withheld" in info.value.message


async def test_requests_sharing_one_failed_login_keep_their_own_pages() -> None:
    from flolive.sandbox import Sandbox

    async with (
        Sandbox(users={"u": "right"}) as url,
        Client(base_url=url, username="u", password="wrong", speculate=0) as c,
    ):
        results = await asyncio.gather(
            c.campaign_participants(1, 1, start_page=3, max_pages=1).collect(),
            c.campaign_participants(1, 1, start_page=5, max_pages=1).collect(),
            return_exceptions=True,
        )
        assert c.stats.logins == 0
        assert c.stats.requests == 1  # one login for both, refused once
    assert [type(r) for r in results] == [AuthenticationError, AuthenticationError]
    assert [r.page for r in results] == [3, 5]  # type: ignore[union-attr]
    assert [r.resume.page for r in results] == [3, 5]  # type: ignore[union-attr]
