"""Logging: FLOLIVE_LOG sets up stderr logging on import, the helpers' exact
lines, redaction, and no credential in any line a real client run emits."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flolive import _logging as L

from .support.readme import example

_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def _run(program: str, log: str | None, *args: str) -> list[str]:
    """Run ``program`` in a fresh interpreter with ``FLOLIVE_LOG=log``; its
    stderr lines, each checked for and stripped of its time stamp."""
    env = {k: v for k, v in os.environ.items() if k != L.ENV_VAR}
    if log is not None:
        env[L.ENV_VAR] = log
    done = subprocess.run(
        [sys.executable, "-c", program, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stderr.splitlines()


def _unstamped(lines: list[str]) -> list[str]:
    assert all(_STAMP.match(line) for line in lines), lines
    return [_STAMP.sub("", line) for line in lines]


_PROGRAM = """\
import logging
import sys

import flolive
from flolive import _logging as L

if sys.argv[1:] == ["app"]:
    logging.basicConfig(format="APP %(levelname)s %(name)s %(message)s")
L.log_attempt("GET", "/api/v2/x?page=0", 200, 12.34, "rid-1", 1)
L.log_retry("GET", "/api/v2/x?page=0", attempt=1, max_retries=3, delay=0.5, error="HTTP 503")
logging.getLogger("flolive").warning("a warning")
"""
_ATTEMPT = "DEBUG flolive.http: GET /api/v2/x?page=0 200 12.3ms request_id=rid-1 attempt=1"
_RETRY = "INFO flolive.retry: retry 1 of 3 in 0.50 s: GET /api/v2/x?page=0: HTTP 503"
_WARNING = "WARNING flolive: a warning"


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ("debug", [_ATTEMPT, _RETRY, _WARNING]),
        ("DEBUG", [_ATTEMPT, _RETRY, _WARNING]),
        ("info", [_RETRY, _WARNING]),
        (" warning ", [_WARNING]),
    ],
)
def test_flolive_log_sends_the_sdk_lines_to_stderr(log: str, expected: list[str]) -> None:
    assert _unstamped(_run(_PROGRAM, log)) == expected


def test_without_flolive_log_nothing_changes() -> None:
    # Python's last-resort handler: warnings only, the bare message.
    assert _run(_PROGRAM, None) == ["a warning"]
    assert _run(_PROGRAM, "") == ["a warning"]


def test_an_unknown_level_is_ignored_with_a_warning() -> None:
    assert _run(_PROGRAM, "loud") == [
        "FLOLIVE_LOG=loud is not one of debug, info, warning: ignored",
        "a warning",
    ]


def test_the_applications_own_logging_takes_the_lines_once() -> None:
    # Configured after `import flolive`: its handler alone writes, in its format.
    assert _run(_PROGRAM, "debug", "app") == [
        "APP DEBUG flolive.http GET /api/v2/x?page=0 200 12.3ms request_id=rid-1 attempt=1",
        "APP INFO flolive.retry retry 1 of 3 in 0.50 s: GET /api/v2/x?page=0: HTTP 503",
        "APP WARNING flolive a warning",
    ]


# -- set-up in this process ---------------------------------------------------------


@pytest.fixture
def flolive_logger() -> Iterator[logging.Logger]:
    """The ``flolive`` logger, given back as it was after the test."""
    logger = logging.getLogger(L.LOGGER)
    level, handlers = logger.level, list(logger.handlers)
    yield logger
    logger.setLevel(level)
    logger.handlers[:] = handlers


def test_configure_sets_the_level_and_one_handler(flolive_logger: logging.Logger) -> None:
    flolive_logger.setLevel(logging.NOTSET)
    handler = L.configure_from_environment({"FLOLIVE_LOG": "info"})
    assert isinstance(handler, L.StderrHandler)
    assert flolive_logger.level == logging.INFO
    assert L.configure_from_environment({"FLOLIVE_LOG": "info"}) is handler
    assert [h for h in flolive_logger.handlers if isinstance(h, L.StderrHandler)] == [handler]


def test_configure_keeps_a_level_the_application_set(flolive_logger: logging.Logger) -> None:
    flolive_logger.setLevel(logging.ERROR)
    assert L.configure_from_environment({"FLOLIVE_LOG": "debug"}) is not None
    assert flolive_logger.level == logging.ERROR


def test_configure_without_the_variable_changes_nothing(flolive_logger: logging.Logger) -> None:
    before = (flolive_logger.level, list(flolive_logger.handlers))
    assert L.configure_from_environment({}) is None
    assert L.configure_from_environment({"FLOLIVE_LOG": "  "}) is None
    assert (flolive_logger.level, flolive_logger.handlers) == before


def test_the_stderr_handler_writes_only_while_nothing_else_handles(
    flolive_logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = L.StderrHandler()
    flolive_logger.handlers[:] = [handler]
    flolive_logger.setLevel(logging.INFO)
    record = logging.LogRecord("flolive.auth", logging.INFO, __file__, 1, "x %d", (1,), None)
    handler.handle(record)  # pytest's own capture handler is on the root logger
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    handler.handle(record)
    assert _unstamped(capsys.readouterr().err.splitlines()) == ["INFO flolive.auth: x 1"]
    other = logging.getLogger("flolive.auth")
    monkeypatch.setattr(other, "handlers", [logging.NullHandler()])
    handler.handle(record)
    assert capsys.readouterr().err == ""


# -- the helpers' lines --------------------------------------------------------------


def _lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records]


def test_attempt_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=L.LOGGER)
    L.log_attempt("GET", "/api/v2/c/1/campaign?page=2&size=100", 200, 7.06, "abc-1", 1)
    L.log_attempt("POST", "/api/v2/c/1/subscriber-all", 503, 1500.0, None, 2)
    L.log_attempt(
        "GET", "/api/v2/x", None, 30000.0, None, 4, error=TimeoutError("no complete response")
    )
    assert _lines(caplog) == [
        (
            "flolive.http",
            logging.DEBUG,
            "GET /api/v2/c/1/campaign?page=2&size=100 200 7.1ms request_id=abc-1 attempt=1",
        ),
        (
            "flolive.http",
            logging.DEBUG,
            "POST /api/v2/c/1/subscriber-all 503 1500.0ms request_id=- attempt=2",
        ),
        (
            "flolive.http",
            logging.DEBUG,
            "GET /api/v2/x failed 30000.0ms request_id=- attempt=4 "
            "error=TimeoutError: no complete response",
        ),
    ]
    assert caplog.records[0].flolive == {  # type: ignore[attr-defined]
        "method": "GET",
        "path": "/api/v2/c/1/campaign?page=2&size=100",
        "status": 200,
        "elapsed_ms": 7.1,
        "request_id": "abc-1",
        "attempt": 1,
    }


def test_params_join_the_path_only_when_a_line_is_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=L.LOGGER)
    params = {"page": 3, "size": 100, "token": "sbx-1-0123456789"}
    L.log_attempt("GET", "/p", 200, 1.0, None, 1, params=params)
    L.log_attempt("GET", "/p?a=b", 200, 1.0, None, 1, params={"page": 1})
    L.log_relogin("GET", "/p", params={"page": 2})
    L.log_retry("GET", "/p", attempt=1, max_retries=1, delay=0, error="x", params={"page": 4})
    L.log_throttle("GET", "/p", "x", params={"page": 5})
    assert [m for _, _, m in _lines(caplog)] == [
        "GET /p?page=3&size=100&token=[redacted] 200 1.0ms request_id=- attempt=1",
        "GET /p?a=b&page=1 200 1.0ms request_id=- attempt=1",
        "GET /p?page=2: HTTP 401, logging in again",
        "retry 1 of 1 in 0.00 s: GET /p?page=4: x",
        "GET /p?page=5 pushed back: x",
    ]


def test_info_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=L.LOGGER)
    L.log_retry("GET", "/p?page=1", attempt=2, max_retries=3, delay=1.25, error="HTTP 500")
    L.log_throttle("GET", "/p?page=1", "RateLimited: HTTP 429", pause=2.0)
    L.log_throttle("GET", "/p?page=3", "APIError: GLOBAL_1001")
    L.log_relogin("GET", "/p?page=1")
    L.log_rate_change("concurrency", 8, 4, "the server pushed back")
    L.log_rate_change("rate (requests/s)", 10.0, 12.5, "no pushback")
    assert _lines(caplog) == [
        ("flolive.retry", logging.INFO, "retry 2 of 3 in 1.25 s: GET /p?page=1: HTTP 500"),
        (
            "flolive.retry",
            logging.INFO,
            "GET /p?page=1 pushed back: RateLimited: HTTP 429; the client pauses 2.00 s",
        ),
        ("flolive.retry", logging.INFO, "GET /p?page=3 pushed back: APIError: GLOBAL_1001"),
        ("flolive.auth", logging.INFO, "GET /p?page=1: HTTP 401, logging in again"),
        ("flolive.limiter", logging.INFO, "concurrency 8 -> 4: the server pushed back"),
        ("flolive.limiter", logging.INFO, "rate (requests/s) 10 -> 12.5: no pushback"),
    ]


class _Untouchable(str):
    """A path that fails the test if a helper so much as looks at it."""

    __slots__ = ()

    def __contains__(self, item: object) -> bool:
        raise AssertionError("a disabled helper read its arguments")

    def partition(self, sep: str) -> tuple[str, str, str]:  # type: ignore[override]
        raise AssertionError("a disabled helper read its arguments")


def test_disabled_helpers_build_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=L.LOGGER)
    path = _Untouchable("/p")
    L.log_attempt("GET", path, 200, 1.0, "r", 1)
    L.log_retry("GET", path, attempt=1, max_retries=3, delay=0.5, error="x")
    L.log_throttle("GET", path, "x")
    L.log_relogin("GET", path)
    L.log_rate_change("concurrency", 2, 1, "x")
    assert caplog.records == []


# -- redaction ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/api/v2/x?page=0&size=100", "/api/v2/x?page=0&size=100"),
        ("/api/v2/x", "/api/v2/x"),
        ("/x?token=abc&page=1", "/x?token=[redacted]&page=1"),
        ("/x?Access_Token=abc#frag", "/x?Access_Token=[redacted]#frag"),
        ("/x?pass%77ord=abc", "/x?pass%77ord=[redacted]"),
        ("http://bob:pw@proxy:3128/x?q", "http://[redacted]@proxy:3128/x?q"),
        ("https://bob@host/x", "https://[redacted]@host/x"),
        ("/x?token", "/x?token"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert L.redact_url(url) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer eyJ.abc-1", "Authorization: Bearer [redacted]"),
        ("proxy said basic Ym9iOnB3", "proxy said basic [redacted]"),
        ('{"password": "hunter22", "user": "a"}', '{"password": "[redacted]", "user": "a"}'),
        ("token=abc123&page=2", "token=[redacted]&page=2"),
        (
            "Cannot connect to http://bob:pw@proxy:3128",
            "Cannot connect to http://[redacted]@proxy:3128",
        ),
        ("tokens: 3, passwordless", "tokens: 3, passwordless"),
        ("two\nlines\r\n\tforged", "two lines forged"),
        ("x" * 400, "x" * 297 + "..."),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert L.redact_text(text) == expected


def test_redact_text_takes_out_given_secrets_of_four_characters_or_more() -> None:
    assert L.redact_text("abc s3cr3t and abc", "s3cr3t", "abc", None, "") == (
        "abc [redacted] and abc"
    )


def test_redact_headers() -> None:
    headers = {"Authorization": "Bearer t", "proxy-authorization": "Basic x", "Set-Cookie": "s=1"}
    assert L.redact_headers({**headers, "Request-Id": "r1"}) == {
        "Authorization": "[redacted]",
        "proxy-authorization": "[redacted]",
        "Set-Cookie": "[redacted]",
        "Request-Id": "r1",
    }


def test_the_requests_own_secrets_are_taken_out_of_every_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=L.LOGGER)
    tok = "sbx-1-0123456789abcdef"
    L.log_attempt("GET", f"/x?q={tok}", 500, 1.0, tok, 1, error=f"echo {tok}", secrets=(tok,))
    L.log_retry("GET", f"/x/{tok}", attempt=1, max_retries=2, delay=0, error=tok, secrets=(tok,))
    L.log_throttle("GET", f"/x/{tok}", tok, secrets=(tok,))
    L.log_relogin("GET", f"/x/{tok}", secrets=(tok,))
    assert [m for _, _, m in _lines(caplog)] == [
        "GET /x?q=[redacted] 500 1.0ms request_id=[redacted] attempt=1 error=echo [redacted]",
        "retry 1 of 2 in 0.00 s: GET /x/[redacted]: [redacted]",
        "GET /x/[redacted] pushed back: [redacted]",
        "GET /x/[redacted]: HTTP 401, logging in again",
    ]


def test_a_hostile_request_id_cannot_forge_a_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=L.LOGGER)
    L.log_attempt("GET", "/x", 200, 1.0, "r1\n2026-01-01 INFO flolive: forged", 1)
    assert _lines(caplog) == [
        (
            "flolive.http",
            logging.DEBUG,
            "GET /x 200 1.0ms request_id=r1_2026-01-01_INFO_flolive:_forged attempt=1",
        )
    ]


# -- no credential in any line ------------------------------------------------------

_CLIENT_RUN = """\
import asyncio
import base64
import json
import secrets

