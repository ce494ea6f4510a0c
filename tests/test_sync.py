"""flolive.sync.Client: the async client's API from sync code, on its own loop thread."""

from __future__ import annotations

import asyncio
import inspect
import re
import signal
import subprocess
import sys
import threading
import time
import typing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import flolive
from flolive import (
    CampaignNotFound,
    ClientNotOpenError,
    ClientState,
    CursorToken,
    CustomerNotFound,
    ResumeToken,
    SubscriberNotFound,
    sync,
)
from flolive._options import names
from flolive.sandbox import DataSet

from .support.events import wait_until
from .support.readme import example
from .support.servers import RequestGate as Gate
from .support.servers import later_pages

DATA = DataSet()


def ids(customer: int, campaign: int, start: int, stop: int) -> list[int]:
    return [p.id for p in DATA.participants(customer, campaign, start, stop)]


def iccids(customer: int, n: int) -> list[str]:
    return [s.iccid for s in DATA.subscribers(customer, 0, n)]


CUSTOMER_2 = DATA.subscriber_count(2)


async def _other_tasks() -> set[asyncio.Task[Any]]:
    me = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not me}


def loop_tasks(client: sync.Client) -> set[asyncio.Task[Any]]:
    """The tasks on the client's loop thread (the portal's own included)."""
    return client._loop.portal.call(_other_tasks)


def portal_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "flolive.sync.Client"}


@pytest.fixture
def gated(held_sandbox: Callable[..., Any]) -> tuple[Gate, str]:
    """A sandbox on its own loop thread behind a gate that holds every page
    but the first; the server cancels a held handler when its client disconnects."""
    server, gate = held_sandbox(later_pages)
    return gate, server.url


@pytest.fixture
def url(threaded_sandbox: Callable[..., Any]) -> str:
    """The URL of a sandbox on its own loop thread."""
    return str(threaded_sandbox().url)


# -- the same API as flolive.Client -------------------------------------------------


def _public(cls: type[Any]) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


def test_has_every_public_name_of_the_async_client() -> None:
    settings = {n for n in vars(flolive.Client(base_url="http://x")) if not n.startswith("_")}
    expected = (_public(flolive.Client) - {"aclose"}) | settings | {"close", "closed"}
    assert _public(sync.Client) == expected, (
        "flolive.Client and flolive.sync.Client differ: write each new method and "
        "setting out in flolive/_sync/client.py"
    )


# The documented differences between an async docstring and its sync copy.
DOC_DIFFERENCES = (
    ("flolive.AsyncPager", "flolive.sync.Pager"),
    ("flolive.AsyncCursor", "flolive.sync.Cursor"),
    ("AsyncPager", "Pager"),
    ("AsyncCursor", "Cursor"),
    ("async for ", "for "),
    ("async with ", "with "),
    ("``async with``", "``with``"),
    ("await ", ""),
    ("aiter(", "iter("),
    ("aclose()", "close()"),
)


def sync_doc(doc: str | None) -> str | None:
    """The docstring a sync method must have, given its async one's."""
    for old, new in DOC_DIFFERENCES:
        doc = None if doc is None else doc.replace(old, new)
    return doc


def _sync_return(annotation: Any) -> Any:
    """The documented difference between return types: sync listings and clients."""
    if annotation is flolive.Client or annotation is typing.Self:
        return sync.Client
    origin = getattr(annotation, "__origin__", None)
    sync_type = {flolive.AsyncPager: sync.Pager, flolive.AsyncCursor: sync.Cursor}.get(origin)
    return annotation if sync_type is None else sync_type[annotation.__args__]


def _parameters(fn: Any) -> list[tuple[str, Any, Any, str]]:
    # Annotations as text: each module has its own TypeVar T, equal only to itself.
    sig = inspect.signature(fn, eval_str=True)
    return [(p.name, p.kind, p.default, repr(p.annotation)) for p in sig.parameters.values()]


def _args_section(doc: str | None) -> dict[str, str]:
    """The entries of a docstring's ``Args:`` section, white space folded."""
    entries: dict[str, str] = {}
    name = ""
    for line in (doc or "").partition("    Args:\n")[2].splitlines():
        if m := re.match(r"^        (\w+): (.*)$", line):
            name = m.group(1)
            entries[name] = m.group(2)
        elif line.startswith("            ") and name:
            entries[name] += " " + line.strip()
        else:
            name = ""
    return entries


