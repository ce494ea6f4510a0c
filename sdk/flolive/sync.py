"""A synchronous client: :class:`flolive.sync.Client`, for scripts, notebooks and threads.

Example::

    from flolive.sync import Client

    with Client(base_url="https://api.example", token="...") as client:
        for p in client.campaign_participants(customer_id=42, campaign_id=7):
            print(p.iccid, p.status, p.timestamp)

Each client runs one event loop in its own thread (an anyio blocking portal),
where its :class:`flolive.Client` lives: the aiohttp session, the connection
pool and the concurrency limiter last from the constructor to :meth:`Client.close`,
across every call, from every thread. The calling thread may run an event
loop of its own (Jupyter, an async app): the client never touches it.

The methods are derived from :class:`flolive.Client` when this module is
imported: the same names, arguments, defaults, docstrings, models and
exceptions. Listings return a :class:`Pager` (or a :class:`Cursor`), whose
pages a task on the loop thread hands over through a small queue: never a
round trip per item.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import inspect
import queue
import re
import sys
import threading
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from anyio.from_thread import BlockingPortal, start_blocking_portal

from . import cursor as _cursor
from . import pagination as _pagination
from .client import Client as AsyncClient
from .cursor import AsyncCursor
from .errors import ClientNotOpenError
from .models import Chunk, Page
from .pagination import AsyncPager

__all__ = [
    "Client",
    "Cursor",
    "CursorItemIterator",
    "CursorPageIterator",
    "ItemIterator",
    "PageIterator",
    "Pager",
    "UnitIterator",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
U = TypeVar("U")
V = TypeVar("V")
W = TypeVar("W")
W_co = TypeVar("W_co", covariant=True)

_CLOSED_MESSAGE = "this flolive.sync.Client is closed"

_SIGNAL_CHECK = 0.1
"""Seconds a waiting thread blocks at a time. Python runs signal handlers
between bytecodes: a Ctrl+C arriving just before a thread blocks in C would
otherwise wait until the page (or result) came, however long that takes."""
_PASS_CLOSED_MESSAGE = "this listing was closed (close() or its `with` ended)"


# -- deriving the facade from the async classes -------------------------------

_DOC_REWRITES = (
    ("flolive.AsyncPager", "flolive.sync.Pager"),
    ("flolive.AsyncCursor", "flolive.sync.Cursor"),
    ("AsyncPager", "Pager"),
    ("AsyncCursor", "Cursor"),
    ("async for ", "for "),
    ("async with ", "with "),
    ("await ", ""),
    ("aiter(", "iter("),
    ("aclose()", "close()"),
)


def _adapt_doc(doc: str | None) -> str | None:
    """The async docstring, with its examples written for the sync client."""
    if doc is None:
        return None
    for old, new in _DOC_REWRITES:
        doc = doc.replace(old, new)
    return doc


def _entry_doc(owner_doc: str | None, name: str) -> str | None:
    """The ``name: ...`` entry of an ``Args:`` or ``Attributes:`` section."""
    lines = (owner_doc or "").splitlines()
    pattern = re.compile(rf"^(\s+){re.escape(name)}(?:, [\w, ]+)?: (.*)$")
    for i, line in enumerate(lines):
        m = pattern.match(line)
        if m is None:
            continue
        indent, text = len(m.group(1)), [m.group(2)]
        for more in lines[i + 1 :]:
            if not more.strip() or len(more) - len(more.lstrip()) <= indent:
                break
            text.append(more.strip())
        return _adapt_doc(" ".join(text))
    return None


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(fn, eval_str=True)
    except NameError:  # a name imported only for type checkers: keep the strings
        return inspect.signature(fn)


def _sync_type(annotation: Any) -> Any:
    """The sync counterpart of an async return annotation."""
    if isinstance(annotation, str):
        for old, new in (("AsyncPager[", "Pager["), ("AsyncCursor[", "Cursor[")):
            annotation = annotation.replace(old, new)
        return annotation
    origin = getattr(annotation, "__origin__", None)
    if origin is AsyncPager:
        return Pager[annotation.__args__[0]]
    if origin is AsyncCursor:
        return Cursor[annotation.__args__[0]]
    if annotation is AsyncClient:
        return "Client"  # resolved once the class exists: see _resolve_client
    return annotation


def _copy_metadata(
    wrapper: Callable[..., Any], fn: Callable[..., Any], owner: str = "Client"
) -> None:
    """Make ``wrapper`` look like ``fn`` to ``help()``, ``inspect`` and IDEs."""
    sig = _signature(fn)
    sig = sig.replace(return_annotation=_sync_type(sig.return_annotation))
    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = f"{owner}.{fn.__name__}"
    wrapper.__module__ = __name__
    wrapper.__doc__ = _adapt_doc(fn.__doc__)
    wrapper.__signature__ = sig  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        p.name: p.annotation for p in sig.parameters.values() if p.annotation is not p.empty
    } | ({"return": sig.return_annotation} if sig.return_annotation is not sig.empty else {})


@overload
def _sync(
    fn: Callable[Concatenate[AsyncClient, P], AsyncPager[T]],
) -> Callable[Concatenate[Client, P], Pager[T]]: ...
@overload
def _sync(
    fn: Callable[Concatenate[AsyncClient, P], AsyncCursor[T]],
) -> Callable[Concatenate[Client, P], Cursor[T]]: ...
@overload
def _sync(fn: Callable[..., AsyncClient]) -> Callable[..., Client]: ...
# (A method taking only ``**options`` cannot bind ``self`` positionally through a
# ParamSpec, since ``options`` could hold a ``self``: it is typed loosely.)
@overload
def _sync(
    fn: Callable[Concatenate[AsyncClient, P], Awaitable[R]],
) -> Callable[Concatenate[Client, P], R]: ...
def _sync(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The sync method of an async client method: coroutines are awaited on the
    loop thread; listings and derived clients come back wrapped."""
    name = fn.__name__
    if inspect.iscoroutinefunction(fn):

        def call(self: Client, /, *args: Any, **kwargs: Any) -> Any:
            return self._run(functools.partial(getattr(self._async, name), *args, **kwargs))

        method = call
    else:

        def make(self: Client, /, *args: Any, **kwargs: Any) -> Any:
            return self._wrap(functools.partial(getattr(self._async, name), *args, **kwargs))

        method = make
    _copy_metadata(method, fn)
    return method


