"""Request ids and headers, raw requests, per-call headers and query, and errors
that say what happened (certificates, proxies, refused hosts, Retry-After 0),
against the sandbox, aiohttp servers, a TLS server with a CA made by trustme,
and a real tinyproxy when it is installed."""

from __future__ import annotations

import pickle
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import flolive
from flolive import (
    AuthenticationError,
    CampaignNotFound,
    CertificateError,
    Client,
    ProxyError,
    RateLimited,
    RetryPolicy,
    TransportError,
)
from flolive.sandbox import Sandbox

from .support.servers import answering, serving

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def serve(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> Any:
    return serving(answering(handler), ssl_context)


def envelope(content: Any, page: int = 0, total: int = 1) -> dict[str, Any]:
    return {
        "errorCode": "",
        "errorMessage": "",
        "content": content,
        "pageable": {"page": page, "size": 10, "totalPages": total, "totalElements": total},
    }


# -- request ids and headers ---------------------------------------------------


async def test_pages_chunks_and_errors_carry_the_sandboxs_request_id() -> None:
    async with Sandbox() as url, Client(url, token="t") as client:
        pages = client.campaigns(1, page_size=2).pages()
        async with pages:
            ids = [page.request_id async for page in pages]
        assert ids
        assert all(i is not None and i.startswith("sbx-") for i in ids)
        assert len(set(ids)) == len(ids)  # one per answer
        chunks = client.all_subscribers(1, chunk_size=500).pages()
        async with chunks:
            first = await anext(chunks)
        assert first.request_id is not None
        assert first.request_id.startswith("sbx-")
        with pytest.raises(CampaignNotFound) as info:
            await client.campaign(1, 999_999)
    err = info.value
    assert err.request_id is not None
    assert err.request_id.startswith("sbx-")
    assert err.headers is not None
    assert err.headers["request-id"] == err.request_id
    assert pickle.loads(pickle.dumps(err)).request_id == err.request_id


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Request-Id": "a", "X-Request-Id": "b"}, "a"),
        ({"X-Request-Id": "b", "X-Correlation-Id": "c"}, "b"),
        ({"x-correlation-id": "c"}, "c"),
        ({}, None),
    ],
)
async def test_request_id_header_precedence(headers: dict[str, str], expected: str | None) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {"errorCode": "X_1", "errorMessage": "no"},
            status=400,
            headers={**headers, "Set-Cookie": "session=secret", "X-Other": "kept"},
        )

    async with serve(handler) as url, Client(url, token="t") as client:
        with pytest.raises(flolive.APIError) as info:
            await client.get_items("/api/v2/x", dict)
    err = info.value
    assert err.request_id == expected
    assert err.headers is not None
    assert "Set-Cookie" not in err.headers
    assert "set-cookie" not in err.headers
    assert err.headers["X-Other"] == "kept"
    with pytest.raises(TypeError):
        err.headers["X-Other"] = "changed"  # type: ignore[index]


# -- raw requests ----------------------------------------------------------------


async def test_raw_request_goes_through_auth_retries_and_typed_errors() -> None:
    seen: list[tuple[str, str, str | None, str | None]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(
            (
                request.method,
                request.path_qs,
                request.headers.get("Authorization"),
                request.headers.get("X-Trace"),
            )
        )
        if request.path == "/api/v2/flaky" and len(seen) == 1:
            return web.Response(status=503)
        if request.path == "/api/v2/missing":
            return web.json_response({"errorCode": "CUSTOMER_1002", "errorMessage": "no"})
        return web.json_response({"ok": True}, headers={"X-Request-Id": "rid-7"})

    policy = RetryPolicy(base_delay=0.001, max_delay=0.001)
    async with serve(handler) as url, Client(url, token="tok-123456", retry=policy) as client:
        resp = await client.request(
            "get", "/api/v2/flaky", params={"a": 1}, extra_headers={"X-Trace": "t1"}
        )
        assert (resp.status, resp.json(), resp.request_id) == (200, {"ok": True}, "rid-7")
        assert resp.content == b'{"ok": true}'
        assert seen == [
            ("GET", "/api/v2/flaky?a=1", "Bearer tok-123456", "t1"),
            ("GET", "/api/v2/flaky?a=1", "Bearer tok-123456", "t1"),
        ]
        with pytest.raises(flolive.CustomerNotFound):
            await client.request("GET", "/api/v2/missing")
        seen.clear()
        resp = await client.request("POST", "/api/v2/echo", json={"x": 1})
        assert resp.status == 200
        assert seen[0][0] == "POST"
        with pytest.raises(ValueError, match="credentials come from the client only"):
            await client.request("GET", "/api/v2/x", extra_headers={"Authorization": "x"})
        with pytest.raises(ValueError, match="starting with '/'"):
            await client.request("GET", "api/v2/x")


async def test_a_post_is_retried_only_when_marked_idempotent() -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=503)

    policy = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.001)
    async with serve(handler) as url, Client(url, token="t", retry=policy) as client:
        with pytest.raises(flolive.ServerError):
            await client.request("POST", "/api/v2/x")
        assert calls == 1
        with pytest.raises(flolive.ServerError):
            await client.request("POST", "/api/v2/x", idempotent=True)
        assert calls == 1 + 3