import flolive
from flolive import RetryPolicy
from flolive import _logging as L
from flolive.sandbox import Faults, Sandbox

PASSWORD = "pw-" + secrets.token_hex(8)
PROXY_PASSWORD = "px-" + secrets.token_hex(8)


async def no_wait(seconds):
    await asyncio.sleep(0)


async def main():
    tokens = set()
    # 503s and 429s to retry, throttle and pause on; a proxy with credentials
    # (the sandbox itself: it serves absolute-form requests too); a password
    # login, and a re-login after every token is revoked.
    sandbox = Sandbox(
        users={"alice": PASSWORD}, faults=Faults(unavailable=0.2, rate_limited=0.1), seed=1
    )
    async with sandbox as url:
        proxy = f"http://bob:{PROXY_PASSWORD}@127.0.0.1:{sandbox.port}"
        async with flolive.Client(
            base_url=url,
            username="alice",
            password=PASSWORD,
            proxy=proxy,
            sleep=no_wait,
            retry=RetryPolicy(max_retries=8),
            adaptive_concurrency=True,
        ) as client:
            items = len(await client.campaign_participants(1, 1).collect())
            tokens |= sandbox.tokens
            sandbox.revoke_tokens()
            await client.campaign(1, 1)
            tokens |= sandbox.tokens
    # What the transport will hand the helpers when a server or a caller is careless.
    token = sorted(tokens)[0]
    L.log_attempt(
        "GET", f"/x?t={token}&password={PASSWORD}", 200, 1.0, f"id {token}", 1, secrets=(token,)
    )
    L.log_retry(
        "GET",
        f"http://bob:{PROXY_PASSWORD}@proxy/x",
        attempt=1,
        max_retries=3,
        delay=0.5,
        error=f"echo: Authorization: Bearer {token}, password={PASSWORD}, {token}",
        secrets=(token,),
    )
    basic = base64.b64encode(f"bob:{PROXY_PASSWORD}".encode()).decode()
    print(json.dumps({"items": items, "secrets": [PASSWORD, PROXY_PASSWORD, basic, *tokens]}))


asyncio.run(main())
"""


def test_no_line_holds_a_token_password_or_proxy_credential(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT_RUN],
        env={**os.environ, L.ENV_VAR: "debug"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )
    out = json.loads(done.stdout)
    assert out["items"] == 988
    assert len(out["secrets"]) == 5  # two tokens: the first login's and the re-login's
    lines = done.stderr.splitlines()
    assert any("HTTP 401" in line for line in lines)  # the re-login
    assert any("retry 1 of 8" in line for line in lines)
    assert sum("[redacted]" in line for line in lines) == 2  # the two careless calls
    leaks = [(secret, line) for line in lines for secret in out["secrets"] if secret in line]
    assert leaks == []


def test_the_docs_example_configures_logging_in_code() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "logging.md"
    done = subprocess.run(
        [sys.executable, "-c", example("logging-config", docs)],
        env={k: v for k, v in os.environ.items() if k != L.ENV_VAR},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout == "988\n"
    assert done.stderr == ""  # no retries in a faultless sandbox, and nothing below INFO