def _same_arguments(
    fn: Callable[Concatenate[AsyncClient, P], None],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Client, P], None]]:
    """Give a constructor taking ``*args, **kwargs`` the signature of ``fn``."""

    def apply(init: Callable[..., None]) -> Callable[Concatenate[Client, P], None]:
        init.__signature__ = _signature(fn)  # type: ignore[attr-defined]
        return init

    return apply


class _Wraps(Protocol[W_co]):
    @property
    def _async(self) -> W_co: ...


class _Forward(Generic[W, V]):
    """An attribute read from (and written to) the wrapped async object."""

    def __init__(self, get: Callable[[W], V], source: type[Any]) -> None:
        self._get = get
        self._source = source
        self._name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name
        attr = getattr(self._source, name, None)
        self.__doc__ = (
            _adapt_doc(attr.__doc__)
            if isinstance(attr, property)
            else _entry_doc(self._source.__doc__, name)
        )

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _Forward[W, V]: ...
    @overload
    def __get__(self, obj: _Wraps[W], owner: type[Any]) -> V: ...
    def __get__(self, obj: _Wraps[W] | None, owner: type[Any]) -> _Forward[W, V] | V:
        if obj is None:
            return self
        return self._get(obj._async)

    def __set__(self, obj: _Wraps[W], value: V) -> None:
        setattr(obj._async, self._name, value)


def _client_attr(get: Callable[[AsyncClient], V]) -> _Forward[AsyncClient, V]:
    return _Forward(get, AsyncClient)


def _pager_attr(get: Callable[[AsyncPager[Any]], V]) -> _Forward[AsyncPager[Any], V]:
    return _Forward(get, AsyncPager)


def _cursor_attr(get: Callable[[AsyncCursor[Any]], V]) -> _Forward[AsyncCursor[Any], V]:
    return _Forward(get, AsyncCursor)


# -- passes: one read of a listing, driven from sync threads ---------------------


class _Signal:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_END = _Signal("END")
_CLOSED = _Signal("CLOSED")


class _Snapshot(Generic[W, V]):
    """A per-pass attribute of the async iterator, as of the last page (or
    chunk) handed to the reading thread, not as of the page the loop thread
    has reached: the pump runs ahead."""

    def __init__(self, get: Callable[[W], V], source: type[Any]) -> None:
        self.get = get
        self._source = source
        self._name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name
        attr = getattr(self._source, name, None)
        self.__doc__ = _adapt_doc(attr.__doc__) if isinstance(attr, property) else None

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _Snapshot[W, V]: ...
    @overload
    def __get__(self, obj: _SyncIterator[Any], owner: type[Any]) -> V: ...
    def __get__(self, obj: _SyncIterator[Any] | None, owner: type[Any]) -> _Snapshot[W, V] | V:
        if obj is None:
            return self
        return obj._pass.snapshot[self._name]  # type: ignore[no-any-return]


def _snapshots(cls: type[Any]) -> dict[str, Callable[[Any], Any]]:
    return {
        name: attr.get
        for klass in reversed(cls.__mro__)
        for name, attr in vars(klass).items()
        if isinstance(attr, _Snapshot)
    }