def test_methods_have_the_async_signatures_and_docstrings() -> None:
    methods = [n for n in _public(flolive.Client) if inspect.isfunction(getattr(flolive.Client, n))]
    assert {"campaign_participants", "all_subscribers", "with_options"} <= set(methods)
    for name in set(methods) - {"aclose"}:
        a, s = getattr(flolive.Client, name), getattr(sync.Client, name)
        assert not inspect.iscoroutinefunction(s), name
        assert _parameters(s) == _parameters(a), name
        a_returns = inspect.signature(a, eval_str=True).return_annotation
        s_returns = inspect.signature(s, eval_str=True).return_annotation
        assert repr(s_returns) == repr(_sync_return(a_returns)), name
        assert s.__doc__ == sync_doc(a.__doc__), name
        assert "async for" not in (s.__doc__ or ""), name
    assert "for sim in client.paginate(" in (sync.Client.paginate.__doc__ or "")
    for name in ("state", "stats", "concurrency_limit"):
        assert getattr(sync.Client, name).__doc__ == getattr(flolive.Client, name).__doc__, name


def test_the_constructor_has_the_async_arguments_and_their_docs() -> None:
    assert _parameters(sync.Client) == _parameters(flolive.Client)
    a_args, s_args = _args_section(flolive.Client.__doc__), _args_section(sync.Client.__doc__)
    assert list(s_args) == list(a_args) == list(inspect.signature(flolive.Client).parameters)
    # The one documented difference: a session belongs to another event loop.
    assert {n: d for n, d in s_args.items() if a_args[n] != d} == {
        "session": "must be ``None``: a session belongs to the event loop it was "
        "made on, and this client runs its own."
    }
    assert sync.Client.settings.__doc__ == flolive.Client.settings.__doc__


def test_settings_read_and_set_through_to_the_async_client(url: str) -> None:
    with sync.Client(base_url=url, page_size=100) as c:
        assert set(c.settings) == names("client")
        assert c.page_size == 100
        c.page_size = 250  # checked, for later listings
        pages = c.campaign_participants(1, 1, max_pages=1).pages()
        assert next(pages).size == 250
        pages.close()
        with pytest.raises(ValueError, match="page_size must be a positive int"):
            c.page_size = 0
        with pytest.raises(AttributeError, match="fixed when the client is made"):
            c.max_concurrency = 2


def _surface(cls: type[Any], instance: object) -> tuple[set[str], set[str]]:
    """The public methods of ``cls``, and the attributes of ``instance``."""
    names = {n for n in dir(instance) if not n.startswith("_")}
    methods = {n for n in names if inspect.isfunction(getattr(cls, n, None))}
    return methods, names - methods


@pytest.mark.parametrize("kind", ["pager", "cursor"])
def test_listings_and_passes_have_the_async_surface(url: str, kind: str) -> None:
    """One sync listing type and one iterator type serve both async listings."""
    with sync.Client(base_url=url) as c:
        listing = c.campaign_participants(1, 1) if kind == "pager" else c.all_subscribers(1)
        made = listing._async
        assert isinstance(listing, sync.Listing)
        methods, attributes = _surface(type(made), made)
        for name in methods - {"aclose"}:
            a, s = getattr(type(made), name), getattr(sync.Listing, name)
            assert not inspect.iscoroutinefunction(s), name
            sync_params = inspect.signature(s).parameters
            assert set(inspect.signature(a).parameters) <= set(sync_params), name
        with pytest.raises(AttributeError, match="aclose"):
            _ = listing.aclose
        # Settings and state read through, as they are now, and set through.
        assert attributes <= set(dir(listing))
        assert {n: getattr(listing, n) for n in attributes} == {
            n: getattr(made, n) for n in attributes
        }
        listing.max_items = 7
        assert made.max_items == 7
        assert len(listing.collect()) == 7
        for it in (listing.items(), listing.pages()):
            with it:
                assert isinstance(it, sync.ListingIterator)
                next(it)
                state = {n for n in dir(it._pump.source) if not n.startswith("_")} - {"aclose"}
                assert state <= set(dir(it))
                assert {n: getattr(it, n) for n in state} == {
                    n: getattr(it._pump.source, n) for n in state
                }
                assert it.items_read == 7
        other = "position" if kind == "pager" else "total_pages"
        with pytest.raises(AttributeError, match=f"ListingIterator over .* no attribute '{other}'"):
            getattr(listing.pages(), other)


