"""Every setting of the client, its listings, cursor reads and single requests,
defined once: name, type, default, check, one-line doc, and the scopes that
accept it.

Scopes:

* ``client``: a :class:`~flolive.Client` argument; its value is the default of
  every call that accepts the setting.
* ``derive``: :meth:`~flolive.Client.with_options` may change it.
* ``listing``: a per-call option of the paged listings (:class:`ListOptions`).
* ``cursor``: a per-call option of the cursor reads (:class:`CursorOptions`).
* ``request``: a per-call argument of the single requests (``campaign``,
  ``subscriber``, ``get_items``, ``request``).
* ``worker``: travels with a planned part (:class:`~flolive.parts.Part`) to
  the process that reads it: non-secret and picklable.

A per-call setting that is not given, or is given as :data:`USE_CLIENT_DEFAULT`,
takes the client's value; a per-call-only setting (``start_page``, ...) that is
not given takes its own default. :func:`resolve` does both, and refuses
unknown names (``TypeError``) and bad values (``ValueError``/``TypeError``) at
the call, before any request. The typed surfaces (the ``Client`` signature,
:class:`ListOptions`, :class:`CursorOptions`, the sync client) are written out
for type checkers and IDEs; a test keeps them equal to this table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from ._types import USE_CLIENT_DEFAULT, CursorToken, OnListChange, OnPage, ResumeToken
from .retry import RetryPolicy

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "SETTINGS",
    "CursorOptions",
    "ListOptions",
    "Scope",
    "Setting",
    "check_extra_headers",
    "names",
    "resolve",
]

Scope = Literal["client", "derive", "listing", "cursor", "request", "worker"]

DEFAULT_MAX_RESPONSE_SIZE = 64 * 1024 * 1024
#: The vendor's bounds of a cursor's ``size`` and ``pitKeepAlive`` (minutes).
MAX_CHUNK_SIZE = 10_000
MAX_KEEP_ALIVE = 30

Check = Callable[[str, Any], Any]


# -- checks: each returns the value to use, or raises naming the setting --------


def positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value


def _positive_or_none(name: str, value: Any) -> int | None:
    return None if value is None else positive_int(name, value)


def _page_base(name: str, value: Any) -> int:
    if isinstance(value, bool) or value not in (0, 1):
        raise ValueError(f"{name} must be 0 or 1, got {value!r}")
    return int(value)


def seconds_or_none(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a finite number of seconds > 0, or None; got {value!r}")
    return float(value)


def _retry(name: str, value: Any) -> RetryPolicy:
    if not isinstance(value, RetryPolicy):
        raise TypeError(f"{name} must be a RetryPolicy, got {value!r}")
    return value


def _client_retry(name: str, value: Any) -> RetryPolicy:
    # The constructor's None means "the default policy" (RetryPolicy()).
    return RetryPolicy() if value is None else _retry(name, value)


def _on_list_change(name: str, value: Any) -> OnListChange:
    if value not in ("warn", "raise", "ignore"):
        raise ValueError(f"{name} must be 'warn', 'raise' or 'ignore', got {value!r}")
    return value  # type: ignore[no-any-return]


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def _callable_or_none(name: str, value: Any) -> OnPage | None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable, got {value!r}")
    return value  # type: ignore[no-any-return]


def _resume(name: str, value: Any) -> ResumeToken | None:
    if value is not None and not isinstance(value, ResumeToken):
        raise TypeError(f"{name} must be a ResumeToken (err.resume), got {value!r}")
    return value


def _cursor_resume(name: str, value: Any) -> CursorToken | None:
    if value is not None and not isinstance(value, CursorToken):
        raise TypeError(f"{name} must be a CursorToken (position), got {value!r}")
    return value


def _max_rate(name: str, value: Any) -> float | str | None:
    if value is None or value == "auto":
        return value  # type: ignore[no-any-return]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(
            f"{name} must be 'auto', a number of requests/s > 0, or None; got {value!r}"
        )
    return float(value)


def check_extra_headers(name: str, value: Any) -> dict[str, str] | None:
    """Per-call headers: strings without CR, LF or NUL, and never credentials
    (those come from the client only)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of header names to values, got {value!r}")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(f"{name}: header names and values must be str, got {key!r}: {item!r}")
        if key.lower() in ("authorization", "proxy-authorization"):
            raise ValueError(
                f"{name} cannot set {key}: credentials come from the client only "
                "(token, username/password or token_provider)"
            )
        if any(c in key + item for c in "\r\n\x00"):
            raise ValueError(f"header {key!r} has a value that cannot be sent (CR, LF or NUL)")
        out[key] = item
    return out


def _extra_query(name: str, value: Any) -> dict[str, str | int] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of parameter names to values, got {value!r}")
    out: dict[str, str | int] = {}
    for key, item in value.items():
        if not isinstance(key, str) or isinstance(item, bool) or not isinstance(item, str | int):
            raise TypeError(
                f"{name}: names must be str and values str or int, got {key!r}: {item!r}"
            )
        out[key] = item
    return out


