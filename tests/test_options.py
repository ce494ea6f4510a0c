"""The settings table is the one definition: every typed surface agrees with it."""

from __future__ import annotations

import inspect
import typing
from typing import Any

import pytest

import flolive
from flolive import USE_CLIENT_DEFAULT, Client, CursorOptions, ListOptions, RetryPolicy
from flolive._options import SETTINGS, names, resolve

BASE = "http://api.test"


def test_the_client_signature_has_every_client_setting_with_its_default() -> None:
    params = inspect.signature(Client.__init__).parameters
    for name in names("client"):
        assert name in params, f"Client() lacks the setting {name}"
        assert params[name].default == SETTINGS[name].default, name
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name


def test_the_client_reads_each_setting_back_as_resolved() -> None:
    c = Client(BASE, token="t", max_concurrency=4)
    assert c.settings["max_concurrency"] == c.max_concurrency == 4
    assert c.prefetch == 8  # derived: twice max_concurrency
    assert c.retry == RetryPolicy()  # None means the default policy
    assert set(c.settings) == names("client")
    with pytest.raises(AttributeError):
        _ = c.not_a_setting  # type: ignore[attr-defined]


@pytest.mark.parametrize(("typed", "scope"), [(ListOptions, "listing"), (CursorOptions, "cursor")])
def test_typed_options_are_the_table_scope(typed: Any, scope: Any) -> None:
    assert set(typing.get_type_hints(typed)) == names(scope)


def test_with_options_accepts_exactly_the_derive_scope() -> None:
    c = Client(BASE, token="t")
    derived = c.with_options(**{**{n: c.settings[n] for n in names("derive")}, "page_size": 7})
    assert derived.page_size == 7
    assert c.page_size == 100
    assert {n: derived.settings[n] for n in names("derive") - {"page_size"}} == {
        n: c.settings[n] for n in names("derive") - {"page_size"}
    }
    with pytest.raises(TypeError, match="cannot set 'max_concurrency'"):
        c.with_options(max_concurrency=2)
    with pytest.raises(ValueError, match="page_size must be a positive int"):
        c.with_options(page_size=0)


def test_use_client_default_means_the_clients_value() -> None:
    got = resolve("request", {"timeout": USE_CLIENT_DEFAULT}, {"timeout": 7.0})
    assert got["timeout"] == 7.0
    got = resolve("request", {"timeout": None}, {"timeout": 7.0})
    assert got["timeout"] is None  # None is a value of its own: no timeout


@pytest.mark.parametrize(
    ("scope", "given", "error", "match"),
    [
        ("listing", {"page_sise": 3}, TypeError, "unknown listing option 'page_sise'"),
        ("cursor", {"page_size": 3}, TypeError, "unknown cursor option 'page_size'"),
        ("listing", {"speculate": -1}, ValueError, "speculate must be an int >= 0"),
        ("listing", {"max_rate": 0}, ValueError, "max_rate must be 'auto'"),
        ("request", {"retry": 3}, TypeError, "retry must be a RetryPolicy"),
        ("listing", {"resume": "p3"}, TypeError, "resume must be a ResumeToken"),
        ("cursor", {"resume": "p3"}, TypeError, "resume must be a CursorToken"),
        ("cursor", {"read_ahead": 1}, TypeError, "read_ahead must be a bool"),
        (
            "request",
            {"extra_headers": {"Authorization": "Bearer x"}},
            ValueError,
            "cannot set Authorization",
        ),
        ("request", {"extra_headers": {"X-A": "a\r\nb"}}, ValueError, "CR, LF or NUL"),
        ("request", {"extra_query": {"a": True}}, TypeError, "values str or int"),
    ],
)
def test_bad_settings_are_refused_with_their_name(
    scope: Any, given: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        resolve(scope, given, {})


def test_every_setting_has_a_doc_and_scopes() -> None:
    for setting in SETTINGS.values():
        assert setting.doc
        assert not setting.doc.endswith(".")
        assert setting.scopes


def test_per_call_authorization_is_refused_before_any_request() -> None:
    c = Client(BASE, token="t")
    # Not even open: the refusal comes from the call's own check.
    with pytest.raises(ValueError, match="credentials come from the client only"):
        c.all_subscribers(1, extra_headers={"authorization": "x"})
    with pytest.raises(ValueError, match="credentials come from the client only"):
        c.campaigns(1, extra_headers={"Proxy-Authorization": "x"})


def test_public_names_include_the_new_types() -> None:
    for name in ("Response", "ProxyError", "CertificateError", "ResumeToken", "CursorToken"):
        assert name in flolive.__all__
