"""The pytest plugin ``flolive.testing``: loaded by its entry point, its fixtures
work in pytest-asyncio's auto and strict modes, and every sandbox it starts is
stopped (port closed, thread joined) when the test ends."""

from __future__ import annotations

import socket
import threading
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import flolive
import flolive.sync
import flolive.testing
from flolive.sandbox import Sandbox

from .support.readme import example

pytest_plugins = ["pytester"]

# Hypothesis's plugin is left out of the inner runs: it is slow to load there
# (pytester re-imports and assertion-rewrites it) and has nothing to do here.
_ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-W", "error")

_INI = """\
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
filterwarnings = error
"""

# A user's test module; {mark} is what an async test needs in the mode.
_USER_TESTS = """\
import pathlib

import pytest

import flolive
import flolive.sync

URLS = pathlib.Path(__file__).with_name("urls.txt")


def seen(*urls):
    with URLS.open("a") as fh:
        fh.writelines(url + "\\n" for url in urls)


{mark}
async def test_async_client(flolive_client, flolive_sandbox):
    seen(flolive_sandbox)
    assert isinstance(flolive_client, flolive.Client)
    assert flolive_client.base_url == flolive_sandbox
    assert len(await flolive_client.campaign_participants(1, 1).collect()) == 988


def test_sync_client(flolive_sync_client, flolive_sandbox):
    seen(flolive_sandbox)
    assert isinstance(flolive_sync_client, flolive.sync.Client)
    assert len(flolive_sync_client.campaign_participants(1, 1).collect()) == 988


{mark}
async def test_sync_client_in_an_async_test(flolive_sync_client):
    # The sandbox runs on a loop of its own: a blocking call here cannot stall it.
    with flolive_sync_client.campaign_participants(1, 2, page_size=10).pages() as pages:
        assert len(next(pages).items) == 10


def test_factory_starts_sandboxes_with_options(flolive_sandbox_factory, flolive_sandbox):
    one = flolive_sandbox_factory(page_base=1, campaign_sizes={{1: 5}})
    two = flolive_sandbox_factory(campaign_sizes={{1: 3}})
    seen(flolive_sandbox, one, two)
    assert len({{flolive_sandbox, one, two}}) == 3
    assert all(url.startswith("http://127.0.0.1:") for url in (flolive_sandbox, one, two))
    with flolive.sync.Client(base_url=one, page_base=1, page_size=2, trust_env=False) as c:
        pages = list(c.campaign_participants(1, 1).pages())
    assert [p.number for p in pages] == [1, 2, 3]
    assert sum(len(p.items) for p in pages) == 5
    with flolive.sync.Client(base_url=two, trust_env=False) as c:
        assert len(c.campaign_participants(1, 1).collect()) == 3


def test_factory_refuses_unknown_options(flolive_sandbox_factory):
    with pytest.raises(TypeError, match="colour"):
        flolive_sandbox_factory(colour="blue")
"""


def _closed(url: str) -> bool:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def _run_user_tests(pytester: pytest.Pytester, mode: str, mark: str) -> list[str]:
    """Run the user's tests in ``mode``; the sandbox URLs they saw."""
    pytester.makefile(".ini", pytest=_INI.format(mode=mode))
    pytester.makepyfile(test_user=_USER_TESTS.format(mark=mark))
    threads = set(threading.enumerate())
    result = pytester.runpytest(*_ARGS)
    result.assert_outcomes(passed=5, warnings=0)
    assert set(threading.enumerate()) == threads  # every sandbox and client thread joined
    return (pytester.path / "urls.txt").read_text().split()


@pytest.mark.parametrize(
    ("mode", "mark"), [("auto", ""), ("strict", "@pytest.mark.asyncio")], ids=["auto", "strict"]
)
def test_fixtures_work_and_stop_their_sandboxes(
    pytester: pytest.Pytester, mode: str, mark: str
) -> None:
    urls = _run_user_tests(pytester, mode, mark)
    # One sandbox for each test that asked for one, and for each factory call.
    assert len(urls) == 5
    assert len(set(urls)) == 5
    assert [url for url in urls if not _closed(url)] == []


def test_the_docs_examples_pass(pytester: pytest.Pytester) -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "testing.md"
    client = example("testing-client", docs)
    assert len(client.strip().splitlines()) == 3  # the three-line example
    pytester.makefile(".ini", pytest=_INI.format(mode="auto"))
    pytester.makepyfile(test_client=client, test_factory=example("testing-factory", docs))
    pytester.runpytest(*_ARGS).assert_outcomes(passed=2, warnings=0)


def test_the_plugin_is_registered_by_its_entry_point(pytestconfig: pytest.Config) -> None:
    (entry,) = entry_points(group="pytest11", name="flolive")
    assert entry.value == "flolive.testing"
    # Loaded in this very suite, beside tests/conftest.py's own sandbox fixtures.
    assert pytestconfig.pluginmanager.get_plugin("flolive") is flolive.testing


def test_the_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=_INI.format(mode="auto"))
    pytester.makepyfile(test_off="def test_off(flolive_sandbox):\n    pass\n")
    result = pytester.runpytest(*_ARGS, "-p", "no:flolive")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'flolive_sandbox' not found*"])


async def test_the_fixtures_beside_this_suites_own(
    flolive_client: flolive.Client, flolive_sandbox: str, sandbox: Sandbox
) -> None:
    assert flolive_sandbox != sandbox.url
    campaign = await flolive_client.campaign(1, 1)
    assert campaign.id == 1


def test_sandbox_thread_stops_what_it_started() -> None:
    with flolive.testing.SandboxThread() as sandboxes:
        urls = [sandboxes.start(), sandboxes.start(seed=3)]
        with flolive.sync.Client(base_url=urls[1], trust_env=False) as client:
            assert client.campaign(1, 1).id == 1
        assert [url for url in urls if _closed(url)] == []
    assert [url for url in urls if not _closed(url)] == []