class _Pass(Generic[U]):
    """One pass over a listing, read from sync threads.

    A pump task on the loop thread iterates the async iterator of the pass and
    puts what it yields (pages, chunks or record batches) in a queue, at most
    ``handoff`` ahead of the reading thread, which hands credit back every
    ``handoff / 2`` of them: the loop thread is woken once per that many
    pages, and the reader waits only when no page is ready.

    The pump holds no reference to the iterator the user holds, so dropping
    that iterator (``break``) closes the pass at once. Closing cancels the
    pump, which closes the async iterator and so cancels its fetches, and
    waits for that cleanup. One lock serialises the threads reading the pass.
    """

    def __init__(
        self,
        client: Client,
        source: AsyncIterator[U],
        snapshots: dict[str, Callable[[Any], Any]],
        handoff: int,
    ) -> None:
        self._client = client
        self._source = source
        self._snapshots = snapshots
        self.snapshot = {name: get(source) for name, get in snapshots.items()}
        self._queue: queue.SimpleQueue[tuple[U, dict[str, Any]] | _Signal | BaseException] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._state = "new"  # "new", "open" (pumping), "ended" (read or failed), "closed"
        self._task: asyncio.Task[None] | None = None
        self._credit: asyncio.Semaphore | None = None
        self._pumped = threading.Event()
        self._handoff = max(2, handoff)
        self._release_every = self._handoff // 2
        self._taken = 0
        self.buffer: Iterator[Any] = iter(())  # items of the current page still unread
        client._rt.passes.add(self)

    # -- on the loop thread

    def _start(self) -> None:
        self._credit = asyncio.Semaphore(self._handoff)
        self._task = asyncio.get_running_loop().create_task(self._pump())
        self._task.add_done_callback(self._pump_done)

    async def _pump(self) -> None:
        assert self._credit is not None
        source, snapshots = self._source, self._snapshots
        end: _Signal | BaseException = _END
        try:
            while True:
                await self._credit.acquire()
                try:
                    unit = await anext(source)
                except StopAsyncIteration:
                    return
                self._queue.put((unit, {name: get(source) for name, get in snapshots.items()}))
        except Exception as exc:  # handed over to the reading thread, raised there
            end = exc
        finally:
            await _aclose(source)
            self._queue.put(end)

    def _pump_done(self, task: asyncio.Task[None]) -> None:
        self._task = None  # the task refers to this pass: break the cycle
        self._pumped.set()

    def _release(self, n: int) -> None:
        if self._credit is not None:
            for _ in range(n):
                self._credit.release()

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
        else:
            self._pumped.set()

    # -- on reading threads

    def next_item(self) -> Any:
        for item in self.buffer:
            return item
        with self._lock:
            while True:
                for item in self.buffer:  # another thread may have read a page
                    return item
                unit = self._next_unit()
                if unit is _END:
                    raise StopIteration
                self.buffer = iter(unit.items)  # type: ignore[union-attr]

    def next_unit(self) -> U:
        with self._lock:
            unit = self._next_unit()
        if unit is _END:
            raise StopIteration
        return unit  # type: ignore[return-value]

    def _next_unit(self) -> U | _Signal:
        try:
            return self._read()
        except Exception:
            raise
        except BaseException:
            # Ctrl+C while reading: stop the pass and its fetches before it propagates.
            self._close_locked()
            raise

    def _read(self) -> U | _Signal:
        state = self._state
        if state == "ended":
            return _END
        if self._client.closed:
            raise ClientNotOpenError(_CLOSED_MESSAGE)
        if state == "closed":
            raise RuntimeError(_PASS_CLOSED_MESSAGE)
        if state == "new":
            self._client._send(self._start)
            self._state = "open"
        got = _get(self._queue)
        if isinstance(got, tuple):
            unit, self.snapshot = got
            self._taken += 1
            if self._taken == self._release_every:
                self._taken = 0
                with contextlib.suppress(ClientNotOpenError):
                    self._client._send(functools.partial(self._release, self._release_every))
            return unit
        if got is _CLOSED:
            if self._client.closed:
                raise ClientNotOpenError(_CLOSED_MESSAGE)
            raise RuntimeError(_PASS_CLOSED_MESSAGE)
        self._state = "ended"
        if isinstance(got, BaseException):
            raise got
        return _END

    def close(self) -> None:
        """Stop the pass and cancel its fetches; wait for that. Idempotent."""
        if self._state == "closed":
            return
        self._queue.put(_CLOSED)  # wakes a thread waiting for a page
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        state, self._state = self._state, "closed"
        self.buffer = iter(())
        with contextlib.suppress(ClientNotOpenError):  # the loop is gone, and the pass with it
            if state == "new":
                self._client._run(functools.partial(_aclose, self._source), closing=True)
            elif not self._pumped.is_set():
                self._client._send(self._cancel, closing=True)
                self._pumped.wait()


