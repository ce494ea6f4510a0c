"""The SDK's logging: logger names, log lines, redaction and ``FLOLIVE_LOG``.

Loggers, all under ``flolive`` (so ``logging.getLogger("flolive")`` holds them all):

- ``flolive.http`` -- DEBUG: one line per HTTP attempt (:func:`log_attempt`);
- ``flolive.retry`` -- INFO: retries and throttling (:func:`log_retry`,
  :func:`log_throttle`);
- ``flolive.auth`` -- INFO: re-logins (:func:`log_relogin`);
- ``flolive.limiter`` -- INFO: changes of the client's concurrency or rate
  (:func:`log_rate_change`).

No helper takes a header or a body: they take what the line says, and pass
everything a user or a server chose (the path and query, the request id, an
error's text) through :func:`redact_url` or :func:`redact_text` first, which
also take out the request's own credentials given as ``secrets=(token,)``,
and cut it to one line. Each returns at once,
having built nothing, when its logger is not enabled for its level; each
record also carries its fields as ``record.flolive`` (a dict), for structured
log handlers.

``FLOLIVE_LOG=debug|info|warning`` (read once, on ``import flolive``, by
:func:`configure_from_environment`) sets the ``flolive`` logger's level and
gives it a handler writing :data:`LOG_FORMAT` lines to stderr, used only while
the application has no logging of its own: once the root logger (or a logger
under ``flolive``) has a handler, records go to those alone.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus, urlencode

__all__ = [
    "AUTH_LOGGER",
    "ENV_VAR",
    "HTTP_LOGGER",
    "LIMITER_LOGGER",
    "LOGGER",
    "LOG_FORMAT",
    "REDACTED",
    "RETRY_LOGGER",
    "SENSITIVE_HEADERS",
    "SENSITIVE_PARAMS",
    "StderrHandler",
    "configure_from_environment",
    "log_attempt",
    "log_rate_change",
    "log_relogin",
    "log_retry",
    "log_throttle",
    "redact_headers",
    "redact_text",
    "redact_url",
]

LOGGER = "flolive"
HTTP_LOGGER = "flolive.http"
RETRY_LOGGER = "flolive.retry"
AUTH_LOGGER = "flolive.auth"
LIMITER_LOGGER = "flolive.limiter"

ENV_VAR = "FLOLIVE_LOG"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}

#: What stands where a credential was.
REDACTED = "[redacted]"
#: Header names (lower case) whose values are credentials.
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
        "x-access-token",
    }
)
#: Query parameter and field names (lower case) whose values are credentials.
SENSITIVE_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "client_secret",
        "password",
        "passwd",
        "refresh_token",
        "secret",
        "token",
    }
)
#: Secrets shorter than this are not searched for in text: they would match
#: ordinary words (a real token or password is longer).
_MIN_SECRET = 4
#: Longest server- or user-chosen text one line quotes.
_MAX_TEXT = 300

_http = logging.getLogger(HTTP_LOGGER)
_retry = logging.getLogger(RETRY_LOGGER)
_auth = logging.getLogger(AUTH_LOGGER)
_limiter = logging.getLogger(LIMITER_LOGGER)

_USERINFO = re.compile(r"(?<=://)[^/?#@\s]+@")
_SCHEME_CREDENTIALS = re.compile(r"\b(Bearer|Basic|Digest)\s+[^\s,;\"']+", re.IGNORECASE)
_NAMES = "|".join(sorted(SENSITIVE_PARAMS, key=len, reverse=True))
_FIELD = re.compile(
    rf"(?<![A-Za-z0-9_-])((?:{_NAMES})[\"']?\s*[:=]\s*[\"']?)([^\"'&\s,;}}]+)", re.IGNORECASE
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


# -- redaction -----------------------------------------------------------------


def redact_url(url: str, *secrets: str | None) -> str:
    """``url`` (a whole URL, or a path with its query) without credentials: the
    user and password of ``scheme://user:password@host``, the values of
    :data:`SENSITIVE_PARAMS` query parameters and each of ``secrets`` (of 4
    characters or more) become :data:`REDACTED`."""
    url = _without(url, secrets)
    if "@" in url:
        url = _USERINFO.sub(REDACTED + "@", url)
    head, sep, query = url.partition("?")
    if not sep:
        return url
    query, hash_, fragment = query.partition("#")
    pairs = query.split("&")
    for i, pair in enumerate(pairs):
        name, eq, _ = pair.partition("=")
        if eq and unquote_plus(name).strip().lower() in SENSITIVE_PARAMS:
            pairs[i] = f"{name}={REDACTED}"
    return f"{head}?{'&'.join(pairs)}{hash_}{fragment}"


def redact_text(text: str, *secrets: str | None) -> str:
    """``text`` (an error message, a server's words) made safe for one log line.

    Takes out each of ``secrets`` given (of 4 characters or more), URL user
    info, ``Bearer``/``Basic``/``Digest`` credentials and the values of
    ``token=``, ``"password": ...`` and the other :data:`SENSITIVE_PARAMS`
    fields; then folds control characters (newlines) to spaces, so a server
    cannot forge log lines, and cuts the text to 300 characters.
    """
    text = _without(text, secrets)
    if "@" in text:
        text = _USERINFO.sub(REDACTED + "@", text)
    text = _SCHEME_CREDENTIALS.sub(rf"\1 {REDACTED}", text)
    text = _FIELD.sub(rf"\1{REDACTED}", text)
    text = _CONTROL.sub(" ", text)
    if len(text) > _MAX_TEXT:
        text = text[: _MAX_TEXT - 3] + "..."
    return text


def _without(text: str, secrets: tuple[str | None, ...]) -> str:
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with the values of :data:`SENSITIVE_HEADERS` replaced
    by :data:`REDACTED` (names compared without regard to case)."""
    return {
        name: REDACTED if name.lower() in SENSITIVE_HEADERS else value
        for name, value in headers.items()
    }


Params = Mapping[str, str | int] | None
"""Query parameters sent beside the path (as aiohttp's ``params=``)."""


def _path(path_and_query: str, params: Params, secrets: tuple[str | None, ...]) -> str:
    if params:
        sep = "&" if "?" in path_and_query else "?"
        path_and_query = f"{path_and_query}{sep}{urlencode(params)}"
    return redact_url(path_and_query, *secrets)


def _quoted(value: str | None, secrets: tuple[str | None, ...]) -> str:
    """A server-chosen word (a request id) for a line: ``-`` when absent."""
    return "-" if not value else redact_text(value, *secrets).replace(" ", "_")


def _error_text(error: BaseException | str, secrets: tuple[str | None, ...]) -> str:
    if isinstance(error, BaseException):
        rid = getattr(error, "request_id", None)
        tail = f" request_id={_quoted(rid, secrets)}" if isinstance(rid, str) else ""
        return redact_text(f"{type(error).__name__}: {error}", *secrets) + tail
    return redact_text(error, *secrets)


# -- the lines -------------------------------------------------------------------


def attempts_logged() -> bool:
    """Whether :func:`log_attempt` writes anything (``flolive.http`` at DEBUG):
    the hot path asks before it gathers a line's fields."""
    return _http.isEnabledFor(logging.DEBUG)


def log_attempt(
    method: str,
    path_and_query: str,
    status: int | None,
    elapsed_ms: float,
    request_id: str | None,
    attempt: int,
    *,
    error: BaseException | str | None = None,
    params: Params = None,
    secrets: tuple[str | None, ...] = (),
) -> None:
    """One HTTP attempt, at DEBUG on ``flolive.http``, as
    ``GET /api/v2/...?page=0&size=100 200 12.3ms request_id=abc attempt=1``.

    Call it once per attempt, when its answer's status is known (or it failed:
    ``status=None`` and ``error`` the failure, written as ``failed`` and
    ``error=...``). ``elapsed_ms`` is the time from sending to the status (or
    failure), ``attempt`` counts from 1. ``params``: query parameters sent
    beside the path, joined to it only when the line is written (so the hot
    path builds no string). ``secrets``: the request's own credentials (its
    token), taken out of whatever the line quotes.
    """
    if not _http.isEnabledFor(logging.DEBUG):
        return
    path = _path(path_and_query, params, secrets)
    rid = _quoted(request_id, secrets)
    fields: dict[str, Any] = {
        "method": method,
        "path": path,
        "status": status,
        "elapsed_ms": round(elapsed_ms, 1),
        "request_id": rid if request_id else None,
        "attempt": attempt,
    }
    if error is None:
        _http.debug(
            "%s %s %s %.1fms request_id=%s attempt=%d",
            method,
            path,
            status,
            elapsed_ms,
            rid,
            attempt,
            extra={"flolive": fields},
        )
        return
    fields["error"] = text = _error_text(error, secrets)
    _http.debug(
        "%s %s %s %.1fms request_id=%s attempt=%d error=%s",
        method,
        path,
        "failed" if status is None else status,
        elapsed_ms,
        rid,
        attempt,
        text,
        extra={"flolive": fields},
    )


def log_retry(
    method: str,
    path_and_query: str,
    *,
    attempt: int,
    max_retries: int,
    delay: float,
    error: BaseException | str,
    params: Params = None,
    secrets: tuple[str | None, ...] = (),
) -> None:
    """A retry decided, at INFO on ``flolive.retry``, as
    ``retry 1 of 3 in 0.50 s: GET /api/v2/...: ServerError: HTTP 503 ...``.

    ``attempt`` is the number of the attempt that failed (so of the retry
    coming), ``delay`` the seconds waited before it, ``error`` the failure,
    ``params`` and ``secrets`` as for :func:`log_attempt`.
    """
    if not _retry.isEnabledFor(logging.INFO):
        return
    path = _path(path_and_query, params, secrets)
    text = _error_text(error, secrets)
    _retry.info(
        "retry %d of %d in %.2f s: %s %s: %s",
        attempt,
        max_retries,
        delay,
        method,
        path,
        text,
        extra={
            "flolive": {
                "method": method,
                "path": path,
                "attempt": attempt,
                "max_retries": max_retries,
                "delay": delay,
                "error": text,
            }
        },
    )


def log_throttle(
    method: str,
    path_and_query: str,
    error: BaseException | str,
    *,
    pause: float | None = None,
    params: Params = None,
    secrets: tuple[str | None, ...] = (),
) -> None:
    """The server pushed back (429, 500, 503, ``GLOBAL_1001``), at INFO on
    ``flolive.retry``, as ``GET /api/v2/... pushed back: RateLimited: ...``,
    with ``; the client pauses 2.00 s`` when ``pause`` (the seconds every
    request of the client now waits) is given; ``params`` and ``secrets`` as
    for :func:`log_attempt`."""
    if not _retry.isEnabledFor(logging.INFO):
        return
    path = _path(path_and_query, params, secrets)
    text = _error_text(error, secrets)
    extra = {"flolive": {"method": method, "path": path, "error": text, "pause": pause}}
    if pause is None:
        _retry.info("%s %s pushed back: %s", method, path, text, extra=extra)
    else:
        _retry.info(
            "%s %s pushed back: %s; the client pauses %.2f s",
            method,
            path,
            text,
            pause,
            extra=extra,
        )


def log_relogin(
    method: str,
    path_and_query: str,
    status: int = 401,
    *,
    params: Params = None,
    secrets: tuple[str | None, ...] = (),
) -> None:
    """A refused token is being replaced by a new login, at INFO on
    ``flolive.auth``, as ``GET /api/v2/...: HTTP 401, logging in again``;
    ``params`` and ``secrets`` as for :func:`log_attempt` (the refused token)."""
    if not _auth.isEnabledFor(logging.INFO):
        return
    path = _path(path_and_query, params, secrets)
    _auth.info(
        "%s %s: HTTP %d, logging in again",
        method,
        path,
        status,
        extra={"flolive": {"method": method, "path": path, "status": status}},
    )


def log_rate_change(name: str, old: float, new: float, reason: str) -> None:
    """The client changed how hard it calls the server, at INFO on
    ``flolive.limiter``, as ``concurrency 8 -> 4: the server pushed back``.

    ``name`` says what changed (``"concurrency"``, ``"rate"``; a unit may be
    part of it: ``"rate (requests/s)"``), ``reason`` why.
    """
    if not _limiter.isEnabledFor(logging.INFO):
        return
    _limiter.info(
        "%s %g -> %g: %s",
        name,
        old,
        new,
        reason,
        extra={"flolive": {"name": name, "old": old, "new": new, "reason": reason}},
    )


# -- FLOLIVE_LOG ---------------------------------------------------------------


class StderrHandler(logging.Handler):
    """Writes records to ``sys.stderr`` (as it is at each record) in
    :data:`LOG_FORMAT`, while the application has no logging of its own: no
    handler on the root logger, none on a logger between ``flolive`` and the
    record's but this one. Installed by :func:`configure_from_environment`."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        if self._others_handle(record):
            return
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)

    def _others_handle(self, record: logging.LogRecord) -> bool:
        if logging.getLogger().handlers:
            return True
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            if any(h is not self for h in logger.handlers):
                return True
            if logger.name == LOGGER:
                return False
            logger = logger.parent
        return False


def configure_from_environment(environ: Mapping[str, str] | None = None) -> StderrHandler | None:
    """Set up the ``flolive`` logger from ``FLOLIVE_LOG`` (in ``environ``,
    default :data:`os.environ`); the handler installed, or ``None``.

    ``debug``, ``info`` or ``warning`` (any case) set the ``flolive`` logger's
    level, unless the application set one already, and add a
    :class:`StderrHandler` (once). An empty or missing variable changes
    nothing; any other value changes nothing and logs a warning saying so.
    """
    value = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    if not value:
        return None
    logger = logging.getLogger(LOGGER)
    level = _LEVELS.get(value.lower())
    if level is None:
        logger.warning(
            "%s=%s is not one of debug, info, warning: ignored", ENV_VAR, redact_text(value)
        )
        return None
    if logger.level == logging.NOTSET:
        logger.setLevel(level)
    for handler in logger.handlers:
        if isinstance(handler, StderrHandler):
            return handler
    handler = StderrHandler()
    logger.addHandler(handler)
    return handler