def test_settings_and_state_read_and_write_through(url: str) -> None:
    with sync.Client(base_url=url, max_concurrency=3, page_size=40, speculate=2) as c:
        assert (c.base_url, c.max_concurrency, c.page_size, c.prefetch) == (url, 3, 40, 6)
        assert (c.speculate, c.max_response_size) == (
            2,
            flolive.Client(base_url=url).max_response_size,
        )
        assert c.concurrency_limit == 3
        assert c.on_list_change == "warn"
        assert c.state is ClientState.OPEN
        c.page_size = 250
        pager = c.campaign_participants(1, 1)
        assert pager.page_size == 250
        assert pager.total_pages is None
        assert [p.number for p in pager.pages()] == [0, 1, 2, 3]
        assert (pager.total_pages, pager.total_elements, pager.page_size_used) == (4, 988, 250)
        assert c.stats.requests == 4
        assert repr(c) == f"<flolive.sync.Client {url} auth=none max_concurrency=3 open>"
    assert c.state is ClientState.CLOSED
    assert repr(c) == "<flolive.sync.Client closed>"


# -- listings, calls, errors -----------------------------------------------------------


def test_listings_items_pages_collect(url: str) -> None:
    with sync.Client(base_url=url, page_size=100) as c:
        pager = c.campaign_participants(1, 1)
        assert [p.id for p in pager] == ids(1, 1, 0, 988)
        pages = list(pager.pages())
        assert [(p.number, len(p.items)) for p in pages] == [(n, 100) for n in range(9)] + [(9, 88)]
        assert [p.id for p in c.campaign_participants(1, 1, page_size=7).collect()] == ids(
            1, 1, 0, 988
        )
        assert [p.id for p in c.campaign_participants(1, 1, start_page=9)] == ids(1, 1, 900, 988)
        assert [p.id for p in c.campaign_participants(1, 4)] == []
        assert [x.id for x in c.campaigns(1)] == [1, 2, 3, 4, 5]
        assert c.campaign(1, 2).name == "campaign-1-2"
        iccid = DATA.participants(1, 1, 3, 4)[0].iccid
        labels = c.subscriber_labels("iccid", iccid).collect()
        assert len(labels) == DATA.label_count(DATA.find_subscriber("iccid", iccid))  # type: ignore[arg-type]


def test_subscribers_details_and_profiles(url: str) -> None:
    with sync.Client(base_url=url) as c:
        sims = c.subscribers(4, page_size=30).collect()
        assert [s.iccid for s in sims] == iccids(4, 100)
        one = c.subscriber("iccid", sims[0].iccid)
        assert one.subscriber_identifiers.iccid == sims[0].iccid
        profiles = c.subscriber_profiles(DATA.eid(4, 0)).collect()
        assert len(profiles) == DATA.profile_count(DATA.sim(4, 0))
        with pytest.raises(SubscriberNotFound):
            c.subscriber("iccid", "8935779999999999999")


def test_pass_state_is_that_of_the_pages_handed_over(url: str) -> None:
    with sync.Client(base_url=url, page_size=100, speculate=0) as c:
        pages = c.campaign_participants(1, 1).pages()
        assert (pages.pages_read, pages.items_read, pages.total_elements) == (0, 0, None)
        assert next(pages).number == 0
        # The pager fetches ahead on the loop thread; the iterator tells what this thread has.
        wait_until(lambda: c.stats.requests >= 3)
        assert (pages.pages_read, pages.items_read, pages.total_elements) == (1, 100, 988)
        assert [p.number for p in pages] == list(range(1, 10))
        assert (pages.pages_read, pages.items_read, pages.total_pages, pages.page_size) == (
            10,
            988,
            10,
            100,
        )