def _get(q: queue.SimpleQueue[R]) -> R:
    while True:
        with contextlib.suppress(queue.Empty):
            return q.get(timeout=_SIGNAL_CHECK)


async def _aclose(source: object) -> None:
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        await aclose()


class _SyncIterator(Generic[U]):
    """What the iterators of a pass share: closing, and the pass's attributes."""

    def __init__(self, pass_: _Pass[U]) -> None:
        self._pass = pass_

    def close(self) -> None:
        """Stop this pass and cancel its fetches. Idempotent."""
        self._pass.close()

    def __del__(self) -> None:
        # Runs as a `for` loop lets go of its iterator (`break`, an error in
        # the loop body): cancel the fetches now. On the loop thread (a cycle
        # collected there) waiting would deadlock: cancel without waiting.
        p = getattr(self, "_pass", None)
        if p is None or p._state not in ("new", "open") or sys.is_finalizing():
            return
        if p._client._on_loop_thread():
            p._state = "closed"
            p._cancel()
        else:
            p.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class UnitIterator(_SyncIterator[U], Iterator[U]):
    """What an async iterator of a listing yields (pages, chunks, record
    batches), from sync code; returned by ``arrow()``.

    Dropping it (``break``) or :meth:`close` cancels the pass's fetches; it is
    also a context manager.
    """

    def __iter__(self) -> UnitIterator[U]:
        return self

    def __next__(self) -> U:
        return self._pass.next_unit()

    def __enter__(self) -> UnitIterator[U]:
        return self


class _FlatIterator(_SyncIterator[Any], Iterator[T]):
    def __iter__(self) -> _FlatIterator[T]:
        return self

    def __next__(self) -> T:
        return self._pass.next_item()  # type: ignore[no-any-return]


def _pager_pass(
    get: Callable[[_pagination.PageIterator[Any]], V],
) -> _Snapshot[_pagination.PageIterator[Any], V]:
    return _Snapshot(get, _pagination.PageIterator)


def _cursor_pass(
    get: Callable[[_cursor.CursorPageIterator[Any]], V],
) -> _Snapshot[_cursor.CursorPageIterator[Any], V]:
    return _Snapshot(get, _cursor.CursorPageIterator)


class _PagerPass:
    total_pages = _pager_pass(lambda it: it.total_pages)
    total_elements = _pager_pass(lambda it: it.total_elements)
    page_size = _pager_pass(lambda it: it.page_size)
    items_read = _pager_pass(lambda it: it.items_read)
    pages_read = _pager_pass(lambda it: it.pages_read)


class _CursorPass:
    total_elements = _cursor_pass(lambda it: it.total_elements)
    items_read = _cursor_pass(lambda it: it.items_read)
    pages_read = _cursor_pass(lambda it: it.pages_read)
    position = _cursor_pass(lambda it: it.position)


class PageIterator(_PagerPass, UnitIterator[Page[T]]):
    """One pass over a listing, page by page; returned by :meth:`Pager.pages`.

    Carries the state of its pass as of the last page it handed over:
    :attr:`total_pages`, :attr:`total_elements`, :attr:`page_size` (as the
    server used it), :attr:`items_read` and :attr:`pages_read`. ``with`` (or
    :meth:`close`, or dropping it) cancels its fetches.
    """

    def __iter__(self) -> PageIterator[T]:
        return self

    def __enter__(self) -> PageIterator[T]:
        return self


class ItemIterator(_PagerPass, _FlatIterator[T]):
    """One pass over a listing, item by item; returned by ``iter(pager)`` and
    :meth:`Pager.items`. Same attributes as :class:`PageIterator`. Threads
    may share it: each item goes to one of them."""

    def __iter__(self) -> ItemIterator[T]:
        return self

    def __enter__(self) -> ItemIterator[T]:
        return self


class CursorPageIterator(_CursorPass, UnitIterator[Chunk[T]]):
    """One cursor read, chunk by chunk; returned by :meth:`Cursor.pages`.

    Carries :attr:`total_elements`, :attr:`items_read`, :attr:`pages_read`
    and :attr:`position` (resume from there with ``resume=``) as of the last
    chunk it handed over."""

    def __iter__(self) -> CursorPageIterator[T]:
        return self

    def __enter__(self) -> CursorPageIterator[T]:
        return self


class CursorItemIterator(_CursorPass, _FlatIterator[T]):
    """One cursor read, record by record; returned by ``iter(cursor)`` and
    :meth:`Cursor.items`. Same attributes as :class:`CursorPageIterator`."""

    def __iter__(self) -> CursorItemIterator[T]:
        return self

    def __enter__(self) -> CursorItemIterator[T]:
        return self