# -- per-call headers and query --------------------------------------------------


async def test_extra_headers_and_query_reach_every_page() -> None:
    seen: list[tuple[str, str | None, str | None]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(
            (request.query.get("page", ""), request.query.get("f"), request.headers.get("X-A"))
        )
        page = int(request.query["page"])
        return web.json_response(envelope([{"n": page}], page=page, total=3))

    async with serve(handler) as url, Client(url, token="t", headers={"X-A": "client"}) as client:
        got = await client.paginate(
            "/api/v2/p", dict, extra_headers={"X-A": "call"}, extra_query={"f": "1"}, speculate=0
        ).collect()
        assert got == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert sorted(seen) == [("0", "1", "call"), ("1", "1", "call"), ("2", "1", "call")]
        seen.clear()
        await client.get_items("/api/v2/p", dict, params={"page": 0})
        assert seen == [("0", None, "client")]


# -- errors that say what happened ----------------------------------------------


async def test_a_certificate_that_does_not_verify_is_not_retried() -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(envelope([{"n": 1}]))

    async with serve(handler, server_ctx) as url:
        async with Client(url, token="t") as client:
            with pytest.raises(CertificateError, match="certificate") as info:
                await client.get_items("/api/v2/x", dict)
            assert client.stats.requests == 1
            assert client.stats.retries == 0
        assert "127.0.0.1" in str(info.value)
        trusting = ssl.create_default_context()
        ca.configure_trust(trusting)
        async with Client(url, token="t", ssl=trusting) as client:
            assert await client.get_items("/api/v2/x", dict) == [{"n": 1}]


async def test_a_refused_connection_is_one_plain_sentence() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    policy = RetryPolicy.disabled()
    async with Client(f"http://127.0.0.1:{port}", token="t", retry=policy) as client:
        with pytest.raises(TransportError) as info:
            await client.get_items("/api/v2/x", dict)
    assert str(info.value) == (
        f"cannot connect to 127.0.0.1:{port}: connection refused (GET /api/v2/x)"
    )


async def test_retry_after_zero_backs_off_instead_of_hammering() -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=429, headers={"Retry-After": "0"})

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    policy = RetryPolicy(max_retries=3, base_delay=0.5)
    async with serve(handler) as url, Client(url, token="t", retry=policy, sleep=sleep) as c:
        with pytest.raises(RateLimited):
            await c.get_items("/api/v2/x", dict)
    assert calls == 4
    assert len(waits) == 3
    assert all(w > 0 for w in waits)


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Any:
    """A real tinyproxy on 127.0.0.1 that asks for Basic credentials."""
    binary = shutil.which("tinyproxy")
    if binary is None:
        pytest.skip("tinyproxy is not installed (.ci/run installs it with apt-get)")
    port = _free_port()
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\n"
        "BasicAuth fluser s3cret-proxy-pw\nMaxClients 20\nLogLevel Critical\n"
        "DisableViaHeader Yes\n"
    )
    proc = subprocess.Popen([binary, "-d", "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _accepts(port):  # the event: it listens (or it exited)
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"tinyproxy did not start (exit code {proc.poll()})")
            time.sleep(0.01)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("credentials", "status"), [("", 407), ("fluser:wrong-pw@", 401)], ids=["none", "wrong"]
)
async def test_a_real_proxys_refusal_says_proxy_and_hides_its_password(
    tinyproxy: int, credentials: str, status: int
) -> None:
    # tinyproxy asks for credentials with 407, and refuses wrong ones with an
    # HTML 401: neither is the API's 401 (no re-login, no AuthenticationError).
    async with Sandbox() as url:
        bad = f"http://{credentials}127.0.0.1:{tinyproxy}"
        async with Client(url, token="t", proxy=bad, retry=RetryPolicy.disabled()) as client:
            with pytest.raises(ProxyError) as info:
                await client.campaign(1, 1)
            assert client.stats.logins == 0
        err = info.value
        assert not isinstance(err, AuthenticationError)
        assert err.http_status == status
        assert "proxy" in str(err)
        assert "wrong-pw" not in str(err)
        assert "wrong-pw" not in repr(err.__dict__)
        good = f"http://fluser:s3cret-proxy-pw@127.0.0.1:{tinyproxy}"
        async with Client(url, token="t", proxy=good) as client:
            campaign = await client.campaign(1, 1)
        assert campaign.id == 1


async def test_an_unresolvable_host_is_one_plain_sentence() -> None:
    policy = RetryPolicy.disabled()
    async with Client("http://no-such-host.invalid", token="t", retry=policy) as client:
        with pytest.raises(TransportError) as info:
            await client.get_items("/api/v2/x", dict)
    assert str(info.value).startswith("cannot resolve the host name 'no-such-host.invalid'")