def test_cursor_reads_and_resumes_from_its_position(url: str) -> None:
    with sync.Client(base_url=url) as c:
        cursor = c.all_subscribers(2, chunk_size=400)
        head: list[Any] = []
        with cursor.pages() as chunks:
            assert chunks.position is None
            for chunk in chunks:
                head += chunk.items
                assert chunks.items_read == len(head)
                assert chunks.pages_read == chunk.number + 1
                assert chunks.total_elements == CUSTOMER_2
                if chunk.number == 2:
                    break
        token = chunks.position
        assert token == CursorToken(
            path="/api/v2/customer/2/subscriber-all",
            pit_id=chunk.pit_id,
            chunk=3,
            records_read=1200,
            total=CUSTOMER_2,
        )
        rest = list(c.all_subscribers(2, chunk_size=400, resume=token))
        assert [s.iccid for s in head + rest] == iccids(2, CUSTOMER_2)
        assert [s.iccid for s in c.all_subscribers(4, chunk_size=30).collect()] == iccids(4, 100)
        details = c.all_subscriber_details(4, chunk_size=60)
        assert [d.subscriber_identifiers.iccid for d in details] == iccids(4, 100)


def test_cursor_break_cancels_the_read_ahead(url: str) -> None:
    with sync.Client(base_url=url) as c:
        baseline = loop_tasks(c)
        for sim in c.all_subscribers(2, chunk_size=100):
            assert sim.iccid == iccids(2, 1)[0]
            break
        assert loop_tasks(c) == baseline
        # Counted as the client sends them: a call cancelled in flight may or
        # may not reach the server, and the loop thread may have read a chunk
        # or two ahead by the break. Nothing more goes out for that read.
        sent = c.stats.requests
        assert sent < CUSTOMER_2 // 100
        assert c.campaign(1, 1).id == 1
        assert c.stats.requests == sent + 1


def test_with_options_shares_the_loop_session_and_stats(url: str) -> None:
    before = set(threading.enumerate())
    with sync.Client(base_url=url, page_size=100) as c:
        small = c.with_options(page_size=10, speculate=0, timeout=5)
        assert isinstance(small, sync.Client)
        assert (small.page_size, small.timeout, c.page_size, c.timeout) == (10, 5, 100, 30)
        assert [p.number for p in small.campaign_participants(1, 5).pages()] == [0, 1, 2]
        assert small.stats is c.stats
        assert c.stats.requests == 3
        assert repr(small).endswith("open derived>")
        small.close()  # closes nothing: the client it was derived from owns the thread
        assert not c.closed
        assert c.campaign(1, 1).id == 1
        assert len(portal_threads()) == 1
        with pytest.raises(TypeError, match="with_options"):
            c.with_options(base_url="http://elsewhere")
    assert small.closed
    assert set(threading.enumerate()) == before
    with pytest.raises(ClientNotOpenError):
        small.campaign(1, 1)


def test_arrow_batches_and_a_dask_plan(url: str) -> None:
    pytest.importorskip("pyarrow")
    with sync.Client(base_url=url, page_size=100) as c:
        batches = list(c.campaign_participants(1, 1).arrow())
        assert [b.num_rows for b in batches] == [100] * 9 + [88]
        assert batches[0].column("id").to_pylist() == ids(1, 1, 0, 100)
        chunks = list(c.all_subscribers(4, chunk_size=30).arrow())
        assert [b.num_rows for b in chunks] == [30, 30, 30, 10]
        pytest.importorskip("dask")
        assert len(c.campaign_participants(1, 1).plan(pages_per_part=4)) == 3