# -- listings ------------------------------------------------------------------

_I = TypeVar("_I", bound=_SyncIterator[Any])


class _Listing(Generic[T]):
    """What :class:`Pager` and :class:`Cursor` share: passes and closing."""

    _client: Client
    _source: AsyncPager[T] | AsyncCursor[T]

    def __init__(self, client: Client) -> None:
        self._client = client
        self._passes: weakref.WeakSet[_Pass[Any]] = weakref.WeakSet()

    def _handoff(self) -> int:
        return 2

    def _open(self, make: Callable[[], AsyncIterator[Any]], kind: type[_I]) -> _I:
        snapshots = _snapshots(kind)

        async def on_loop() -> _Pass[Any]:
            # The async iterator is made on the loop thread, where it runs.
            return _Pass(self._client, make(), snapshots, self._handoff())

        p = self._client._run(on_loop)
        self._passes.add(p)
        return kind(p)

    def close(self) -> None:
        """Stop every pass still open (and a ``collect()`` running in another
        thread) and cancel its fetches."""
        for p in list(self._passes):
            p.close()
        if not self._client.closed:
            self._client._run(self._source.aclose)

    def __enter__(self) -> _Listing[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Pager(_Listing[T]):
    """A lazy listing of the sync client: :class:`flolive.AsyncPager`, from sync code.

    Nothing is fetched until iteration starts; each ``for`` is a fresh pass,
    with the same concurrent page fetches as the async pager (they run on the
    client's loop thread) and its state on the iterator it returns. Items come
    strictly in page order; a task on the loop thread hands pages over through
    a queue of up to half ``prefetch`` pages (at least 2), so the reading
    thread waits only when no page is ready. Memory is bounded by ``prefetch``
    plus that many pages.

    Example::

        pager = client.campaign_participants(42, 7, page_size=500)
        for participant in pager:                # break cancels the pass's fetches
            ...
        pages = pager.pages()
        for page in pages:                       # Page(items, number, size, ...)
            print(page.number, pages.total_elements)
        everything = pager.collect()
        with pager:                              # closes every pass still open on exit
            ...

    Leaving a ``for`` loop (``break``, an exception) closes its pass at once in
    CPython, since nothing else refers to the iterator; ``with pager:`` or
    ``with pager.pages() as pages:`` closes deterministically everywhere.
    Attributes are those of :class:`flolive.AsyncPager`.
    """

    _source: AsyncPager[T]

    def __init__(self, client: Client, pager: AsyncPager[T]) -> None:
        super().__init__(client)
        self._source = pager

    @property
    def _async(self) -> AsyncPager[T]:
        return self._source

    path = _pager_attr(lambda p: p.path)
    page_size = _pager_attr(lambda p: p.page_size)
    page_base = _pager_attr(lambda p: p.page_base)
    start_page = _pager_attr(lambda p: p.start_page)
    max_pages = _pager_attr(lambda p: p.max_pages)
    max_items = _pager_attr(lambda p: p.max_items)
    prefetch = _pager_attr(lambda p: p.prefetch)
    speculate = _pager_attr(lambda p: p.speculate)
    on_list_change = _pager_attr(lambda p: p.on_list_change)
    on_page = _pager_attr(lambda p: p.on_page)
    listing_timeout = _pager_attr(lambda p: p.listing_timeout)
    total_pages = _pager_attr(lambda p: p.total_pages)
    total_elements = _pager_attr(lambda p: p.total_elements)
    page_size_used = _pager_attr(lambda p: p.page_size_used)
    source = _pager_attr(lambda p: p.source)

    def __repr__(self) -> str:
        return repr(self._source).replace("<AsyncPager", "<flolive.sync.Pager", 1)

    def _handoff(self) -> int:
        return self._source.prefetch // 2

    def __iter__(self) -> ItemIterator[T]:
        return self.items()

    def items(self, start_page: int | None = None) -> ItemIterator[T]:
        # Pumped page by page: the items are taken out on the reading thread.
        return self._open(functools.partial(self._source.pages, start_page), ItemIterator)

    def pages(self, start_page: int | None = None) -> PageIterator[T]:
        return self._open(functools.partial(self._source.pages, start_page), PageIterator)

    def arrow(self, start_page: int | None = None) -> UnitIterator[Any]:
        return self._open(functools.partial(self._source.arrow, start_page), UnitIterator)

    def collect(self) -> list[T]:
        return self._client._run(self._source.collect)

    def plan(self, pages_per_part: int = 50) -> list[Any]:
        return self._client._run(functools.partial(self._source.plan, pages_per_part))

    def __enter__(self) -> Pager[T]:
        return self


class Cursor(_Listing[T]):
    """A lazy point-in-time cursor read of the sync client:
    :class:`flolive.AsyncCursor`, from sync code. Returned by
    :meth:`Client.all_subscribers` and :meth:`Client.all_subscriber_details`.

    Nothing is sent until iteration starts. Each ``for`` is a new read with a
    new session (or goes on from ``resume``), with its state on the iterator it
    returns; ``break``, ``with cursor:`` or ``close()`` cancels the read-ahead.

    Example::

        with client.all_subscribers(42, chunk_size=5000) as cursor:
            for sim in cursor:
                ...
        chunks = cursor.pages()
        for chunk in chunks:                        # Chunk(items, number, pit_id, ...)
            save(chunk.items, chunks.position)      # position: resume= while the session lives

    Attributes are those of :class:`flolive.AsyncCursor`.
    """

    _source: AsyncCursor[T]

    def __init__(self, client: Client, cursor: AsyncCursor[T]) -> None:
        super().__init__(client)
        self._source = cursor

    @property
    def _async(self) -> AsyncCursor[T]:
        return self._source

    path = _cursor_attr(lambda c: c.path)
    chunk_size = _cursor_attr(lambda c: c.chunk_size)
    keep_alive = _cursor_attr(lambda c: c.keep_alive)
    resume = _cursor_attr(lambda c: c.resume)
    max_items = _cursor_attr(lambda c: c.max_items)
    read_ahead = _cursor_attr(lambda c: c.read_ahead)
    on_list_change = _cursor_attr(lambda c: c.on_list_change)
    listing_timeout = _cursor_attr(lambda c: c.listing_timeout)

    def __repr__(self) -> str:
        return repr(self._source).replace("<AsyncCursor", "<flolive.sync.Cursor", 1)

    def __iter__(self) -> CursorItemIterator[T]:
        return self.items()

    def items(self) -> CursorItemIterator[T]:
        # Pumped chunk by chunk: the records are taken out on the reading thread.
        return self._open(self._source.pages, CursorItemIterator)

    def pages(self) -> CursorPageIterator[T]:
        return self._open(self._source.pages, CursorPageIterator)

    def arrow(self, item_type: type[T] | None = None) -> UnitIterator[Any]:
        return self._open(functools.partial(self._source.arrow, item_type), UnitIterator)

    def collect(self) -> list[T]:
        return self._client._run(self._source.collect)

    def __enter__(self) -> Cursor[T]:
        return self


def _listing_methods(cls: type[Any], source: type[Any]) -> None:
    """Give the listing methods of ``cls`` the docstrings of ``source``'s."""
    for name in ("items", "pages", "arrow", "collect", "plan"):
        method, original = vars(cls).get(name), getattr(source, name, None)
        if method is not None and original is not None:
            method.__doc__ = _adapt_doc(original.__doc__)


_listing_methods(Pager, AsyncPager)
_listing_methods(Cursor, AsyncCursor)


# -- the client ------------------------------------------------------------------


async def _await(fn: Callable[[], Awaitable[R]]) -> R:
    return await fn()


class _Call(Generic[R]):
    """One call made from a sync thread and run as a task on the loop thread.

    It goes to the loop with ``call_soon_threadsafe``, which never blocks:
    anyio's ``BlockingPortal.start_task_soon`` waits until the task is spawned,
    and a Ctrl+C landing in that wait would leave the call running unseen (it
    also costs a second handoff between threads per call).

    Cancelling is :meth:`asyncio.Task.cancel`, once, as an async caller's
    cancellation would be: the portal's cancel scope would cancel every later
    await too, and so cut short the pager's own cleanup (awaiting the fetches
    it cancels).
    """

    def __init__(self, fn: Callable[[], Awaitable[R]]) -> None:
        self._fn = fn
        self._task: asyncio.Task[R] | None = None
        self._cancelled = False
        self.future: concurrent.futures.Future[R] = concurrent.futures.Future()
        self.finished = threading.Event()

    def start(self) -> None:
        """On the loop thread: start the task."""
        if self._cancelled:
            return
        self._task = asyncio.get_running_loop().create_task(_await(self._fn))
        self._task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[R]) -> None:
        if task.cancelled():
            self.future.cancel()
        elif (exc := task.exception()) is not None:
            self.future.set_exception(exc)
        else:
            self.future.set_result(task.result())
        self.finished.set()

    def cancel(self, loop: asyncio.AbstractEventLoop) -> None:
        """From the calling thread: cancel the call, and wait until its cleanup ran."""
        try:
            loop.call_soon_threadsafe(self._cancel_on_loop)
        except RuntimeError:  # the loop is closed: nothing runs any more
            return
        self.finished.wait()

    def _cancel_on_loop(self) -> None:
        # Calls reach the loop in order: start() ran before this, if it was sent.
        self._cancelled = True
        if self._task is None:  # it never started, and now never will
            self.future.cancel()
            self.finished.set()
        else:
            self._task.cancel()


