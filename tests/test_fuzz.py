"""Property-based fuzzing (hypothesis) of a real :class:`flolive.Client`
against a local hostile server.

Each case is a scripted server: real envelopes (participant pages, campaign
lists, login answers), mutated at the JSON level (type swaps, huge and
negative numbers, deep nesting, duplicate and missing keys, ``pageable``
missing on a later page, totals drifting) and at the byte level (flips,
truncation, invalid UTF-8, a BOM, NULs, random bytes), served with odd
statuses, headers, encodings, framings, resets and redirects, after up to two
transient failures. The properties:

* every outcome is a result or a :class:`~flolive.FloliveError`, within an
  outer timeout; the only warning is :class:`~flolive.ListChangedWarning`;
* when every answer is clean after its transient failures, the result is
  exactly the items served (in order, trimmed by ``max_pages``/``max_items``);
* no error holds a credential, and no request carries a token that holds a
  control character;
* afterwards no task is pending, no request in flight, no connection open.

One server (in its thread) and one event loop serve every case, so thousands
of cases run in well under a minute. CI runs ``FLOLIVE_FUZZ_CASES`` cases in
all (default 2,000) with a fixed seed (``derandomize``); set it to 50000 for
a soak. Hypothesis keeps no database and writes nothing into the repository.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import dataclasses
import gzip
import json
import os
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Literal

import brotli
import pytest
from hypothesis import HealthCheck, configuration, given, settings
from hypothesis import strategies as st

from flolive import (
    Campaign,
    Client,
    DecodeError,
    FloliveError,
    ListChangedWarning,
    Participant,
    RetryPolicy,
)

from .support.clients import make_client
from .support.envelopes import error_body, page_body, participant
from .support.hostile import (
    CAMPAIGNS,
    LOGIN,
    PASSWORD,
    TOKEN,
    USER,
    Answer,
    HostileServer,
    Raw,
    Reply,
    Reset,
    Seen,
    Stream,
    assert_no_secrets,
    campaign_item,
    items_body,
    raw_response,
)

TOTAL_CASES = int(os.environ.get("FLOLIVE_FUZZ_CASES", "2000"))

settings.register_profile(
    "flolive-fuzz",
    max_examples=TOTAL_CASES,
    derandomize=True,  # a fixed seed: every CI run tries the same cases
    database=None,  # no example database: nothing written into the repo
    deadline=None,  # never fail on the machine's speed
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)
PROFILE = settings.get_profile("flolive-fuzz")

#: Shares of the total per property; they add up to 1.
SHARES = {"listing": 0.5, "get_items": 0.25, "login": 0.25}

OUTER_TIMEOUT = 30.0  # no case comes near it: reaching it is a hang
OTHER_ORIGIN = "http://127.0.0.1:9"  # nothing listens on the discard port here


def examples(kind: str) -> settings:
    return settings(PROFILE, max_examples=max(1, round(TOTAL_CASES * SHARES[kind])))


# A case takes about 10 ms; the soak must not meet the suite's per-test timeout.
soak_timeout = pytest.mark.timeout(max(120, round(TOTAL_CASES * 0.05)))


# -- JSON that can say anything ------------------------------------------------


class Obj:
    """A JSON object as pairs, so keys can repeat."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs


@dataclasses.dataclass(frozen=True)
class RawJSON:
    """Text put into the document as it is (invalid tokens included)."""

    text: bytes


def tree(value: Any) -> Any:
    if isinstance(value, dict):
        return Obj([(k, tree(v)) for k, v in value.items()])
    if isinstance(value, list):
        return [tree(v) for v in value]
    return value


def dump(node: Any) -> bytes:
    if isinstance(node, Obj):
        return b"{" + b",".join(dump(k) + b":" + dump(v) for k, v in node.pairs) + b"}"
    if isinstance(node, list):
        return b"[" + b",".join(dump(v) for v in node) + b"]"
    if isinstance(node, RawJSON):
        return node.text
    return json.dumps(node, ensure_ascii=False).encode("utf-8", "surrogatepass")