def test_the_loop_thread_is_woken_per_few_pages_not_per_item(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sync.Client(base_url=url, page_size=100, prefetch=16) as c:
        calls: list[str] = []
        call, send = c._loop.call, c._loop.send

        def counting_call(fn: Any, **kwargs: Any) -> Any:
            calls.append("call")
            return call(fn, **kwargs)

        def counting_send(fn: Any, **kwargs: Any) -> None:
            calls.append("send")
            send(fn, **kwargs)

        monkeypatch.setattr(c._loop, "call", counting_call)
        monkeypatch.setattr(c._loop, "send", counting_send)
        assert sum(1 for _ in c.campaign_participants(1, 1)) == 988
        # Making the pager and its pass, starting the pass, then credit for 4
        # more pages after every 4 pages read (10 pages; 8 handed over ahead at most).
        assert calls == ["call", "call", "send", "send", "send"]
        calls.clear()
        assert len(c.campaign_participants(1, 1).collect()) == 988
        assert calls == ["call", "call"]


def test_a_reader_that_stops_stops_the_fetching(threaded_sandbox: Callable[..., Any]) -> None:
    server = threaded_sandbox()
    sandbox = server.sandbox
    with sync.Client(base_url=server.url, page_size=10, prefetch=2, speculate=0) as c:
        baseline = loop_tasks(c)
        items = iter(c.campaign_participants(1, 1))
        assert next(items).id == ids(1, 1, 0, 1)[0]
        # Still reading page 0: pages 1-2 are handed over (credit for 2, plus
        # 1 for page 0 read), pages 3-4 fetched ahead by the pager (prefetch
        # 2); then no fetch is left, only the pump, waiting for more credit.
        wait_until(
            lambda: sandbox.stats.requests == 1 + 2 + 2 and len(loop_tasks(c) - baseline) == 1
        )
        assert c.campaign(1, 1).id == 1
        assert sandbox.stats.requests == 1 + 2 + 2 + 1
        assert [p.id for p in items][:9] == ids(1, 1, 1, 10)
        assert sandbox.stats.requests == 99 + 1


def test_errors_are_the_same_typed_exceptions(threaded_sandbox: Callable[..., Any]) -> None:
    server = threaded_sandbox(fail_pages={3: "CUSTOMER_1037"})
    with sync.Client(base_url=server.url, page_size=100) as c:
        with pytest.raises(CampaignNotFound) as one:
            c.campaign(1, 99)
        assert (one.value.code, one.value.http_status) == ("CUSTOMER_1037", 404)
        with pytest.raises(CustomerNotFound):
            c.campaigns(77).collect()
        seen: list[int] = []
        with pytest.raises(CampaignNotFound) as listing:
            seen.extend(p.id for p in c.campaign_participants(1, 1))
        assert seen == ids(1, 1, 0, 300)
        assert listing.value.page == 3
        assert listing.value.resume == ResumeToken(
            path="/api/v2/customer/1/campaign/1/participants", page=3, page_size=100, page_base=0
        )
        with pytest.raises(ValueError, match="customer_id"):
            c.campaign_participants(-1, 1)
        # The client is still usable after errors.
        assert c.campaign(1, 1).id == 1


# -- lifetime ---------------------------------------------------------------------------


def test_close_stops_the_loop_thread(url: str) -> None:
    before = set(threading.enumerate())
    c = sync.Client(base_url=url)
    assert len(portal_threads()) == 1
    assert c.campaign(1, 1).id == 1
    c.close()
    assert set(threading.enumerate()) == before
    assert c.closed
    c.close()  # idempotent
    with pytest.raises(ClientNotOpenError, match="closed"):
        c.campaign(1, 1)
    with pytest.raises(ClientNotOpenError):
        c.campaign_participants(1, 1)
    with pytest.raises(ClientNotOpenError), c:
        pass


def test_with_block_closes(url: str) -> None:
    before = set(threading.enumerate())
    with sync.Client(base_url=url) as c:
        pager = c.campaign_participants(1, 1)
        it = iter(pager)
        next(it)
    assert c.closed
    assert set(threading.enumerate()) == before
    with pytest.raises(ClientNotOpenError):
        next(it)


def test_bad_arguments_leave_no_thread() -> None:
    before = set(threading.enumerate())
    with pytest.raises(ValueError, match="base_url must start with"):
        sync.Client(base_url="ftp://x")
    with pytest.raises(ValueError, match="session"):
        sync.Client(base_url="http://x", session=object())  # type: ignore[arg-type]
    assert set(threading.enumerate()) == before


def test_unclosed_client_warns_and_stops_its_thread(url: str) -> None:
    before = set(threading.enumerate())
    c = sync.Client(base_url=url)
    # Nothing else refers to the client (no cycle), so it goes at once.
    with pytest.warns(ResourceWarning, match="unclosed <flolive.sync.Client"):
        del c
    assert set(threading.enumerate()) == before


_FORGETFUL_SCRIPT = """
import threading
from anyio.from_thread import start_blocking_portal
from flolive import sync
from flolive.sandbox import Sandbox

ready, stop = threading.Event(), threading.Event()

def serve():
    global url
    with start_blocking_portal() as portal:
        url = portal.call(Sandbox().start)
        ready.set()
        stop.wait()

threading.Thread(target=serve, daemon=True).start()
ready.wait()
client = sync.Client(base_url=url)
items = iter(client.campaign_participants(1, 1))
print(next(items).id)
"""


def test_a_script_that_forgets_to_close_still_exits() -> None:
    # The client and an open pass left at module level: an atexit hook closes
    # them while the loop thread still runs (during finalisation it no longer does).
    done = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-c", _FORGETFUL_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, f"{ids(1, 1, 0, 1)[0]}\n"), done.stderr
    assert "ResourceWarning: unclosed <flolive.sync.Client" in done.stderr


# -- cancellation -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["items", "pages"])
def test_break_cancels_the_pass_fetches(gated: tuple[Gate, str], kind: str) -> None:
    gate, base = gated
    with sync.Client(base_url=base, page_size=10, max_concurrency=4, prefetch=4) as c:
        baseline = loop_tasks(c)
        pager = c.campaign_participants(1, 1)
        source = pager if kind == "items" else pager.pages()
        for _ in source:
            gate.wait_until(lambda g: g.held == 4)  # pages 1-4 are in flight
            break
        del source
        # Closed as the loop let go: every held request was dropped by the client.
        assert loop_tasks(c) == baseline
        gate.wait_until(lambda g: g.cancelled == 4)
        assert c.campaign(1, 1).id == 1
        assert (gate.seen, gate.held) == (6, 4)  # page 0, pages 1-4, the campaign


def test_with_pager_closes_a_pass_still_referenced(gated: tuple[Gate, str]) -> None:
    gate, base = gated
    with sync.Client(base_url=base, page_size=10, prefetch=2) as c:
        baseline = loop_tasks(c)
        with c.campaign_participants(1, 1) as pager:
            it = iter(pager)
            first = next(it)
            gate.wait_until(lambda g: g.held == 2)
        assert first.id == ids(1, 1, 0, 1)[0]
        assert loop_tasks(c) == baseline
        gate.wait_until(lambda g: g.cancelled == 2)
        with pytest.raises(RuntimeError, match="closed"):
            next(it)


def test_iterator_close_and_with(gated: tuple[Gate, str]) -> None:
    gate, base = gated
    with sync.Client(base_url=base, page_size=10, prefetch=3) as c:
        baseline = loop_tasks(c)
        with c.campaign_participants(1, 1).pages() as pages:
            assert next(pages).number == 0
            gate.wait_until(lambda g: g.held == 3)
        assert loop_tasks(c) == baseline
        gate.wait_until(lambda g: g.cancelled == 3)
        pages.close()  # idempotent


def _interrupt_main_when(
    gate: Gate, ready: Callable[[Gate], bool], waiting_in: str
) -> threading.Thread:
    """Send SIGINT to the main thread once the gate is ``ready`` and the main
    thread waits inside the function named ``waiting_in``."""
    main = threading.main_thread().ident
    assert main is not None

    def waiting() -> bool:
        frame = sys._current_frames().get(main)
        while frame is not None:
            if frame.f_code.co_name == waiting_in:
                return True
            frame = frame.f_back
        return False

    def fire() -> None:
        gate.wait_until(ready)
        deadline = time.monotonic() + 30  # guards against a hang only
        while not waiting():
            if time.monotonic() > deadline:
                return  # never interrupt the main thread anywhere else
            time.sleep(0.001)
        signal.pthread_kill(main, signal.SIGINT)

    t = threading.Thread(target=fire)
    t.start()
    return t


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="needs the main thread"
)
@pytest.mark.parametrize("how", ["collect", "for"])
def test_ctrl_c_cancels_the_call_and_its_fetches(gated: tuple[Gate, str], how: str) -> None:
    gate, base = gated
    with sync.Client(base_url=base, page_size=10, prefetch=3) as c:
        baseline = loop_tasks(c)
        pager = c.campaign_participants(1, 1)
        items = iter(pager)  # still referenced after the interrupt
        # Waiting for the call's result, or for the next page.
        where = "wait" if how == "collect" else "_next_page"
        killer = _interrupt_main_when(gate, lambda g: g.held == 3, where)
        with pytest.raises(KeyboardInterrupt):
            if how == "collect":
                pager.collect()
            else:
                for _ in items:
                    pass
        killer.join()
        # The call was cancelled and its cleanup ran before KeyboardInterrupt reached us.
        assert loop_tasks(c) == baseline
        gate.wait_until(lambda g: g.cancelled == 3)
        assert c.campaign(1, 1).id == 1