# -- the table ---------------------------------------------------------------------

_ALL_CALLS: frozenset[Scope] = frozenset({"client", "derive", "listing", "cursor", "request"})
_LISTS: frozenset[Scope] = frozenset({"client", "derive", "listing", "worker"})


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting.

    Attributes:
        name: the keyword, the same in every scope.
        type: the type as written in signatures (for docs and the signature test).
        default: the value when neither the call nor the client sets it.
        doc: one line for the docs.
        scopes: where the setting is accepted (see the module's docstring).
        check: validates a value, returning the value to use.
        derived_default: for ``client`` settings whose default depends on
            another (``prefetch``: twice ``max_concurrency``).
    """

    name: str
    type: str
    default: Any
    doc: str
    scopes: frozenset[Scope]
    check: Check
    derived_default: Callable[[Mapping[str, Any]], Any] | None = None


def _s(
    name: str,
    type_: str,
    default: Any,
    doc: str,
    scopes: Iterable[Scope],
    check: Check,
    derived_default: Callable[[Mapping[str, Any]], Any] | None = None,
) -> Setting:
    return Setting(name, type_, default, doc, frozenset(scopes), check, derived_default)


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        _s(
            "max_concurrency",
            "int",
            8,
            "most requests in flight at once, across every call and listing of the client",
            {"client", "worker"},
            positive_int,
        ),
        _s(
            "adaptive_concurrency",
            "bool",
            False,
            "halve the client-wide limit on push-back, grow it back by one per `limit` successes",
            {"client", "worker"},
            _bool,
        ),
        _s(
            "max_rate",
            "float | str | None",
            "auto",
            "send-rate limit in requests/s: 'auto' learns a gateway's rate from push-back, a "
            "number is a known quota (learn below it), None is no rate limit",
            _ALL_CALLS | {"worker"},
            _max_rate,
        ),
        _s("page_size", "int", 100, "items per page asked of the server", _LISTS, positive_int),
        _s("page_base", "int", 0, "number of the server's first page (0 or 1)", _LISTS, _page_base),
        _s(
            "prefetch",
            "int | None",
            None,
            "most pages fetched or held ahead of a listing's consumer (None: 2 x max_concurrency)",
            {"client", "derive", "listing"},
            positive_int,
            derived_default=lambda values: 2 * values["max_concurrency"],
        ),
        _s(
            "speculate",
            "int",
            3,
            "pages requested together with the first page, before totalPages is known (0: off)",
            _LISTS,
            non_negative_int,
        ),
        _s(
            "timeout",
            "float | None",
            30.0,
            "seconds for one request, from its slot to the end of its body (None: none)",
            _ALL_CALLS | {"worker"},
            seconds_or_none,
        ),
        _s(
            "listing_timeout",
            "float | None",
            None,
            "seconds for a whole listing pass or cursor read (None: none)",
            {"client", "derive", "listing", "cursor"},
            seconds_or_none,
        ),
        _s(
            "retry",
            "RetryPolicy",
            None,
            "the RetryPolicy of the requests (None at the client: RetryPolicy())",
            _ALL_CALLS | {"worker"},
            _retry,
        ),
        _s(
            "on_list_change",
            "OnListChange",
            "warn",
            "'warn', 'raise' or 'ignore' when a list changes while read, or a read ends short",
            {"client", "derive", "listing", "cursor"},
            _on_list_change,
        ),
        _s(
            "max_response_size",
            "int",
            DEFAULT_MAX_RESPONSE_SIZE,
            "most bytes of one response body, after decompression (64 MiB)",
            _ALL_CALLS | {"worker"},
            positive_int,
        ),
        # Per call only: no client default.
        _s(
            "start_page",
            "int | None",
            None,
            "API page number to start at",
            {"listing"},
            non_negative_int,
        ),
        _s(
            "resume",
            "ResumeToken | CursorToken | None",
            None,
            "where to go on: err.resume (listings) or an iterator's position (cursor reads)",
            {"listing", "cursor"},
            _resume,
        ),
        _s("max_pages", "int | None", None, "most pages to read", {"listing"}, _positive_or_none),
        _s(
            "max_items",
            "int | None",
            None,
            "most items to read; the last page is trimmed, no page asked that could not be needed",
            {"listing", "cursor"},
            _positive_or_none,
        ),
        _s(
            "on_page",
            "OnPage | None",
            None,
            "called with each page as it is handed over, in page order",
            {"listing"},
            _callable_or_none,
        ),
        _s(
            "read_ahead",
            "bool",
            True,
            "ask for the next chunk while the consumer handles this one",
            {"cursor"},
            _bool,
        ),
        _s(
            "extra_headers",
            "Mapping[str, str] | None",
            None,
            "headers for this call, over the client's (never Authorization)",
            {"listing", "cursor", "request"},
            check_extra_headers,
        ),
        _s(
            "extra_query",
            "Mapping[str, str | int] | None",
            None,
            "query parameters for this call, over the endpoint's",
            {"listing", "cursor", "request"},
            _extra_query,
        ),
    )
}

#: Checks that differ by scope (the same name, another token type).
_SCOPED_CHECKS: dict[tuple[str, Scope], Check] = {
    ("resume", "cursor"): _cursor_resume,
    ("retry", "client"): _client_retry,
}


def names(scope: Scope) -> frozenset[str]:
    """The settings a scope accepts."""
    return frozenset(n for n, s in SETTINGS.items() if scope in s.scopes)


_NAMES: dict[Scope, frozenset[str]] = {
    scope: names(scope) for scope in ("client", "derive", "listing", "cursor", "request", "worker")
}


def check(name: str, value: Any, scope: Scope) -> Any:
    """``value`` checked as setting ``name`` in ``scope``."""
    return _SCOPED_CHECKS.get((name, scope), SETTINGS[name].check)(name, value)


def resolve(
    scope: Scope,
    given: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
    *,
    what: str = "",
) -> dict[str, Any]:
    """Every setting of ``scope``, checked: what the call ``given``, else the
    client's value in ``defaults``, else the setting's own default.

    A value of :data:`USE_CLIENT_DEFAULT` counts as not given. ``defaults``
    holds resolved values and is not checked again.

    Raises:
        TypeError: a name the scope does not accept (``what`` names the call).
    """
    accepted = _NAMES[scope]
    unknown = given.keys() - accepted
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise TypeError(
            f"unknown {what or scope} option{plural} "
            f"{', '.join(sorted(map(repr, unknown)))}; valid options are "
            f"{', '.join(sorted(accepted))}"
        )
    out: dict[str, Any] = {}
    for name in accepted:
        value = given.get(name, USE_CLIENT_DEFAULT)
        if value is not USE_CLIENT_DEFAULT:
            out[name] = check(name, value, scope)
        elif defaults is not None and name in defaults:
            out[name] = defaults[name]
        else:
            out[name] = SETTINGS[name].default  # the table's own defaults are valid
    return out


def resolve_client(given: Mapping[str, Any]) -> dict[str, Any]:
    """The client's settings from its constructor's arguments; ``None`` for a
    setting with a derived default (``prefetch``) means that default."""
    out = resolve(
        "client",
        {k: v for k, v in given.items() if v is not None or k not in _DERIVED},
        what="Client",
    )
    for name in _DERIVED:
        if given.get(name) is None:
            derived = SETTINGS[name].derived_default
            assert derived is not None
            out[name] = check(name, derived(out), "client")
    return out


_DERIVED = frozenset(n for n, s in SETTINGS.items() if s.derived_default is not None)


def doc_of(scope: Scope) -> str:
    """The "Keys:" section of a scope's options, for docstrings."""
    return "\n".join(f"    {n}: {SETTINGS[n].doc}." for n in sorted(_NAMES[scope]))


class _CallOptions(TypedDict, total=False):
    """The per-call options listings and cursor reads share."""

    timeout: float | None
    listing_timeout: float | None
    retry: RetryPolicy
    on_list_change: OnListChange
    max_response_size: int
    max_rate: float | str | None
    max_items: int
    extra_headers: Mapping[str, str]
    extra_query: Mapping[str, str | int]


class ListOptions(_CallOptions, total=False):
    """Per-call options of every listing method; each defaults to the client's
    setting (:data:`~flolive.USE_CLIENT_DEFAULT` says so explicitly).

    Keys: ``page_size``, ``page_base``, ``start_page``, ``resume`` (a
    :class:`~flolive.ResumeToken`), ``max_pages``, ``max_items``, ``prefetch``,
    ``speculate``, ``on_page``, ``timeout``, ``listing_timeout``, ``retry``,
    ``on_list_change``, ``max_response_size``, ``max_rate``, ``extra_headers``,
    ``extra_query``: see the settings table of the configuration page.
    """

    page_size: int
    page_base: int
    start_page: int
    resume: ResumeToken
    max_pages: int
    prefetch: int
    speculate: int
    on_page: OnPage


class CursorOptions(_CallOptions, total=False):
    """Per-call options of the point-in-time cursor reads
    (:meth:`~flolive.Client.all_subscribers`); each defaults to the client's
    setting.

    Keys: ``resume`` (a :class:`~flolive.CursorToken`, an iterator's
    ``position``), ``max_items``, ``read_ahead`` (default ``True``),
    ``timeout``, ``listing_timeout``, ``retry``, ``on_list_change``,
    ``max_response_size``, ``max_rate``, ``extra_headers``, ``extra_query``:
    see the settings table of the configuration page.
    """

    resume: CursorToken
    read_ahead: bool