def slots(node: Any) -> list[tuple[Any, int]]:
    """Every place in the document a value sits: (container, index)."""
    out: list[tuple[Any, int]] = []

    def walk(n: Any) -> None:
        if isinstance(n, Obj):
            for i, (_, v) in enumerate(n.pairs):
                out.append((n, i))
                walk(v)
        elif isinstance(n, list):
            for i, v in enumerate(n):
                out.append((n, i))
                walk(v)

    walk(node)
    return out


def objects(node: Any) -> list[Obj]:
    found = [node] if isinstance(node, Obj) else []
    found += [c.pairs[i][1] if isinstance(c, Obj) else c[i] for c, i in slots(node)]
    return [o for o in found if isinstance(o, Obj)]


def put(container: Any, index: int, value: Any) -> None:
    if isinstance(container, Obj):
        container.pairs[index] = (container.pairs[index][0], value)
    else:
        container[index] = value


def deep(depth: int) -> RawJSON:
    return RawJSON(b"[" * depth + b"]" * depth)


ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    -(10**30),
    1.5,
    -0.0,
    1e308,
    "",
    "x",
    "-1",
    "2022-02-11 14:21:53",
    "2022-02-30 25:61:61",
    "\x00",
    "\ud800",
    "é" * 50,
    [],
    [None],
    Obj([]),
    Obj([("page", -1)]),
    RawJSON(b"1e999"),
    RawJSON(b"-1e999"),
    RawJSON(b"NaN"),
    RawJSON(b"Infinity"),
    RawJSON(b"01"),
    RawJSON(b"1."),
    RawJSON(b"-"),
    RawJSON(b"9" * 400),
    RawJSON(b'"\\ud800"'),
    RawJSON(b'"\\u0000"'),
    RawJSON(b'"\\x"'),
    deep(40),
    deep(5000),
    deep(100_000),
]

PAGEABLE_FIELDS = ["page", "size", "totalPages", "totalElements"]
EXTREME_NUMBERS = [-1, -(2**63), 0, 2**31 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**100]

INVALID_UTF8 = [
    b"\xff",
    b"\xfe\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
    b"\xc0\xaf",
    b"\x80",
]


#: How many mutations of each level a body gets: most bodies get none or
#: one, so that cases reach deep into a listing as often as they fail early.
TREE_MUTATIONS = [0, 0, 0, 0, 1, 1, 2, 3]
BYTE_MUTATIONS = [0, 0, 0, 0, 0, 0, 1, 2]


def rarely(draw: st.DrawFn, one_in: int) -> bool:
    return draw(st.sampled_from([False] * (one_in - 1) + [True]))