@pytest.mark.parametrize("how", ["collect", "for"])
def test_close_cancels_calls_of_other_threads(gated: tuple[Gate, str], how: str) -> None:
    gate, base = gated
    before = set(threading.enumerate())
    c = sync.Client(base_url=base, page_size=10, prefetch=2)

    def read() -> list[Any]:
        pager = c.campaign_participants(1, 1)
        return pager.collect() if how == "collect" else list(pager)

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(read)
        gate.wait_until(lambda g: g.held == 2)
        c.close()
        # Closed mid-call, or (reading a pass) between two pages.
        with pytest.raises(ClientNotOpenError, match="closed"):
            pending.result()
    gate.wait_until(lambda g: g.cancelled == 2)
    assert set(threading.enumerate()) == before


# -- threads and running loops --------------------------------------------------------


def test_shared_by_many_threads(threaded_sandbox: Callable[..., Any]) -> None:
    server = threaded_sandbox(latency=0.002)
    sandbox = server.sandbox
    with sync.Client(base_url=server.url, page_size=10, max_concurrency=3) as c:

        def read(k: int) -> list[int]:
            if k % 3 == 0:
                pager = c.campaign_participants(1, 1, start_page=10 * k, max_pages=10)
                return [p.id for p in pager.collect()]
            if k % 3 == 1:
                return [
                    p.id for p in c.campaign_participants(1, 1, start_page=10 * k, max_pages=10)
                ]
            out: list[int] = []
            for page in c.campaign_participants(1, 1, start_page=10 * k, max_pages=10).pages():
                out.extend(p.id for p in page.items)
            return out

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(read, range(10)))
        assert results == [ids(1, 1, 100 * k, min(988, 100 * k + 100)) for k in range(10)]
        assert c.stats.max_in_flight <= 3
        assert sandbox.stats.max_in_flight <= 3
        assert sandbox.stats.requests == c.stats.requests == 99

        # Threads sharing one iterator: each item goes to exactly one of them.
        shared = iter(c.campaign_participants(1, 1))
        with ThreadPoolExecutor(4) as pool:
            parts = list(pool.map(lambda _: [p.id for p in shared], range(4)))
        order = {i: n for n, i in enumerate(ids(1, 1, 0, 988))}
        assert sorted((i for part in parts for i in part), key=order.__getitem__) == list(order)
        assert all(part == sorted(part, key=order.__getitem__) for part in parts)


