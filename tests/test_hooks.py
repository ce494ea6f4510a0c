"""Hooks for library users: trace configs, on_retry, with_options, the
client's lifecycle state and the USE_CLIENT_DEFAULT sentinel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flolive import (
    USE_CLIENT_DEFAULT,
    Client,
    ClientNotOpenError,
    ClientState,
    FloliveError,
    RetryPolicy,
    ServerError,
)
from flolive.sandbox import Sandbox

from .support.readme import run_example


async def test_trace_configs_see_every_request_of_the_clients_session() -> None:
    seen: list[tuple[str, str]] = []

    async def on_start(session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        seen.append((params.method, params.url.query["page"]))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with (
        Sandbox() as url,
        Client(base_url=url, page_size=100, speculate=0, trace_configs=[trace]) as client,
    ):
        assert len(await client.campaign_participants(1, 1).collect()) == 988
    assert sorted(seen, key=lambda s: int(s[1])) == [("GET", str(n)) for n in range(10)]


def test_trace_configs_with_a_callers_session_are_refused() -> None:
    with pytest.raises(ValueError, match="trace_configs"):
        Client(
            base_url="http://x",
            session=object(),  # type: ignore[arg-type]
            trace_configs=[aiohttp.TraceConfig()],
        )


def test_opentelemetry_recipe_from_the_docs_records_one_span_per_request(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.instrumentation.aiohttp_client")
    done = run_example("opentelemetry", tmp_path)  # docs/configuration.md, as a program
    # spans recorded, requests the client sent, the spans' names
    assert done.stdout == "10 10 ['GET']\n"


async def test_on_retry_is_called_with_the_error_the_attempt_and_the_wait() -> None:
    calls: list[tuple[type[FloliveError], int | None, int, float]] = []
    sandbox = Sandbox(fail_pages={0: 503})

    def on_retry(error: FloliveError, attempt: int, delay: float) -> None:
        calls.append((type(error), error.page, attempt, delay))
        if attempt == 2:
            sandbox.fail_pages.clear()

    policy = RetryPolicy(base_delay=0.0, on_retry=on_retry)
    async with sandbox as url, Client(base_url=url, retry=policy, speculate=0) as client:
        assert len(await client.campaign_participants(1, 5).collect()) == 25
        assert client.stats.retries == 2
    assert calls == [(ServerError, 0, 1, 0.0), (ServerError, 0, 2, 0.0)]
    assert RetryPolicy(on_retry=on_retry) == RetryPolicy()  # a hook is not part of the policy


async def test_with_options_shares_the_connection_limiter_and_stats() -> None:
    sandbox = Sandbox(record=True)
    async with sandbox as url:
        parent = Client(base_url=url, page_size=100, max_concurrency=4, speculate=0)
        small = parent.with_options(page_size=10, timeout=5, retry=RetryPolicy.disabled())
        assert small.state is ClientState.UNOPENED
        with pytest.raises(ClientNotOpenError):
            small.campaign_participants(1, 5)
        async with parent:
            assert small.state is parent.state is ClientState.OPEN
            assert (small.page_size, small.timeout, parent.page_size, parent.timeout) == (
                10,
                5.0,
                100,
                30.0,
            )
            assert len(await small.campaign_participants(1, 5).collect()) == 25
            assert len(await parent.campaign_participants(1, 5).collect()) == 25
            assert small.stats is parent.stats
            assert parent.stats.requests == 3 + 1
            assert small._t is parent._t  # one session, one limiter
            async with small:
                pass
            await small.aclose()  # closes nothing
            assert parent.state is ClientState.OPEN
            assert (await parent.campaign(1, 1)).id == 1
        assert small.state is parent.state is ClientState.CLOSED
    sizes = sorted(qs for _, qs in sandbox.log if "size=" in qs)
    assert sum("size=10&" in q or q.endswith("size=10") for q in sizes) == 3
    with pytest.raises(TypeError, match="max_concurrency"):
        parent.with_options(max_concurrency=2)
    with pytest.raises(ValueError, match="page_size"):
        parent.with_options(page_size=0)


async def test_use_client_default_and_explicit_per_call_settings() -> None:
    from flolive import RequestTimeout

    # A server slower than the client's timeout on purpose.
    async with (
        Sandbox(latency=0.5) as url,
        Client(base_url=url, timeout=0.05, retry=RetryPolicy.disabled()) as client,
    ):
        with pytest.raises(RequestTimeout):
            await client.campaign(1, 1, timeout=USE_CLIENT_DEFAULT)
        with pytest.raises(RequestTimeout):
            await client.campaign(1, 1)
        assert (await client.campaign(1, 1, timeout=30)).id == 1
        assert (await client.campaign(1, 1, timeout=None)).id == 1
        with pytest.raises(ValueError, match="timeout"):
            await client.campaign(1, 1, timeout=float("inf"))
        with pytest.raises(TypeError, match="RetryPolicy"):
            await client.campaign(1, 1, retry=3)  # type: ignore[arg-type]
    assert repr(USE_CLIENT_DEFAULT) == "USE_CLIENT_DEFAULT"