@st.composite
def mutated(
    draw: st.DrawFn, base: dict[str, Any], *, later_page: bool = False
) -> tuple[bytes, bool]:
    """A body from ``base``, perhaps mutated; and whether it is still ``base``."""
    node = tree(copy.deepcopy(base))
    clean = True
    for _ in range(draw(st.sampled_from(TREE_MUTATIONS))):
        clean = False
        kind = draw(
            st.sampled_from(
                ["swap", "swap", "delete", "duplicate", "extra", "extreme", "drop-pageable"]
            )
        )
        places = slots(node)
        if kind == "swap" and places:
            container, index = draw(st.sampled_from(places))
            put(container, index, copy.deepcopy(draw(st.sampled_from(ODD_VALUES))))
        elif kind == "delete":
            objs = [o for o in objects(node) if o.pairs]
            if objs:
                obj = draw(st.sampled_from(objs))
                del obj.pairs[draw(st.integers(0, len(obj.pairs) - 1))]
        elif kind == "duplicate":
            objs = [o for o in objects(node) if o.pairs]
            if objs:
                obj = draw(st.sampled_from(objs))
                key, _ = obj.pairs[draw(st.integers(0, len(obj.pairs) - 1))]
                value = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
                obj.pairs.insert(draw(st.integers(0, len(obj.pairs))), (key, value))
        elif kind == "extra":
            objs = objects(node)
            if objs:
                obj = draw(st.sampled_from(objs))
                value = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
                obj.pairs.append((draw(st.text(max_size=8)), value))
        elif kind == "extreme":
            pageables = [v for k, v in node.pairs if k == "pageable" and isinstance(v, Obj)]
            if pageables:
                field = draw(st.sampled_from(PAGEABLE_FIELDS))
                number = draw(st.sampled_from(EXTREME_NUMBERS))
                pageables[0].pairs.append((field, number))
        elif kind == "drop-pageable" and later_page:
            node.pairs = [(k, v) for k, v in node.pairs if k != "pageable"]
    body = dump(node)
    for _ in range(draw(st.sampled_from(BYTE_MUTATIONS))):
        clean = False
        kind = draw(
            st.sampled_from(["flip", "truncate", "utf8", "bom", "nul", "tail", "random", "empty"])
        )
        if kind == "flip" and body:
            at = draw(st.integers(0, len(body) - 1))
            body = body[:at] + bytes([body[at] ^ draw(st.integers(1, 255))]) + body[at + 1 :]
        elif kind == "truncate":
            body = body[: draw(st.integers(0, len(body)))]
        elif kind == "utf8":
            quotes = [i for i, b in enumerate(body) if b == 0x22]
            at = draw(st.sampled_from(quotes)) + 1 if quotes else 0
            body = body[:at] + draw(st.sampled_from(INVALID_UTF8)) + body[at:]
        elif kind == "bom":
            body = b"\xef\xbb\xbf" + body
        elif kind == "nul":
            at = draw(st.integers(0, len(body)))
            body = body[:at] + b"\x00" + body[at:]
        elif kind == "tail":
            body += draw(st.sampled_from([b" ", b"\n{}", b"]", b"\x00", b"garbage"]))
        elif kind == "random":
            body = draw(st.binary(max_size=300))
        else:
            body = b""
    return body, clean


# -- how an answer is served ---------------------------------------------------

RETRY_AFTER_SHAPES = [
    "0",
    "1",
    "-5",
    "NaN",
    "inf",
    "1e999",
    "99999999999999999999",
    "soon",
    "",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "Fri, 31 Dec 99999 23:59:59 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Fri, 31 Dec 99999999999 23:59:59 GMT",
    "Fri, 31 Dec 2024 23:59:59 +99999999999999999999",
]

ODD_HEADERS: list[dict[str, str]] = [
    {"Content-Type": "text/html"},
    {"Content-Type": "application/json; charset=latin-1"},
    {"Content-Type": "nonsense/;;;"},
    {"Content-Encoding": "identity"},
    {"Content-Encoding": "gzip"},
    {"Content-Encoding": "deflate"},
    {"Content-Encoding": "br"},
    {"Content-Encoding": "compress"},
    {"Content-Encoding": "zstd"},
    {"Content-Encoding": "gzip, br"},
    {"Retry-After": "1e999"},
    {"retry-after-ms": "-1"},
    {"X-Junk": "x" * 9000},
    {"Set-Cookie": "a=b; Path=/"},
    {"Location": "/elsewhere"},
    {"Vary": "*", "Cache-Control": "no-store"},
]

ODD_STATUSES = [
    201, 202, 203, 204, 206, 299, 300, 304, 400, 401, 403, 404, 405, 408, 409, 410,
    413, 418, 422, 429, 431, 451, 500, 501, 502, 503, 504, 505, 507, 511, 599, 999,
]  # fmt: skip

REDIRECT_STATUSES = [301, 302, 303, 307, 308]
LOCATIONS = [
    "/api/v2/elsewhere",
    f"{OTHER_ORIGIN}/steal",
    "//other.invalid/x",
    "https://127.0.0.1/x",
    "http://[::1",
    "",
    "javascript:alert(1)",
    "/\x7f",
    "?page=0",
]