async def test_works_inside_a_running_event_loop(url: str) -> None:
    # As in Jupyter: the calling thread runs a loop; the client runs its own.
    loop = asyncio.get_running_loop()
    with sync.Client(base_url=url, page_size=100) as c:
        assert c.campaign(1, 1).id == 1
        assert [p.id for p in c.campaign_participants(1, 1)] == ids(1, 1, 0, 988)
        from_worker = await asyncio.to_thread(lambda: len(c.campaign_participants(1, 1).collect()))
        assert from_worker == 988
    assert asyncio.get_running_loop() is loop
    assert not portal_threads()


# -- README -------------------------------------------------------------------------------


def test_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    before = set(threading.enumerate())
    exec(example("sync"), {})
    lines = capsys.readouterr().out.splitlines()
    first = DATA.participants(1, 1, 0, 1)[0]
    assert lines == [
        f"{first.iccid} {first.status} {first.timestamp}",
        *[f"{n} 100" for n in range(9)],
        "9 88",
        "5 campaign-1-1",
        "CUSTOMER_1037 Campaign does not exist",
        "[988, 0, 25]",
    ]
    assert set(threading.enumerate()) == before


# -- docs/sync.md -----------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "sync.md"
_DOC_EXAMPLE = re.compile(
    r"```python\n# example: (?P<name>[\w-]+)\n(?P<code>.*?)```\n\n"
    r"prints\n\n```text\n(?P<out>.*?)```",
    re.S,
)
DOC_EXAMPLES = list(_DOC_EXAMPLE.finditer(DOCS.read_text(encoding="utf-8")))


def test_every_docs_example_is_checked() -> None:
    assert len(DOC_EXAMPLES) == DOCS.read_text(encoding="utf-8").count("```python") == 5


@pytest.mark.parametrize("found", DOC_EXAMPLES, ids=lambda m: m["name"])
def test_docs_example_prints_what_the_page_says(
    found: re.Match[str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = set(threading.enumerate())
    exec(found["code"], {})
    assert capsys.readouterr().out == found["out"]
    assert set(threading.enumerate()) == before
