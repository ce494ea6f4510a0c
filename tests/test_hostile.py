"""The SDK against a hostile local server: oversized and compressed bodies,
redirects, credentials in errors, control characters in tokens, hostile path
values, unknown options, deadlines over every wait, absurd paging metadata and
every shape of ``Retry-After``.

Every assertion is about what the caller gets (result, error type and fields)
and what the server saw (requests, raw paths, headers, TCP connections).
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import json
import math
import re
import subprocess
import sys
import time
import urllib.parse
import zlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import brotli
import msgspec
import pytest
from multidict import CIMultiDict

from flolive import (
    APIError,
    AuthenticationError,
    Campaign,
    CampaignNotFound,
    Client,
    DeadlineExceeded,
    DecodeError,
    FloliveError,
    HTTPStatusError,
    InvalidCredentials,
    ListChanged,
    ListChangedWarning,
    ListIncomplete,
    PageMismatch,
    Participant,
    RateLimited,
    RedirectRefused,
    RequestContext,
    RequestTimeout,
    ResponseTooLarge,
    RetryPolicy,
    ServerError,
    ServiceUnavailable,
    TransportError,
)
from flolive.errors import error_for_code
from flolive.retry import is_pushback

from .support.clients import FakeSleep, make_client
from .support.envelopes import error_body, page_body, participant
from .support.events import background
from .support.hostile import (
    CAMPAIGNS,
    LOGIN,
    PARTICIPANTS,
    PASSWORD,
    TOKEN,
    TOKEN_2,
    USER,
    Answer,
    Hang,
    HostileServer,
    Reply,
    Reset,
    Seen,
    Stream,
    assert_no_secrets,
    campaign_item,
    items_body,
    raw_response,
    token_body,
)

ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20
DEFAULT_LIMIT = 64 * MiB
RSS_CEILING_KIB = 300 * 1024


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as s:
        yield s
    assert not s.errors, s.errors  # it served what the test scripted


@pytest.fixture
def elsewhere() -> Iterator[HostileServer]:
    """A second origin: the same host, another port."""
    with HostileServer() as s:
        yield s
    assert not s.errors, s.errors


def paged(
    total: int,
    size: int,
    *,
    base: int = 0,
    total_pages: int | None = None,
    total_elements: int | None = None,
    empty: frozenset[int] = frozenset(),
) -> Callable[[Seen], Answer]:
    """Serve participants ``0..total-1`` in pages of ``size`` (the server's
    own ``base``); pages in ``empty`` come back empty; the counts it reports
    can be overridden to lie."""
    pages = total_pages if total_pages is not None else -(-total // size)
    elements = total_elements if total_elements is not None else total

    def respond(seen: Seen) -> Answer:
        number = int(seen.query["page"])
        start = (number - base) * size
        items = (
            []
            if number in empty
            else [participant(i) for i in range(start, min(total, start + size))]
        )
        return Reply(200, page_body(items, number, size, pages, elements))

    return respond


def ids(items: list[Participant]) -> list[int]:
    return [p.id for p in items]


def expected_ids(indexes: range | list[int]) -> list[int]:
    return [participant(i)["id"] for i in indexes]


def requested_pages(server: HostileServer) -> list[int]:
    return [int(s.query["page"]) for s in server.requests if "page" in s.query]


def names_limit(message: str, limit: int) -> bool:
    return str(limit) in message or f"{limit:,}" in message or f"{limit:_}" in message


# -- 1. response size ----------------------------------------------------------

OVERSIZE_CASES = [
    ("content-length-2gb", "get_items", 200),
    ("chunked-endless", "listing", 200),
    ("chunked-endless-503", "get_items", 503),
    ("gzip-bomb", "get_items", 200),
    ("deflate-bomb", "listing", 200),
    ("br-bomb", "get_items", 200),
]


def run_oversize_case(case: str, call: str) -> dict[str, Any]:
    # Through a launcher: a child started straight from this process would
    # report this process's peak in ru_maxrss (vfork then exec records the
    # parent's high-water mark); a grandchild starts from a small process.
    launcher = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", launcher, sys.executable, "-m", "tests.oversize_case", case, call],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(report))
    return report


@pytest.mark.parametrize(("case", "call", "status"), OVERSIZE_CASES)
def test_oversized_body_ends_in_response_too_large_with_flat_memory(
    case: str, call: str, status: int
) -> None:
    report = run_oversize_case(case, call)
    assert report["outcome"] == "ResponseTooLarge", report
    assert report["limit"] == DEFAULT_LIMIT
    assert report["http_status"] == status
    assert names_limit(report["message"], DEFAULT_LIMIT), report["message"]
    # Never retried, not even the 503.
    assert report["requests"] == 1, report
    assert report["ru_maxrss_kib"] < RSS_CEILING_KIB, report
    assert report["vm_hwm_kib"] < RSS_CEILING_KIB, report
    assert "server_error" not in report
    if case == "content-length-2gb":
        # Refused from the header: the server could write little more than
        # the socket buffers before the client hung up.
        assert report["bytes_sent"] < DEFAULT_LIMIT, report


def body_of_size(size: int) -> bytes:
    """A valid campaigns envelope padded with whitespace to exactly ``size`` bytes."""
    body = items_body([campaign_item(1)])
    assert len(body) <= size
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def test_max_response_size_as_a_listing_option(server: HostileServer) -> None:
    server.responder = paged(5, 5)
    size = len(page_body([participant(i) for i in range(5)], 0, 5, 1, 5))
    async with make_client(server) as c:
        with pytest.raises(ResponseTooLarge) as info:
            await c.campaign_participants(1, 2, max_response_size=size - 1).collect()
        assert ids(await c.campaign_participants(1, 2, max_response_size=size).collect()) == (
            expected_ids(range(5))
        )
    err = info.value
    assert err.limit == size - 1
    assert err.http_status == 200
    assert err.page == 0
    assert names_limit(str(err), size - 1)
    assert requested_pages(server) == [0, 0]  # one each: the failure is not retried


async def test_max_response_size_on_get_items_campaign_and_client(server: HostileServer) -> None:
    body = body_of_size(4000)
    server.responder = lambda _seen: Reply(200, body)
    async with make_client(server) as c:
        with pytest.raises(ResponseTooLarge) as on_call:
            await c.get_items(CAMPAIGNS, Campaign, max_response_size=3999)
        assert len(await c.get_items(CAMPAIGNS, Campaign, max_response_size=4000)) == 1
        with pytest.raises(ResponseTooLarge):
            await c.campaign(1, 1, max_response_size=3999)
        assert (await c.campaign(1, 1, max_response_size=4000)).id == 1
    async with make_client(server, max_response_size=3999) as c:
        with pytest.raises(ResponseTooLarge) as on_client:
            await c.get_items(CAMPAIGNS, Campaign)
        # The per-call value wins over the client's.
        assert len(await c.get_items(CAMPAIGNS, Campaign, max_response_size=4000)) == 1
        with pytest.raises(ResponseTooLarge):
            await c.campaigns(1).collect()
    assert on_call.value.limit == on_client.value.limit == 3999
    assert len(server.requests) == 7


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_the_limit_counts_streamed_bytes(server: HostileServer, chunked: bool) -> None:
    body = body_of_size(3000)
    pieces = [body[i : i + 500] for i in range(0, len(body), 500)]
    server.responder = lambda _seen: Stream(
        lambda: pieces, content_length=None if chunked else len(body)
    )
    async with make_client(server) as c:
        assert len(await c.get_items(CAMPAIGNS, Campaign, max_response_size=3000)) == 1
        with pytest.raises(ResponseTooLarge) as info:
            await c.get_items(CAMPAIGNS, Campaign, max_response_size=2999)
    assert info.value.limit == 2999
    assert len(server.requests) == 2


async def test_content_length_over_the_limit_fails_before_the_body(
    server: HostileServer,
) -> None:
    # The server announces 10**12 bytes, sends one, then holds: only a check
    # of Content-Length can end this call.
    server.script(Stream(lambda: [b"{"], content_length=10**12, hold=True))
    try:
        async with make_client(server, timeout=None) as c:
            async with asyncio.timeout(20):
                with pytest.raises(ResponseTooLarge) as info:
                    await c.get_items(CAMPAIGNS, Campaign)
    finally:
        server.release()
    assert info.value.limit == DEFAULT_LIMIT
    assert len(server.requests) == 1


def compress(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "deflate":
        return zlib.compress(data)
    return bytes(brotli.compress(data))


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_the_limit_counts_decompressed_bytes(server: HostileServer, encoding: str) -> None:
    body = body_of_size(200_000)
    packed = compress(encoding, body)
    assert len(packed) < 2000
    server.responder = lambda _seen: Reply(200, packed, {"Content-Encoding": encoding})
    async with make_client(server) as c:
        campaigns = await c.get_items(CAMPAIGNS, Campaign, max_response_size=200_000)
        with pytest.raises(ResponseTooLarge) as info:
            await c.get_items(CAMPAIGNS, Campaign, max_response_size=100_000)
    assert [x.id for x in campaigns] == [1]
    assert info.value.limit == 100_000
    assert len(server.requests) == 2


async def test_a_too_large_503_is_not_retried(server: HostileServer) -> None:
    server.responder = lambda _seen: Reply(503, b"x" * 5000)
    async with make_client(server, retry=RetryPolicy(max_retries=3)) as c:
        with pytest.raises(ResponseTooLarge) as info:
            await c.get_items(CAMPAIGNS, Campaign, max_response_size=1000)
        # Below the limit the same 503 is retried: the size is what stops it.
        with pytest.raises(ServerError):
            await c.get_items(CAMPAIGNS, Campaign, max_response_size=10_000)
    assert info.value.http_status == 503
    assert len(server.requests) == 1 + 4


# -- 2. credentials stay at the origin -----------------------------------------


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirected_login_is_refused_and_the_other_origin_sees_nothing(
    server: HostileServer, elsewhere: HostileServer, status: int
) -> None:
    target = f"http://localhost:{elsewhere.port}{LOGIN}"
    server.script(Reply(status, b"", {"Location": target}))
    async with make_client(server, username=USER, password=PASSWORD) as c:
        with pytest.raises(RedirectRefused) as info:
            await c.get_items(CAMPAIGNS, Campaign)
    err = info.value
    assert err.http_status == status
    assert err.location_host == "localhost"
    assert str(status) in str(err)
    assert "localhost" in str(err)
    assert elsewhere.connections == 0
    assert elsewhere.bytes_received == 0
    assert [(s.method, s.path) for s in server.requests] == [("POST", LOGIN)]
    assert_no_secrets(err)


async def test_a_login_redirected_within_the_origin_is_refused_too(
    server: HostileServer,
) -> None:
    server.script(Reply(307, b"", {"Location": "/api/v2/auth/token-v3"}))
    async with make_client(server, username=USER, password=PASSWORD) as c:
        with pytest.raises(RedirectRefused) as info:
            await c.get_items(CAMPAIGNS, Campaign)
    assert info.value.http_status == 307
    assert info.value.location_host == "127.0.0.1"
    assert [(s.method, s.path) for s in server.requests] == [("POST", LOGIN)]


@pytest.mark.parametrize("where", ["other-port", "other-host", "other-scheme"])
async def test_a_get_redirected_off_the_origin_is_refused(
    server: HostileServer, elsewhere: HostileServer, where: str
) -> None:
    target, host = {
        "other-port": (f"http://127.0.0.1:{elsewhere.port}/x", "127.0.0.1"),
        "other-host": (f"http://localhost:{server.port}/x", "localhost"),
        "other-scheme": (f"https://127.0.0.1:{server.port}/x", "127.0.0.1"),
    }[where]
    server.script(Reply(302, b"", {"Location": target}))
    async with make_client(server) as c:
        with pytest.raises(RedirectRefused) as info:
            await c.get_items(CAMPAIGNS, Campaign)
    assert info.value.http_status == 302
    assert info.value.location_host == host
    assert len(server.requests) == 1
    assert elsewhere.connections == 0
    assert_no_secrets(info.value)


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
async def test_a_get_redirected_within_the_origin_is_followed(
    server: HostileServer, absolute: bool
) -> None:
    moved = "/api/v2/customer/1/campaign-moved?x=1"
    server.script(
        Reply(301, b"", {"Location": (server.url + moved) if absolute else moved}),
        Reply(200, items_body([campaign_item(4), campaign_item(5)])),
    )
    async with make_client(server) as c:
        campaigns = await c.get_items(CAMPAIGNS, Campaign)
    assert [x.id for x in campaigns] == [4, 5]
    assert [s.raw_path for s in server.requests] == [CAMPAIGNS, moved]
    assert all(s.headers["Authorization"] == f"Bearer {TOKEN}" for s in server.requests)


async def test_a_redirect_loop_within_the_origin_ends(server: HostileServer) -> None:
    server.responder = lambda seen: Reply(302, b"", {"Location": seen.path})
    async with make_client(server) as c:
        with pytest.raises(FloliveError):
            await c.get_items(CAMPAIGNS, Campaign)
    assert 2 <= len(server.requests) <= 12


def lying_login(body: bytes, status: int = 200) -> Callable[[Seen], Answer]:
    def respond(seen: Seen) -> Answer:
        if seen.path == LOGIN:
            return Reply(status, body)
        return Reply(200, items_body([campaign_item(1)]))

    return respond


Scenario = Callable[[HostileServer, HostileServer], Awaitable[BaseException]]


async def _fails(c: Client, call: Callable[[Client], Awaitable[object]]) -> BaseException:
    async with c:
        try:
            await call(c)
        except FloliveError as err:
            return err
    raise AssertionError("no error raised")


def _get(c: Client) -> Awaitable[object]:
    return c.get_items(CAMPAIGNS, Campaign)


def _listing(c: Client) -> Awaitable[object]:
    return c.campaign_participants(1, 2).collect()


async def scenario_401_static_token(s: HostileServer, _: HostileServer) -> BaseException:
    s.responder = lambda _seen: Reply(401, b'{"error": "unauthorized"}')
    return await _fails(make_client(s), _get)


async def scenario_401_after_relogin(s: HostileServer, _: HostileServer) -> BaseException:
    tokens = iter([TOKEN, TOKEN_2])

    def respond(seen: Seen) -> Answer:
        if seen.path == LOGIN:
            return Reply(200, token_body(next(tokens)))
        return Reply(401, b"")

    s.responder = respond
    return await _fails(make_client(s, username=USER, password=PASSWORD), _listing)


async def scenario_401_provider(s: HostileServer, _: HostileServer) -> BaseException:
    async def provider() -> str:
        return TOKEN

    s.responder = lambda _seen: Reply(401, b"")
    return await _fails(make_client(s, token_provider=provider), _listing)


async def scenario_500(s: HostileServer, _: HostileServer) -> BaseException:
    s.responder = lambda _seen: Reply(500, b"<html>Internal error</html>")
    return await _fails(make_client(s, retry=RetryPolicy(max_retries=1)), _listing)


async def scenario_reset(s: HostileServer, _: HostileServer) -> BaseException:
    s.responder = lambda _seen: Reset()
    return await _fails(make_client(s, retry=RetryPolicy(max_retries=1)), _get)


async def scenario_refused(s: HostileServer, _: HostileServer) -> BaseException:
    c = make_client(f"http://127.0.0.1:{closed_port()}", speculate=None)
    return await _fails(c, _get)


async def scenario_bad_header(s: HostileServer, _: HostileServer) -> BaseException:
    # aiohttp's parser error carries the request's headers (and the token).
    s.responder = lambda _seen: raw_response("HTTP/1.1 200 OK", [("Content-Length", "abc")])
    return await _fails(make_client(s, retry=RetryPolicy.disabled()), _get)


async def scenario_truncated(s: HostileServer, _: HostileServer) -> BaseException:
    s.responder = lambda _seen: Stream(lambda: [b'{"content": ['], content_length=1000)
    return await _fails(make_client(s, retry=RetryPolicy.disabled()), _get)


async def scenario_timeout(s: HostileServer, _: HostileServer) -> BaseException:
    s.responder = lambda _seen: Hang()
    return await _fails(make_client(s, timeout=0.2, retry=RetryPolicy.disabled()), _get)


async def scenario_deadline(s: HostileServer, _: HostileServer) -> BaseException:
    s.responder = lambda _seen: Hang()
    c = make_client(s, timeout=None, listing_timeout=0.2, retry=RetryPolicy.disabled())
    return await _fails(c, _listing)


async def scenario_too_large(s: HostileServer, _: HostileServer) -> BaseException:
    s.responder = lambda _seen: Reply(200, b" " * 5000)
    return await _fails(make_client(s, max_response_size=1000), _get)


async def scenario_get_redirect(s: HostileServer, other: HostileServer) -> BaseException:
    s.responder = lambda _seen: Reply(307, b"", {"Location": f"{other.url}/steal"})
    return await _fails(make_client(s), _get)


async def scenario_login_redirect(s: HostileServer, other: HostileServer) -> BaseException:
    s.responder = lambda _seen: Reply(308, b"", {"Location": f"{other.url}{LOGIN}"})
    return await _fails(make_client(s, username=USER, password=PASSWORD), _get)


async def scenario_login_bad_utf8(s: HostileServer, _: HostileServer) -> BaseException:
    body = b'{"errorCode": "", "content": [{"token": "' + TOKEN.encode() + b'\xff\xfe"}]}'
    s.responder = lying_login(body)
    return await _fails(make_client(s, username=USER, password=PASSWORD), _get)


async def scenario_login_content_not_a_list(s: HostileServer, _: HostileServer) -> BaseException:
    body = msgspec.json.encode({"errorCode": "", "content": {"token": TOKEN}, "pageable": ""})
    s.responder = lying_login(body)
    return await _fails(make_client(s, username=USER, password=PASSWORD), _get)


async def scenario_login_token_wrong_type(s: HostileServer, _: HostileServer) -> BaseException:
    body = msgspec.json.encode({"content": [{"token": [TOKEN]}], "pageable": {"hint": TOKEN}})
    s.responder = lying_login(body)
    return await _fails(make_client(s, username=USER, password=PASSWORD), _get)


async def scenario_login_401_echo(s: HostileServer, _: HostileServer) -> BaseException:
    s.responder = lying_login(f'{{"error": "bad password {PASSWORD}"}}'.encode(), 401)
    return await _fails(make_client(s, username=USER, password=PASSWORD), _get)


async def scenario_login_500_echo(s: HostileServer, _: HostileServer) -> BaseException:
    s.responder = lying_login(f"<pre>user={USER} password={PASSWORD}</pre>".encode(), 500)
    return await _fails(make_client(s, username=USER, password=PASSWORD), _get)


async def scenario_login_truncated(s: HostileServer, _: HostileServer) -> BaseException:
    head = b'{"content": [{"token": "' + TOKEN.encode()
    s.responder = lambda seen: Stream(lambda: [head], content_length=len(head) + 100)
    return await _fails(make_client(s, username=USER, password=PASSWORD), _get)


async def scenario_login_bad_chunking(s: HostileServer, _: HostileServer) -> BaseException:
    # aiohttp's parser quotes the bytes it choked on: here, the token.
    answer = raw_response(
        "HTTP/1.1 200 OK",
        [("Transfer-Encoding", "chunked")],
        token_body(TOKEN),
        content_length=False,
    )
    s.responder = lambda _seen: answer
    return await _fails(make_client(s, username=USER, password=PASSWORD), _get)


async def scenario_login_control_token(s: HostileServer, _: HostileServer) -> BaseException:
    s.responder = lying_login(token_body(TOKEN + "\r\nX-Evil: 1"))
    return await _fails(make_client(s, username=USER, password=PASSWORD), _get)


SCENARIOS: dict[str, Scenario] = {
    name.removeprefix("scenario_"): fn
    for name, fn in sorted(globals().items())
    if name.startswith("scenario_")
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_no_error_holds_a_credential(
    server: HostileServer, elsewhere: HostileServer, name: str
) -> None:
    err = await SCENARIOS[name](server, elsewhere)
    assert isinstance(err, FloliveError)
    assert_no_secrets(err)
    assert elsewhere.connections == 0


async def test_a_get_error_body_echoing_the_token_does_not_leak_it(
    server: HostileServer,
) -> None:
    # Debug error pages echo request headers; the error keeps an excerpt of
    # the body, and the spec says no error holds the token.
    server.responder = lambda seen: Reply(
        404, f"<pre>Authorization: {seen.headers.get('Authorization')}</pre>".encode()
    )
    async with make_client(server) as c:
        with pytest.raises(HTTPStatusError) as info:
            await c.get_items(CAMPAIGNS, Campaign)
    assert info.value.http_status == 404
    assert_no_secrets(info.value)


# -- 3. control characters in tokens -------------------------------------------

CONTROL = {
    "CR": "\r",
    "LF": "\n",
    "CRLF": "\r\n",
    "NUL": "\x00",
    "SOH": "\x01",
    "TAB": "\t",
    "ESC": "\x1b",
    "US": "\x1f",
    "DEL": "\x7f",
}


def bad_token(char: str) -> str:
    return f"tok-S3CRET-left{char}right-S3CRET"


@pytest.mark.parametrize("char", CONTROL.values(), ids=CONTROL.keys())
def test_a_control_character_in_a_token_is_refused_by_the_client(char: str) -> None:
    with pytest.raises(InvalidCredentials) as info:
        Client(base_url="http://127.0.0.1:9", token=bad_token(char))
    assert isinstance(info.value, ValueError)
    assert_no_secrets(info.value)


def test_an_empty_token_is_refused_by_the_client() -> None:
    with pytest.raises(InvalidCredentials):
        Client(base_url="http://127.0.0.1:9", token="")


@pytest.mark.parametrize("char", CONTROL.values(), ids=CONTROL.keys())
async def test_a_providers_bad_token_never_reaches_the_server(
    server: HostileServer, char: str
) -> None:
    async def provider() -> str:
        return bad_token(char)

    async with make_client(server, token_provider=provider) as c:
        with pytest.raises(InvalidCredentials) as info:
            await c.campaign_participants(1, 2).collect()
    assert server.connections == 0
    assert server.bytes_received == 0
    assert_no_secrets(info.value)


@pytest.mark.parametrize("char", CONTROL.values(), ids=CONTROL.keys())
async def test_a_logins_bad_token_is_never_sent(server: HostileServer, char: str) -> None:
    server.responder = lying_login(token_body(bad_token(char)))
    async with make_client(server, username=USER, password=PASSWORD) as c:
        with pytest.raises(InvalidCredentials) as info:
            await c.campaign_participants(1, 2).collect()
    assert [(s.method, s.path) for s in server.requests] == [("POST", LOGIN)]
    assert b"left" not in server.raw_received
    assert_no_secrets(info.value)


# -- 4. path safety ------------------------------------------------------------

HOSTILE_VALUES = {
    "slash": "/",
    "dotdot-x": "../x",
    "inner-dotdot": "a/../b",
    "encoded-dots": "%2e%2e",
    "encoded-slash": "a%2Fb",
    "query": "?x=1",
    "fragment": "#f",
    "nul": "\x00",
    "spaces": " spaces ",
    "unicode": "ünïcødé/☃📶",
    "very-long": "a/" * 1500,
    "percent": "%",
    "backslash": "\\",
    "semicolon": ";x=1",
    "dot-prefix": "./x",
    "dots-3": "...",
    "crlf": "x\r\nX-Evil: 1",
    "at": "user@host",
    "digits": "8944500000000000001",
}


def empty_labels(seen: Seen) -> Answer:
    return Reply(200, page_body([], int(seen.query["page"]), 100, 0, 0))


@pytest.mark.parametrize("value", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
async def test_a_hostile_subscriber_value_stays_one_path_segment(
    server: HostileServer, value: str
) -> None:
    server.responder = empty_labels
    async with make_client(server) as c:
        labels = await c.subscriber_labels("iccid", value).collect()
    assert labels == []
    (seen,) = server.requests
    match = re.fullmatch(r"/api/v2/subscriber/iccid/([^/?#]+)/label", seen.path)
    assert match, seen.raw_path
    assert urllib.parse.unquote(match[1], errors="strict") == value
    assert seen.query == {"page": "0", "size": "100"}


async def test_an_integer_subscriber_value_is_its_digits(server: HostileServer) -> None:
    server.responder = empty_labels
    async with make_client(server) as c:
        await c.subscriber_labels("imsi", 425010123456789).collect()
    assert [s.path for s in server.requests] == ["/api/v2/subscriber/imsi/425010123456789/label"]


async def _refused_before_any_request(
    server: HostileServer, call: Callable[[Client], object]
) -> None:
    async with make_client(server) as c:
        # Raised at the call, or at the first step: either way before any request.
        with pytest.raises(ValueError, match="must be"):
            result = call(c)
            if isinstance(result, Awaitable):
                await result
            else:
                await result.collect()  # type: ignore[attr-defined]
    assert server.connections == 0


@pytest.mark.parametrize("value", ["", ".", ".."])
async def test_empty_and_dot_subscriber_values_are_refused(
    server: HostileServer, value: str
) -> None:
    await _refused_before_any_request(server, lambda c: c.subscriber_labels("iccid", value))


BAD_IDS: dict[str, object] = {
    "superscript-two": "²",
    "arabic-indic": "١٢",
    "minus-one-str": "-1",
    "minus-one-int": -1,
    "decimal-str": "1.0",
    "float": 7.0,
    "true": True,
    "false": False,
    "leading-space": " 1",
    "trailing-newline": "1\n",
    "empty": "",
    "underscore": "1_000",
    "fullwidth": "\uff17",
    "none": None,
}


@pytest.mark.parametrize("bad", BAD_IDS.values(), ids=BAD_IDS.keys())
async def test_ids_must_be_ascii_digits(server: HostileServer, bad: object) -> None:
    calls: list[Callable[[Client], object]] = [
        lambda c: c.campaign_participants(bad, 2),  # type: ignore[arg-type]
        lambda c: c.campaign_participants(1, bad),  # type: ignore[arg-type]
        lambda c: c.campaigns(bad),  # type: ignore[arg-type]
        lambda c: c.campaign(bad, 1),  # type: ignore[arg-type]
        lambda c: c.campaign(1, bad),  # type: ignore[arg-type]
    ]
    for call in calls:
        await _refused_before_any_request(server, call)


async def test_ids_as_int_or_digit_string_are_accepted(server: HostileServer) -> None:
    server.responder = paged(0, 10)
    async with make_client(server) as c:
        assert await c.campaign_participants(7, "7").collect() == []
        assert await c.campaign_participants("07", 0).collect() == []
    assert [s.path for s in server.requests] == [
        "/api/v2/customer/7/campaign/7/participants",
        "/api/v2/customer/07/campaign/0/participants",
    ]


# -- 5. unknown options --------------------------------------------------------


@pytest.mark.parametrize("option", ["max_item", "page_sise", "timeout_s", "pagesize"])
async def test_an_unknown_listing_option_is_a_type_error_at_the_call(
    server: HostileServer, option: str
) -> None:
    async with make_client(server) as c:
        calls: list[Callable[[], object]] = [
            lambda: c.campaign_participants(1, 2, **{option: 25}),
            lambda: c.subscriber_labels("iccid", "8944", **{option: 25}),
            lambda: c.campaigns(1, **{option: 25}),
            lambda: c.paginate(PARTICIPANTS, Participant, **{option: 25}),
        ]
        for call in calls:
            with pytest.raises(TypeError) as info:
                call()
            message = str(info.value)
            assert option in message
            # ...and the valid ones, so the fix is in the message.
            assert "page_size" in message
            assert "on_list_change" in message
    assert server.connections == 0


# -- 6. deadlines hold while waiting anywhere ----------------------------------


async def deadline_exceeded_after(c: Client) -> float:
    """Seconds a listing with a 0.5 s deadline took to raise DeadlineExceeded."""
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        await c.campaign_participants(1, 2, listing_timeout=0.5).collect()
    return time.monotonic() - started


async def test_a_listing_deadline_holds_behind_another_listings_429_pause(
    server: HostileServer,
) -> None:
    server.script(Reply(429, b"", {"Retry-After": "20"}))
    server.responder = paged(3, 10)
    # The real clock: the pause is really 20 s, the deadline really 0.5 s.
    async with (
        make_client(server, sleep=asyncio.sleep) as c,
        background(c.campaign_participants(1, 2).collect()),
    ):
        await server.wait_until(lambda: c.stats.throttles == 1)
        elapsed = await deadline_exceeded_after(c)
    # Well before the pause would have ended, and B never reached the server.
    assert elapsed < 10
    assert len(server.requests) == 1


async def test_a_listing_deadline_holds_while_waiting_for_a_limiter_slot(
    server: HostileServer,
) -> None:
    server.responder = lambda seen: Hang() if seen.path == CAMPAIGNS else paged(3, 10)(seen)
    try:
        async with (
            make_client(server, sleep=asyncio.sleep, max_concurrency=1, timeout=None) as c,
            background(c.get_items(CAMPAIGNS, Campaign)),
        ):
            await server.wait_for_requests(1)
            elapsed = await deadline_exceeded_after(c)
    finally:
        server.release()
    assert elapsed < 10
    assert [s.path for s in server.requests] == [CAMPAIGNS]


async def test_a_listing_deadline_holds_in_backoff(server: HostileServer) -> None:
    server.responder = lambda _seen: Reply(503, b"", {"Retry-After": "20"})
    async with make_client(server, sleep=asyncio.sleep) as c:
        elapsed = await deadline_exceeded_after(c)
    assert elapsed < 10
    assert len(server.requests) == 1


# -- 7. paging metadata --------------------------------------------------------


@pytest.mark.parametrize("field", ["page", "size", "totalPages", "totalElements"])
async def test_negative_paging_counts_are_a_decode_error(server: HostileServer, field: str) -> None:
    pageable = {"page": 0, "size": 10, "totalPages": 1, "totalElements": 3, field: -1}
    body = msgspec.json.encode(
        {"content": [participant(i) for i in range(3)], "pageable": pageable}
    )
    server.responder = lambda _seen: Reply(200, body)
    async with make_client(server) as c:
        with pytest.raises(DecodeError) as info:
            await c.campaign_participants(1, 2).collect()
    assert info.value.page == 0
    assert len(server.requests) == 1


async def test_a_billion_pages_of_three_items_ends_with_the_three(server: HostileServer) -> None:
    server.responder = paged(3, 3, total_pages=10**9)
    async with make_client(server, prefetch=4, speculate=3) as c, asyncio.timeout(20):
        items = await c.campaign_participants(1, 2, page_size=3).collect()
    assert ids(items) == expected_ids(range(3))
    pages = requested_pages(server)
    assert len(pages) <= 8, pages
    assert sorted(pages) == sorted(set(pages))  # none asked twice


async def test_an_empty_page_before_total_elements_does_not_end_the_list(
    server: HostileServer,
) -> None:
    # Page 1 comes back empty (the list is being changed); 6 items are counted.
    def respond(seen: Seen) -> Answer:
        number = int(seen.query["page"])
        chunk = {0: range(0, 3), 1: range(0), 2: range(3, 6)}.get(number, range(0))
        return Reply(200, page_body([participant(i) for i in chunk], number, 3, 10**9, 6))

    server.responder = respond
    async with make_client(server, prefetch=2) as c, asyncio.timeout(20):
        items = await c.campaign_participants(1, 2, page_size=3).collect()
    assert ids(items) == expected_ids(range(6))
    assert {0, 1, 2, 3} <= set(requested_pages(server))
    assert len(server.requests) <= 8


async def test_an_empty_last_page_before_total_elements_leaves_the_list_short(
    server: HostileServer,
) -> None:
    server.responder = paged(6, 3, empty=frozenset({1}))
    async with make_client(server) as c:
        with pytest.raises(ListIncomplete) as info:
            await c.campaign_participants(1, 2, page_size=3, on_list_change="raise").collect()
    assert (info.value.before, info.value.after) == (6, 3)
    assert requested_pages(server) == [0, 1]


async def test_a_short_pass_warns_by_default(server: HostileServer) -> None:
    # A zero-based server read with page_base=1: the first page is skipped.
    server.responder = paged(25, 10)
    async with make_client(server) as c:
        with pytest.warns(ListChangedWarning) as record:
            items = await c.campaign_participants(1, 2, page_size=10, page_base=1).collect()
    assert ids(items) == expected_ids(range(10, 25))
    (warning,) = record
    message = str(warning.message)
    assert "25" in message
    assert "15" in message
    assert "page_base" in message


async def test_a_short_pass_raises_list_incomplete_on_request(server: HostileServer) -> None:
    server.responder = paged(25, 10)
    async with make_client(server) as c:
        with pytest.raises(ListIncomplete) as info:
            await c.campaign_participants(
                1, 2, page_size=10, page_base=1, on_list_change="raise"
            ).collect()
    err = info.value
    assert isinstance(err, ListChanged)
    assert (err.before, err.after, err.page_base) == (25, 15, 1)
    assert "25" in str(err)
    assert "15" in str(err)
    assert "page_base" in str(err)


async def test_a_partial_pass_is_not_reported_short(server: HostileServer) -> None:
    server.responder = paged(25, 10)
    async with make_client(server) as c:
        items = await c.campaign_participants(1, 2, page_size=10, max_pages=1).collect()
        resumed = await c.campaign_participants(1, 2, page_size=10, start_page=2).collect()
    assert ids(items) == expected_ids(range(10))
    assert ids(resumed) == expected_ids(range(20, 25))


# -- 8. Retry-After, in every shape --------------------------------------------

RETRY_AFTER_SHAPES: dict[str, dict[str, str]] = {
    "seconds": {"Retry-After": "3"},
    "padded": {"Retry-After": "  3  "},
    "fraction": {"Retry-After": "2.5"},
    "zero": {"Retry-After": "0"},
    "huge": {"Retry-After": "99999999999999999999"},
    "negative": {"Retry-After": "-5"},
    "nan": {"Retry-After": "NaN"},
    "inf": {"Retry-After": "inf"},
    "minus-inf": {"Retry-After": "-Infinity"},
    "1e999": {"Retry-After": "1e999"},
    "garbage": {"Retry-After": "soon, maybe"},
    "empty": {"Retry-After": ""},
    "hex": {"Retry-After": "0x10"},
    "date-past": {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
    "date-year-9999": {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"},
    "date-year-99999": {"Retry-After": "Fri, 31 Dec 99999 23:59:59 GMT"},
    "date-year-11-digits": {"Retry-After": "Fri, 31 Dec 99999999999 23:59:59 GMT"},
    "date-year-20-digits": {"Retry-After": "Fri, 31 Dec 99999999999999999999 23:59:59 GMT"},
    "date-huge-zone": {"Retry-After": "Fri, 31 Dec 2024 23:59:59 +99999999999999999999"},
    "date-huge-hour": {"Retry-After": "Fri, 31 Dec 2024 99999999999999999999:59:59 GMT"},
    "date-huge-day": {"Retry-After": "Fri, 99999999999999999999 Dec 2024 23:59:59 GMT"},
    "date-year-0": {"Retry-After": "Sat, 01 Jan 0000 00:00:00 GMT"},
    "date-garbled": {"Retry-After": "Fri, 32 Foo 2024 25:61:61 GMT"},
    "date-no-zone": {"Retry-After": "Fri, 31 Dec 2100 23:59:59"},
    "ms": {"retry-after-ms": "1500"},
    "ms-negative": {"retry-after-ms": "-1"},
    "ms-nan": {"retry-after-ms": "nan"},
    "ms-garbage": {"retry-after-ms": "later"},
    "ms-1e999": {"retry-after-ms": "1e999"},
    "ms-and-seconds": {"retry-after-ms": "250", "Retry-After": "9"},
    "ms-bad-and-seconds": {"retry-after-ms": "x", "Retry-After": "4"},
}

MAX_WAIT = RetryPolicy().max_retry_after


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("headers", RETRY_AFTER_SHAPES.values(), ids=RETRY_AFTER_SHAPES.keys())
async def test_any_retry_after_is_retried_with_a_sane_wait(
    server: HostileServer, headers: dict[str, str], status: int
) -> None:
    server.script(Reply(status, b"", headers))
    server.responder = paged(3, 10)
    sleep = FakeSleep()
    async with make_client(server, sleep=sleep, retry=RetryPolicy(max_retries=1)) as c:
        items = await c.campaign_participants(1, 2).collect()
    assert ids(items) == expected_ids(range(3))
    assert len(server.requests) == 2
    assert len(sleep.calls) == 1
    assert all(math.isfinite(d) and 0 <= d <= MAX_WAIT for d in sleep.calls), sleep.calls


RAW_RETRY_AFTER = {
    "latin-1-byte": b"\xff\xfe",
    "utf-8-digits": "١٢".encode(),
    "nul-inside": b"1\x00",
    "bell": b"\x07",
    "long": b"9" * 4000,
}


@pytest.mark.parametrize("value", RAW_RETRY_AFTER.values(), ids=RAW_RETRY_AFTER.keys())
async def test_a_retry_after_of_raw_bytes_is_handled(server: HostileServer, value: bytes) -> None:
    server.script(raw_response(b"HTTP/1.1 429 Too Many Requests", [(b"Retry-After", value)]))
    server.responder = paged(3, 10)
    sleep = FakeSleep()
    async with make_client(server, sleep=sleep, retry=RetryPolicy(max_retries=1)) as c:
        try:
            items: list[Participant] | None = await c.campaign_participants(1, 2).collect()
        except FloliveError:
            items = None  # a header aiohttp refuses is a transport error: fine
    assert items is None or ids(items) == expected_ids(range(3))
    assert all(math.isfinite(d) and 0 <= d <= MAX_WAIT for d in sleep.calls), sleep.calls


def future_date(seconds: float) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


EXACT_RETRY_AFTER: list[tuple[str, dict[str, str], float | None]] = [
    ("seconds", {"Retry-After": "5"}, 5.0),
    ("padded", {"Retry-After": " 7 "}, 7.0),
    # A wait of 0, below zero or in the past is no hint: backoff applies (#14).
    ("zero-is-no-hint", {"Retry-After": "0"}, None),
    ("capped", {"Retry-After": "120"}, 60.0),
    ("negative-is-no-hint", {"Retry-After": "-5"}, None),
    ("past-date-is-no-hint", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
    ("far-date-capped", {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, 60.0),
    ("nan", {"Retry-After": "nan"}, None),
    ("inf", {"Retry-After": "inf"}, None),
    ("1e999", {"Retry-After": "1e999"}, None),
    ("garbage", {"Retry-After": "garbage"}, None),
    ("empty", {"Retry-After": ""}, None),
    ("huge-year", {"Retry-After": "Fri, 31 Dec 99999 23:59:59 GMT"}, None),
    ("overflowing-year", {"Retry-After": "Fri, 31 Dec 99999999999 23:59:59 GMT"}, None),
    ("overflowing-zone", {"Retry-After": "Fri, 31 Dec 2024 23:59:59 +99999999999999999999"}, None),
    ("none", {}, None),
    ("ms", {"retry-after-ms": "1500"}, 1.5),
    ("ms-negative-is-no-hint", {"retry-after-ms": "-1"}, None),
    ("ms-wins", {"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
    ("ms-bad-falls-back", {"retry-after-ms": "nan", "Retry-After": "4"}, 4.0),
    ("ms-1e999", {"retry-after-ms": "1e999"}, None),
]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [(h, e) for _, h, e in EXACT_RETRY_AFTER],
    ids=[name for name, _, _ in EXACT_RETRY_AFTER],
)
def test_retry_after_table(headers: dict[str, str], expected: float | None) -> None:
    assert RetryPolicy().retry_after(CIMultiDict(headers)) == expected


def test_retry_after_of_a_future_date() -> None:
    wait = RetryPolicy().retry_after(CIMultiDict({"Retry-After": future_date(30)}))
    assert wait is not None
    assert 20 <= wait <= 31


@pytest.mark.parametrize(
    "raw",
    [
        "١٢",
        "²",
        "1_000",
        "\x00",
        "9" * 5000,
        "-0",
        "+3",
        "1e-999",
        "Fri, 31 Dec -1 23:59:59 GMT",
        "Fri, 31 Dec 99999999999999999999 23:59:59 GMT",
        "Fri, 99999999999999999999 Dec 2024 23:59:59 GMT",
        "Fri, 31 Dec 2024 99999999999999999999:59:59 GMT",
        "Fri, 31 Dec 2024 23:59:59 +9999",
        "Mon, 99 Jan 2024 00:00:00 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "\udcff",
        "1" + "\u0660" * 3,
    ],
)
@pytest.mark.parametrize("name", ["Retry-After", "retry-after-ms"])
def test_retry_after_never_raises(name: str, raw: str) -> None:
    wait = RetryPolicy().retry_after(CIMultiDict({name: raw}))
    assert wait is None or (math.isfinite(wait) and 0 <= wait <= MAX_WAIT)


GET = RequestContext("GET", CAMPAIGNS)
POST = RequestContext("POST", LOGIN, sensitive=True)


def _decide_table() -> list[tuple[str, FloliveError, bool | float]]:
    """(name, error, expected): ``True`` for "some backoff wait", ``False``
    for "give up", a number for that exact wait."""
    return [
        ("503", ServerError(503, context=GET), True),
        ("500", ServerError(500, context=GET), True),
        ("502", ServerError(502, context=GET), True),
        ("504", ServerError(504, context=GET), True),
        ("501", ServerError(501, context=GET), False),
        ("429-retry-after", RateLimited(429, retry_after=7.0, context=GET), 7.0),
        ("503-retry-after", ServerError(503, retry_after=2.5, context=GET), 2.5),
        ("429-no-retry-after", RateLimited(429, context=GET), True),
        ("404", HTTPStatusError(404, context=GET), False),
        ("401", AuthenticationError(401, context=GET), False),
        ("403", AuthenticationError(403, context=GET), False),
        ("global-1001", error_for_code("GLOBAL_1001", "busy", 200, context=GET), True),
        ("campaign-not-found", CampaignNotFound("CUSTOMER_1037", "x", 200, context=GET), False),
        ("unknown-code", APIError("NEW_1", "new", 500, context=GET), False),
        ("transport", TransportError("reset", context=GET), True),
        ("timeout", RequestTimeout("slow", context=GET), True),
        ("deadline", DeadlineExceeded("late", context=GET), False),
        ("too-large", ResponseTooLarge(1000, 200, context=GET), False),
        ("too-large-503", ResponseTooLarge(1000, 503, context=GET), False),
        ("redirect", RedirectRefused(302, "elsewhere", reason="r", context=GET), False),
        ("decode", DecodeError("bad", http_status=200, context=GET), False),
        ("credentials", InvalidCredentials("bad token", context=GET), False),
        ("page-mismatch", PageMismatch(1, 2, 0, context=GET), False),
        ("incomplete", ListIncomplete(10, 5, 0, context=GET), False),
        ("post-503", ServerError(503, context=POST), False),
        ("post-transport", TransportError("reset", context=POST), False),
    ]


@pytest.mark.parametrize(
    ("error", "expected"),
    [(e, x) for _, e, x in _decide_table()],
    ids=[n for n, _, _ in _decide_table()],
)
def test_decide_table(error: FloliveError, expected: bool | float) -> None:
    policy = RetryPolicy(max_retries=3, base_delay=0.5, max_delay=8.0)
    first = policy.decide(error, 1)
    if expected is False:
        assert first is None
        return
    assert first is not None
    if expected is True:
        assert 0 <= first <= 0.5
        third = policy.decide(error, 3)
        assert third is not None
        assert 0 <= third <= 2.0
    else:
        assert first == expected
    # Attempt 4 was the last of 1 + max_retries.
    assert policy.decide(error, 4) is None


def test_decide_follows_the_policys_settings() -> None:
    err_503 = ServerError(503, context=GET)
    assert RetryPolicy.disabled().decide(err_503, 1) is None
    no_transport = RetryPolicy(retry_transport_errors=False)
    assert no_transport.decide(TransportError("reset", context=GET), 1) is None
    teapot = RetryPolicy(retry_statuses=frozenset({418}))
    assert teapot.decide(HTTPStatusError(418, context=GET), 1) is not None
    assert teapot.decide(err_503, 1) is None
    codes = RetryPolicy(retry_codes=frozenset({"CUSTOMER_1037"}))
    assert codes.decide(CampaignNotFound("CUSTOMER_1037", "x", 200, context=GET), 1) is not None
    capped = RetryPolicy(max_retry_after=5.0)
    assert capped.decide(RateLimited(429, retry_after=5.0, context=GET), 1) == 5.0
    endless = RetryPolicy(max_retries=10**9, base_delay=1.0, max_delay=8.0)
    wait = endless.decide(err_503, 10**6)
    assert wait is not None
    assert math.isfinite(wait)
    assert 0 <= wait <= 8.0


@pytest.mark.parametrize(
    ("error", "pushback"),
    [
        (RateLimited(429, context=GET), True),
        (ServerError(500, context=GET), True),
        (ServerError(503, context=GET), True),
        (ServiceUnavailable("GLOBAL_1001", "busy", 200, context=GET), True),
        (ServerError(502, context=GET), False),
        (ServerError(504, context=GET), False),
        (HTTPStatusError(404, context=GET), False),
        (AuthenticationError(401, context=GET), False),
        (CampaignNotFound("CUSTOMER_1037", "x", 200, context=GET), False),
        (TransportError("reset", context=GET), False),
        (RequestTimeout("slow", context=GET), False),
        (ResponseTooLarge(10, 503, context=GET), False),
    ],
)
def test_is_pushback_table(error: FloliveError, pushback: bool) -> None:
    assert is_pushback(error) is pushback


async def test_throttles_count_pushback_answers(server: HostileServer) -> None:
    server.script(
        Reply(500, b""),
        Reply(503, b""),
        Reply(429, b"", {"Retry-After": "0"}),
        Reply(200, error_body("GLOBAL_1001", "Service unavailable. Please try again")),
        Reply(502, b""),
    )
    server.responder = paged(3, 10)
    async with make_client(server, retry=RetryPolicy(max_retries=5)) as c:
        items = await c.campaign_participants(1, 2).collect()
        stats = c.stats
    assert ids(items) == expected_ids(range(3))
    assert stats.throttles == 4
    assert stats.retries == 5
    assert stats.requests == 6