STATUS_LINES = [
    b"HTTP/1.1 200 OK",
    b"HTTP/1.0 200 OK",
    b"HTTP/1.1 200",
    b"HTTP/1.1 999 Weird",
    b"HTTP/1.1 2000 OK",
    b"HTTP/1.1 20 OK",
    b"HTTP/2 200 OK",
    b"HTTP/1.1 -200 OK",
    b"ICY 200 OK",
    b"garbage",
    b"",
    b"HTTP/1.1 200 \xff\xfe",
    b"HTTP/1.1 199 Early\r\n\r\nHTTP/1.1 200 OK",
]

RAW_HEADER_LINES: list[list[bytes]] = [
    [],
    [b"Content-Length: -1"],
    [b"Content-Length: abc"],
    [b"Content-Length: 1", b"Content-Length: 2"],
    [b"Content-Length: 99999999999999999999999"],
    [b"NoColonHere"],
    [b"X-Folded: a", b" b"],
    [b"Content-Type: application/json\xff"],
    [b": empty-name"],
    [b"Transfer-Encoding: chunked"],
    [b"Transfer-Encoding: gzip, chunked"],
]


def chunked(body: bytes, *, broken: bool) -> bytes:
    if broken:
        return b"zz\r\n" + body + b"\r\n"
    return (b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n") if body else b"0\r\n\r\n"


def encode(encoding: str, body: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    return bytes(brotli.compress(body))


HOSTILE_FORMS = ["plain", "plain", "plain", "encoded", "odd-headers", "status", "redirect"]
HOSTILE_FORMS += ["raw", "raw-odd", "short", "reset"]
CLEAN_FORMS = ["plain", "plain", "plain", "plain", "encoded", "raw"]


@st.composite
def served(draw: st.DrawFn, body: bytes, clean: bool, *, hostile: bool) -> tuple[Answer, bool]:
    """How ``body`` goes out; and whether the answer is still a clean 200."""
    form = draw(st.sampled_from(HOSTILE_FORMS if hostile else CLEAN_FORMS))
    if form == "plain":
        return Reply(200, body), clean
    if form == "encoded":
        encoding = draw(st.sampled_from(["gzip", "deflate", "br"]))
        return Reply(200, encode(encoding, body), {"Content-Encoding": encoding}), clean
    if form == "odd-headers":
        return Reply(200, body, draw(st.sampled_from(ODD_HEADERS))), False
    if form == "status":
        status = draw(st.sampled_from(ODD_STATUSES))
        headers = {"Retry-After": draw(st.sampled_from(RETRY_AFTER_SHAPES))}
        if draw(st.booleans()):
            body = error_body(draw(st.sampled_from(["CUSTOMER_1037", "GLOBAL_1001", "X_1"])), "m")
        return Reply(status, body, headers), False
    if form == "redirect":
        # Raw: aiohttp's server would refuse to send some of these Locations.
        status = draw(st.sampled_from(REDIRECT_STATUSES))
        location = draw(st.sampled_from(LOCATIONS))
        return raw_response(f"HTTP/1.1 {status} Moved", [("Location", location)]), False
    if form in ("raw", "raw-odd"):
        status_line = b"HTTP/1.1 200 OK" if form == "raw" else draw(st.sampled_from(STATUS_LINES))
        lines = [] if form == "raw" else draw(st.sampled_from(RAW_HEADER_LINES))
        framings = ["length", "close", "chunked"] + (["broken-chunked"] if hostile else [])
        framing = draw(st.sampled_from(framings))
        if framing in ("chunked", "broken-chunked"):
            lines = [*lines, b"Transfer-Encoding: chunked"]
            payload = chunked(body, broken=framing == "broken-chunked")
        else:
            payload = body
        if framing == "length":
            lines = [*lines, b"Content-Length: %d" % len(payload)]
        data = b"\r\n".join([status_line, *lines, b"Connection: close"]) + b"\r\n\r\n" + payload
        still_clean = clean and form == "raw" and framing != "broken-chunked"
        return Raw(data), still_clean
    if form == "short":
        cut = draw(st.integers(0, len(body)))
        return Stream(lambda: [body[:cut]], content_length=len(body) + 1), False
    return Reset(), False


TRANSIENT: list[Answer] = [
    Reply(503, b"busy"),
    Reply(500, b""),
    Reply(502, b"<html>bad gateway</html>"),
    Reply(429, b"", {"Retry-After": "1"}),
    Reply(429, b"", {"Retry-After": "Fri, 31 Dec 99999999999 23:59:59 GMT"}),
    Reply(503, b"", {"retry-after-ms": "nan"}),
    Reply(200, error_body("GLOBAL_1001", "Service unavailable. Please try again")),
    Reset(),
    raw_response("HTTP/1.1 200 OK", [("Content-Length", "50")], b'{"content": ['),
]

MAX_RETRIES = 2


@st.composite
def attempts(
    draw: st.DrawFn,
    base: dict[str, Any],
    *,
    hostile: bool,
    later_page: bool = False,
    transients: bool = True,
) -> tuple[list[Answer], bool]:
    """The answers to successive attempts at one request (the last repeats),
    and whether the request must succeed with exactly ``base``. Only a
    ``hostile`` request gets a mutated body or an odd answer."""
    before = []
    if transients and rarely(draw, 3):
        before = draw(st.lists(st.sampled_from(TRANSIENT), min_size=1, max_size=MAX_RETRIES))
    if hostile:
        body, clean = draw(mutated(base, later_page=later_page))
    else:
        body, clean = dump(tree(base)), True
    answer, clean = draw(served(body, clean, hostile=hostile))
    return [*before, answer], clean


# -- one case ------------------------------------------------------------------

Kind = Literal["listing", "get_items", "login"]


@dataclasses.dataclass
class Case:
    """A scripted server, a call, and what a clean run must return."""

    kind: Kind
    answers: dict[Any, list[Answer]]
    options: dict[str, Any]
    mode: str
    clean: bool
    expected: list[int]
    fallback: Callable[[Seen], Answer] | None = None

    def responder(self) -> Callable[[Seen], Answer]:
        counts: collections.Counter[Any] = collections.Counter()

        def respond(seen: Seen) -> Answer:
            key: Any
            if seen.path == LOGIN:
                key = "login"
            elif "page" in seen.query:
                try:
                    key = int(seen.query["page"])
                except ValueError:
                    key = "?"
            else:
                key = "get"
            script = self.answers.get(key)
            if script is None:
                if self.fallback is not None:
                    return self.fallback(seen)
                return Reply(404, b"no such page")
            n = counts[key]
            counts[key] += 1
            return script[min(n, len(script) - 1)]

        return respond


@st.composite
def listing_cases(draw: st.DrawFn) -> Case:
    total = draw(st.integers(0, 12))
    size = draw(st.integers(1, 5))
    base = draw(st.sampled_from([0, 1]))
    pages = -(-total // size)
    server_base = 1 - base if rarely(draw, 10) else base
    answers: dict[Any, list[Answer]] = {}
    clean = server_base == base
    for index in range(max(pages, 1)):
        number = server_base + index
        items = [participant(i) for i in range(index * size, min(total, (index + 1) * size))]
        pageable = {"page": number, "size": size, "totalPages": pages, "totalElements": total}
        if index and rarely(draw, 10):
            pageable["totalElements"] = total + draw(st.sampled_from([-3, -1, 1, 5]))
            clean = False
        base_body = {"errorCode": "", "errorMessage": "", "content": items, "pageable": pageable}
        hostile = draw(st.sampled_from([False, False, True]))
        answers[number], page_clean = draw(
            attempts(base_body, hostile=hostile, later_page=index > 0)
        )
        clean = clean and page_clean
    last_scripted = server_base + max(pages, 1) - 1

    def beyond(seen: Seen) -> Answer:
        # Past the end, a Spring server answers empty pages with the same
        # totals; far past it, this one gives up, so no case runs for ever.
        number = int(seen.query.get("page", "0") or 0)
        if last_scripted < number <= last_scripted + 4:
            return Reply(200, page_body([], number, size, pages, total))
        return Reply(404, b"no such page")

    options: dict[str, Any] = {"page_size": size, "page_base": base}
    options["prefetch"] = draw(st.integers(1, 4))
    options["speculate"] = draw(st.integers(0, 3))
    max_pages = draw(st.one_of(st.none(), st.integers(1, 3)))
    if max_pages is not None:
        options["max_pages"] = max_pages
    max_items = draw(st.one_of(st.none(), st.integers(1, 13)))
    if max_items is not None:
        options["max_items"] = max_items
    options["on_list_change"] = draw(st.sampled_from(["warn", "raise", "ignore"]))
    if rarely(draw, 10):
        options["max_response_size"] = draw(st.integers(1, 3000))
        clean = False
    mode = draw(st.sampled_from(["collect", "iterate", "pages", "break"]))
    expected = [participant(i)["id"] for i in range(total)]
    if max_pages is not None:
        expected = expected[: max_pages * size]
    if max_items is not None:
        expected = expected[:max_items]
    if mode == "break":
        expected = expected[:2]
    return Case("listing", answers, options, mode, clean, expected, beyond)


@st.composite
def get_items_cases(draw: st.DrawFn) -> Case:
    count = draw(st.integers(0, 3))
    base_body = {
        "errorCode": "",
        "errorMessage": "",
        "content": [campaign_item(i) for i in range(count)],
        "pageable": {"page": 0, "size": 10, "totalPages": 1, "totalElements": count},
    }
    answer, clean = draw(attempts(base_body, hostile=not rarely(draw, 4)))
    mode = draw(st.sampled_from(["get_items", "campaign"]))
    options: dict[str, Any] = {}
    if rarely(draw, 10):
        options["max_response_size"] = draw(st.integers(1, 3000))
        clean = False
    return Case("get_items", {"get": answer}, options, mode, clean, list(range(count)))


BAD_TOKENS = ["", "a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\x00b", "a\x7fb", "\t", "tök", "x" * 20_000]


@st.composite
def login_cases(draw: st.DrawFn) -> Case:
    token = draw(st.sampled_from(BAD_TOKENS)) if rarely(draw, 4) else TOKEN
    base_body = {
        "errorCode": "",
        "errorMessage": "",
        "content": [{"token": token}],
        "pageable": "",
    }
    # The login is a POST: it is never retried, so no transient failures.
    login, clean = draw(attempts(base_body, hostile=not rarely(draw, 4), transients=False))
    clean = clean and token == TOKEN
    get = [Reply(200, items_body([campaign_item(1)]))]
    if rarely(draw, 5):
        get = [Reply(401, b""), *get]  # a re-login, with the next login answer
    return Case("login", {"login": login, "get": get}, {}, "get_items", clean, [1])


# -- running a case ------------------------------------------------------------


@dataclasses.dataclass
class FuzzEnv:
    server: HostileServer
    runner: asyncio.Runner
    outcomes: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    cases: int = 0
    seconds: float = 0.0


@pytest.fixture(scope="module", autouse=True)
def _hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Even without a database, hypothesis caches what it finds in local
    # modules under ./.hypothesis: keep that out of the working tree.
    configuration.set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    configuration.set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def fuzz_env() -> Iterator[FuzzEnv]:
    # Its own loop, not the global one: pytest-asyncio owns that.
    with HostileServer() as server, asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        env = FuzzEnv(server, runner)
        yield env
        print(
            f"\nfuzz: {env.cases} cases in {env.seconds:.1f} s; outcomes: "
            + ", ".join(f"{k} {v}" for k, v in sorted(env.outcomes.items()))
        )


async def call(case: Case, c: Client) -> list[int]:
    if case.kind == "listing":
        pager = c.campaign_participants(1, 2, **case.options)
        if case.mode == "collect":
            return [p.id for p in await pager.collect()]
        got: list[int] = []
        async with pager:
            if case.mode == "pages":
                async for page in pager.pages():
                    got += [p.id for p in page.items]
            else:
                async for p in pager:
                    assert isinstance(p, Participant)
                    got.append(p.id)
                    if case.mode == "break" and len(got) == 2:
                        break
        return got
    if case.mode == "campaign":
        return [(await c.campaign(1, 1, **case.options)).id]
    items = await c.get_items(CAMPAIGNS, Campaign, **case.options)
    assert all(isinstance(x, Campaign) for x in items)
    return [x.id for x in items]


def client_for(case: Case, server: HostileServer) -> Client:
    options: dict[str, Any] = {"timeout": 5.0, "retry": RetryPolicy(max_retries=MAX_RETRIES)}
    if case.kind == "login":
        options.update(username=USER, password=PASSWORD)
    return make_client(server, speculate=None, trust_env=False, **options)


async def run_case(case: Case, env: FuzzEnv) -> str:
    server = env.server
    server.forget()
    server.responder = case.responder()
    loop_tasks = asyncio.all_tasks()
    outcome: list[int] | FloliveError
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with asyncio.timeout(OUTER_TIMEOUT):
            c = client_for(case, server)
            async with c:
                try:
                    outcome = await call(case, c)
                except FloliveError as err:
                    outcome = err
                assert c.stats.in_flight == 0
            for _ in range(3):
                await asyncio.sleep(0)
    leaked = asyncio.all_tasks() - loop_tasks
    assert not leaked, f"tasks left pending: {leaked}"
    await server.wait_until(lambda: server.open_connections == 0, timeout=10)
    assert not server.errors, server.errors
    others = [w for w in caught if not issubclass(w.category, ListChangedWarning)]
    assert not others, [str(w.message) for w in others]

    for seen in server.requests:
        auth = seen.headers.get("Authorization", "")
        assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in auth), repr(auth)
        assert "X-Evil" not in seen.headers
    if isinstance(outcome, FloliveError):
        assert_no_secrets(outcome)

    if case.clean:
        if case.mode == "campaign" and len(case.expected) != 1:
            assert isinstance(outcome, DecodeError), outcome
        else:
            assert outcome == case.expected, outcome
            assert not caught, [str(w.message) for w in caught]
        if case.kind == "login":
            gets = [s for s in server.requests if s.path != LOGIN]
            assert gets
            assert all(s.headers.get("Authorization") == f"Bearer {TOKEN}" for s in gets)
    name = "result" if isinstance(outcome, list) else type(outcome).__name__
    if caught:
        name += " +ListChangedWarning"
    return name + (" (clean)" if case.clean else "")


def run(env: FuzzEnv, case: Case) -> None:
    started = time.perf_counter()
    name = env.runner.run(run_case(case, env))
    env.seconds += time.perf_counter() - started
    env.cases += 1
    env.outcomes[f"{case.kind}: {name}"] += 1


# -- the properties ------------------------------------------------------------


@soak_timeout
def test_fuzz_listing(fuzz_env: FuzzEnv) -> None:
    @examples("listing")
    @given(case=listing_cases())
    def check(case: Case) -> None:
        run(fuzz_env, case)

    check()


@soak_timeout
def test_fuzz_get_items(fuzz_env: FuzzEnv) -> None:
    @examples("get_items")
    @given(case=get_items_cases())
    def check(case: Case) -> None:
        run(fuzz_env, case)

    check()


@soak_timeout
def test_fuzz_login(fuzz_env: FuzzEnv) -> None:
    @examples("login")
    @given(case=login_cases())
    def check(case: Case) -> None:
        run(fuzz_env, case)

    check()