class _Runtime:
    """The loop thread of a client, shared with the clients derived from it."""

    def __init__(self) -> None:
        self.passes: weakref.WeakSet[_Pass[Any]] = weakref.WeakSet()
        # Reentrant: a pass dropped while this thread holds it closes through a call.
        self.lock = threading.RLock()
        self.inflight: set[_Call[Any]] = set()
        self.closed = True
        self.stack = contextlib.ExitStack()
        self.portal: BlockingPortal = self.stack.enter_context(
            start_blocking_portal(name="flolive.sync.Client")
        )
        try:
            self.thread, self.loop = self.portal.call(_loop_info)
        except BaseException:
            self.stack.close()
            raise


_open_clients: weakref.WeakSet[Client] = weakref.WeakSet()


@atexit.register
def _close_forgotten_clients() -> None:
    """Close the clients still open as the interpreter exits, while their loop
    threads (daemon threads) still run; during finalisation they no longer do."""
    for client in list(_open_clients):
        client._close_forgotten()


async def _loop_info() -> tuple[int, asyncio.AbstractEventLoop]:
    return threading.get_ident(), asyncio.get_running_loop()


async def _open(args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncClient:
    client = AsyncClient(*args, **kwargs)
    await client.__aenter__()
    return client


class Client:
    __doc__ = """Synchronous client of the floLIVE API v2: :class:`flolive.Client` for sync code.

    It opens in the constructor: use it as ``with Client(...) as client:``, or
    call :meth:`close` when done. Closing stops its event-loop thread and
    cancels calls other threads still have in flight. One client may be shared
    by many threads: all their requests share its connection pool and its
    ``max_concurrency`` limit.

    Example::

        from flolive.sync import Client

        with Client(base_url="https://api.example", token="...") as client:
            for p in client.campaign_participants(customer_id=42, campaign_id=7):
                print(p.iccid, p.status, p.timestamp)
            campaign = client.campaign(42, 7)

    The arguments, methods, models and exceptions are those of
    :class:`flolive.Client`, except ``session``: a session belongs to one event
    loop, and this client runs its own. ``token_provider`` and ``sleep`` are
    async callables, run on the client's loop thread.

""" + "".join((AsyncClient.__doc__ or "").partition("    Args:\n")[1:])

    _async: AsyncClient
    _rt: _Runtime

    @_same_arguments(AsyncClient.__init__)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("session") is not None:
            raise ValueError(
                "flolive.sync.Client runs its own event loop and cannot use a session "
                "made on another one; leave `session` out"
            )
        self._owner = True
        rt = _Runtime()
        try:
            # Built on the loop thread: whatever the client creates binds to that loop.
            self._async = rt.portal.call(_open, args, kwargs)
        except BaseException:
            rt.stack.close()
            raise
        rt.closed = False
        self._rt = rt
        _open_clients.add(self)

    @classmethod
    def _derived(cls, parent: Client, derived: AsyncClient) -> Client:
        client = cls.__new__(cls)
        client._owner = False
        client._rt = parent._rt
        client._async = derived
        return client

    def __repr__(self) -> str:
        if self.closed:
            return "<flolive.sync.Client closed>"
        return repr(self._async).replace("<flolive.Client", "<flolive.sync.Client", 1)

    # -- lifetime ---------------------------------------------------------

    def __enter__(self) -> Client:
        if self.closed:
            raise ClientNotOpenError(_CLOSED_MESSAGE)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """``True`` once :meth:`close` ran (on the client this one was derived from)."""
        return getattr(self, "_rt", None) is None or self._rt.closed

    def close(self) -> None:
        """Close every open pass and the session, then stop the loop thread. Idempotent.

        Calls other threads still have in flight are cancelled (they raise
        :class:`~flolive.ClientNotOpenError`) and their cleanup waited for. A
        client made by :meth:`with_options` closes nothing.
        """
        if not self._owner:
            return
        rt = self._rt
        with rt.lock:
            if rt.closed:
                return
            rt.closed = True
            inflight = list(rt.inflight)
        _open_clients.discard(self)
        try:
            for call in inflight:
                call.cancel(rt.loop)
            for p in list(rt.passes):
                p.close()
            rt.portal.call(self._async.aclose)
        finally:
            with contextlib.suppress(RuntimeError):  # already stopped
                rt.portal.call(rt.portal.stop, True)
            rt.stack.close()  # joins the loop thread

    def __del__(self) -> None:
        # At interpreter exit the loop thread no longer runs: the atexit hook
        # above closed this client already, or nothing can.
        if sys.is_finalizing() or self._on_loop_thread():
            return
        self._close_forgotten()

    def _close_forgotten(self) -> None:
        if not getattr(self, "_owner", False) or self.closed:
            return
        warnings.warn(
            f"unclosed {self!r}: use `with Client(...)` or call close()",
            ResourceWarning,
            stacklevel=3,
        )
        self.close()

    # -- plumbing ---------------------------------------------------------

    def _on_loop_thread(self) -> bool:
        rt = getattr(self, "_rt", None)
        return rt is not None and threading.get_ident() == rt.thread

    def _run(self, fn: Callable[[], Awaitable[R]], *, closing: bool = False) -> R:
        """Await ``fn()`` on the loop thread and return its result."""
        rt = self._rt
        call = _Call(fn)
        sent = False
        try:
            with rt.lock:
                if rt.closed and not closing:
                    raise ClientNotOpenError(_CLOSED_MESSAGE)
                rt.inflight.add(call)
                sent = True  # before: a Ctrl+C inside the next line still cancels
                try:
                    rt.loop.call_soon_threadsafe(call.start)
                except RuntimeError:  # the loop is closed
                    raise ClientNotOpenError(_CLOSED_MESSAGE) from None
            while not call.finished.wait(_SIGNAL_CHECK):
                pass
            return call.future.result()
        except concurrent.futures.CancelledError:
            if rt.closed:
                raise ClientNotOpenError(
                    f"{_CLOSED_MESSAGE} (closed while this call ran)"
                ) from None
            raise
        except BaseException:
            if sent and not call.future.done():
                # Ctrl+C while waiting: cancel the call and wait for its cleanup,
                # so no request or fetch of it outlives this frame.
                call.cancel(rt.loop)
            raise
        finally:
            rt.inflight.discard(call)

    def _send(self, fn: Callable[[], object], *, closing: bool = False) -> None:
        """Have ``fn()`` run soon on the loop thread, without waiting for it."""
        rt = self._rt
        with rt.lock:
            if rt.closed and not closing:
                raise ClientNotOpenError(_CLOSED_MESSAGE)
            try:
                rt.loop.call_soon_threadsafe(fn)
            except RuntimeError:  # the loop is closed
                raise ClientNotOpenError(_CLOSED_MESSAGE) from None

    def _wrap(self, make: Callable[[], object]) -> Any:
        """Run ``make()`` on the loop thread; wrap the listing or client it returns."""

        async def on_loop() -> object:
            return make()

        made = self._run(on_loop)
        if isinstance(made, AsyncPager):
            return Pager(self, made)
        if isinstance(made, AsyncCursor):
            return Cursor(self, made)
        if isinstance(made, AsyncClient):
            return Client._derived(self, made)
        raise TypeError(f"flolive.sync cannot wrap {type(made).__name__} yet")

    # -- settings and state (those of flolive.Client) ---------------------

    base_url = _client_attr(lambda c: c.base_url)
    max_concurrency = _client_attr(lambda c: c.max_concurrency)
    adaptive_concurrency = _client_attr(lambda c: c.adaptive_concurrency)
    page_size = _client_attr(lambda c: c.page_size)
    page_base = _client_attr(lambda c: c.page_base)
    prefetch = _client_attr(lambda c: c.prefetch)
    speculate = _client_attr(lambda c: c.speculate)
    timeout = _client_attr(lambda c: c.timeout)
    max_response_size = _client_attr(lambda c: c.max_response_size)
    listing_timeout = _client_attr(lambda c: c.listing_timeout)
    retry = _client_attr(lambda c: c.retry)
    on_list_change = _client_attr(lambda c: c.on_list_change)
    state = _client_attr(lambda c: c.state)
    stats = _client_attr(lambda c: c.stats)
    concurrency_limit = _client_attr(lambda c: c.concurrency_limit)

    # -- methods (those of flolive.Client) --------------------------------

    with_options = _sync(AsyncClient.with_options)
    paginate = _sync(AsyncClient.paginate)
    get_items = _sync(AsyncClient.get_items)
    campaign_participants = _sync(AsyncClient.campaign_participants)
    subscriber_labels = _sync(AsyncClient.subscriber_labels)
    campaigns = _sync(AsyncClient.campaigns)
    campaign = _sync(AsyncClient.campaign)
    subscribers = _sync(AsyncClient.subscribers)
    all_subscribers = _sync(AsyncClient.all_subscribers)
    all_subscriber_details = _sync(AsyncClient.all_subscriber_details)
    subscriber = _sync(AsyncClient.subscriber)
    subscriber_profiles = _sync(AsyncClient.subscriber_profiles)


def _resolve_client() -> None:
    for method in vars(Client).values():
        sig = getattr(method, "__signature__", None)
        if isinstance(sig, inspect.Signature) and sig.return_annotation == "Client":
            method.__signature__ = sig.replace(return_annotation=Client)
            method.__annotations__["return"] = Client


_resolve_client()
