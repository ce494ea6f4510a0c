"""Any async listing of the client, and its passes, read from sync code.

:class:`Listing` wraps an :class:`~flolive.AsyncPager` or an
:class:`~flolive.AsyncCursor` alike: it knows only their public surface
(``pages()``, ``arrow()``, ``collect()``, ``aclose()`` and their attributes).
Each pass is a :class:`ListingIterator` over the async ``pages()`` (or
``arrow()``) iterator, made and stepped on the loop thread, one call per page:
the async listing keeps fetching its next pages concurrently there meanwhile,
and the async iterator's own attributes say what this thread was handed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar, overload

from .. import AsyncCursor, AsyncPager, Chunk, ClientNotOpenError, Page
from ..parts import Part
from .loop import CLOSED_MESSAGE, SIGNAL_CHECK, Closing, LoopThread

T = TypeVar("T")
U = TypeVar("U")
X = TypeVar("X")

_PASS_CLOSED_MESSAGE = "this listing was closed (close() or its `with` ended)"


class _AsyncPass(Protocol):
    """What a pass of an async listing is: an async iterator that closes."""

    def __anext__(self) -> Any: ...
    async def aclose(self) -> None: ...


class _Signal:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_END = _Signal("END")
_CLOSED = _Signal("CLOSED")


def _read_through(obj: object, name: str, owner: object) -> Any:
    """``obj.name`` for a setting or state attribute. Methods (async ones)
    are not part of the sync surface: each has its sync counterpart."""
    if not name.startswith("_") and not callable(getattr(type(obj), name, None)):
        try:
            return getattr(obj, name)
        except AttributeError:
            pass
    raise AttributeError(
        f"{type(owner).__name__} over {type(obj).__name__} has no attribute {name!r}"
    )


def _state_names(obj: object) -> list[str]:
    """The public attributes of ``obj`` that are not methods: its settings and state."""
    return [n for n in dir(obj) if not n.startswith("_") and not callable(getattr(obj, n))]


class _Pump:
    """Hands the pages of one async pass to the reading threads.

    A task on the loop thread reads the async pass and puts each page in a
    queue, with a copy of the pass's state as of that page, at most
    ``handoff`` pages ahead of the readers. They hand credit back every
    ``handoff // 2`` pages: the loop thread is woken once per that many pages,
    and a reader waits only when no page is ready. The task holds no reference
    to the :class:`ListingIterator`, so dropping that (``break``) closes the
    pass at once.
    """

    def __init__(self, source: _AsyncPass, handoff: int) -> None:
        self.source = source
        self.names = _state_names(source)
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.handoff = max(2, handoff)
        self.done = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._credit: asyncio.Semaphore | None = None
        self._started = False
        self._stop = False

    def state(self) -> dict[str, Any]:
        return {name: getattr(self.source, name) for name in self.names}

    # -- on the loop thread

    def start(self) -> None:
        self._credit = asyncio.Semaphore(self.handoff)
        self._task = asyncio.get_running_loop().create_task(self._run())
        self._task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._task = None  # the task refers to this pump: break the cycle
        self.done.set()

    async def _run(self) -> None:
        assert self._credit is not None
        self._started = True
        end: object = _END
        try:
            while not self._stop:
                await self._credit.acquire()
                try:
                    page = await anext(self.source)
                except StopAsyncIteration:
                    return
                self.queue.put((page, self.state()))
        except Exception as exc:  # raised in the reading thread
            end = exc
        finally:
            await self.source.aclose()
            self.queue.put(end)

    def release(self, n: int) -> None:
        assert self._credit is not None
        for _ in range(n):
            self._credit.release()

    def cancel(self) -> None:
        # A task cancelled before its first step would never run its `finally`,
        # and so never close the source: one not started yet stops as it starts.
        self._stop = True
        if self._task is not None and self._started:
            self._task.cancel()

    # -- on a reading thread

    def get(self) -> Any:
        while True:  # in steps, so that a Ctrl+C is seen however long the page takes
            with contextlib.suppress(queue.Empty):
                return self.queue.get(timeout=SIGNAL_CHECK)


class ListingIterator(Closing, Generic[X]):
    """One pass over a listing, from sync code: its items (``iter(listing)``,
    :meth:`Listing.items`), its pages or cursor chunks (:meth:`Listing.pages`),
    or its Arrow record batches (:meth:`Listing.arrow`).

    The state of the pass is that of the async pass, as of the last page (or
    chunk) handed to this thread: ``total_pages``, ``total_elements``,
    ``page_size``, ``items_read`` and ``pages_read`` for a pager's pass;
    ``total_elements``, ``items_read``, ``pages_read`` and ``position`` (the
    :class:`~flolive.CursorToken` to resume from) for a cursor read. (Items
    come out of a page on this thread: the counters count whole pages.)

    Leaving a ``for`` loop over it (``break``, an exception) closes it at once
    in CPython, as nothing else refers to it; ``with`` or :meth:`close` closes
    it everywhere. Closing cancels its fetches and waits for that. Threads may
    share one iterator: each item goes to one of them.
    """

    def __init__(
        self, loop: LoopThread, make: Callable[[], _AsyncPass], *, items: bool, handoff: int
    ) -> None:
        async def made() -> _Pump:
            return _Pump(make(), handoff)  # made on the loop thread, where it runs

        self._pump = loop.call(made)
        self._state_now = self._pump.state()
        self._loop = loop
        self._items = items
        self._buffer: Iterator[Any] = iter(())  # items of the current page still unread
        self._lock = threading.Lock()  # one thread at a time takes a page
        self._taken = 0
        self._status = "new"  # "new", "open", "ended" (read to the end, or failed), "closed"
        loop.passes.add(self)

    def __iter__(self) -> ListingIterator[X]:
        return self

    def __next__(self) -> X:
        if not self._items:
            with self._lock:
                return self._next_page()  # type: ignore[no-any-return]
        for item in self._buffer:
            return item  # type: ignore[no-any-return]
        with self._lock:
            while True:
                for item in self._buffer:  # another thread may have read a page meanwhile
                    return item  # type: ignore[no-any-return]
                self._buffer = iter(self._next_page().items)

    def _next_page(self) -> Any:
        status, pump = self._status, self._pump
        if status == "ended":
            raise StopIteration
        if status == "closed" or self._loop.closed:
            raise self._closed_error()
        if status == "new":
            self._loop.send(pump.start)
            self._status = "open"
        try:
            got = pump.get()
        except BaseException:
            self.close()  # Ctrl+C while waiting: stop the pass and its fetches first
            raise
        if isinstance(got, tuple):
            page, self._state_now = got
            self._taken += 1
            if self._taken == pump.handoff // 2:
                self._taken = 0
                with contextlib.suppress(ClientNotOpenError):
                    self._loop.send(functools.partial(pump.release, pump.handoff // 2))
            return page
        if got is _CLOSED:
            raise self._closed_error()
        self._status = "ended"
        if isinstance(got, BaseException):
            raise got
        raise StopIteration

    def _closed_error(self) -> Exception:
        if self._loop.closed:
            return ClientNotOpenError(CLOSED_MESSAGE)
        return RuntimeError(_PASS_CLOSED_MESSAGE)

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__.get("_state_now", {})
        if name in state:
            return state[name]
        source = getattr(self.__dict__.get("_pump"), "source", None)
        raise AttributeError(
            f"ListingIterator over {type(source).__name__} has no attribute {name!r}"
        )

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._state_now})

    def close(self) -> None:
        """Stop this pass and cancel its fetches; wait for that. Idempotent."""
        status, self._status = self._status, "closed"
        self._buffer = iter(())
        self._loop.passes.discard(self)
        pump = self._pump
        with contextlib.suppress(ClientNotOpenError):  # the loop is gone, and the pass too
            if status == "new":
                self._loop.call(pump.source.aclose, closing=True)
            elif status == "open":
                pump.queue.put(_CLOSED)  # wakes a thread waiting for a page
                self._loop.send(pump.cancel, closing=True)
                pump.done.wait()

    def __del__(self) -> None:
        # Runs as a `for` loop lets go of its iterator (`break`, an error in
        # the loop body): cancel the fetches now. On the loop thread (a cycle
        # collected there) waiting would deadlock: cancel without waiting.
        status = self.__dict__.get("_status")
        if status not in ("new", "open") or sys.is_finalizing():
            return
        if not self._loop.in_loop_thread():
            self.close()
        elif status == "new":
            self._status = "closed"
            self._loop.spawn(self._pump.source.aclose)
        else:
            self._status = "closed"
            self._pump.cancel()


class Listing(Closing, Generic[T, U]):
    """A lazy listing of the sync client: an :class:`~flolive.AsyncPager` (pages
    of ``U = Page[T]``) or an :class:`~flolive.AsyncCursor` (chunks of
    ``U = Chunk[T]``), from sync code. :data:`Pager` and :data:`Cursor` name the two.

    Nothing is fetched until iteration starts; each ``for`` is a fresh pass
    (:class:`ListingIterator`), with the same concurrent fetches as the async
    listing (they run on the client's loop thread) and its state on the
    iterator. The listing's settings and state are those of the async one,
    read (and set) through: ``path``, ``page_size``, ``max_items``,
    ``total_pages``, ``chunk_size``, ... as :class:`~flolive.AsyncPager` and
    :class:`~flolive.AsyncCursor` document them.

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
    """

    @overload
    def __init__(self: Listing[T, Page[T]], loop: LoopThread, listing: AsyncPager[T]) -> None: ...
    @overload
    def __init__(self: Listing[T, Chunk[T]], loop: LoopThread, listing: AsyncCursor[T]) -> None: ...
    def __init__(self, loop: LoopThread, listing: AsyncPager[T] | AsyncCursor[T]) -> None:
        self._loop = loop
        self._async = listing
        self._passes: weakref.WeakSet[ListingIterator[Any]] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"<flolive.sync {repr(self._async)[1:]}"

    def __getattr__(self, name: str) -> Any:
        return _read_through(self.__dict__.get("_async"), name, self)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            super().__setattr__(name, value)
        else:  # a setting of the async listing: later passes use it
            setattr(self._async, name, value)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *_state_names(self._async)})

    def __iter__(self) -> ListingIterator[T]:
        return self.items()

    def items(self, start_page: int | None = None) -> ListingIterator[T]:
        """A new pass over the items; a pager's from ``start_page`` (default: its own).

        Pages (or chunks) cross to this thread whole, one call per page: never
        a round trip per item.
        """
        return self._open(self._async.pages, True, start_page=start_page)

    def pages(self, start_page: int | None = None) -> ListingIterator[U]:
        """A new pass over the pages (:class:`~flolive.Page`) of a pager, from
        ``start_page`` (default: its own), or the chunks (:class:`~flolive.Chunk`)
        of a cursor read.

        Each page carries its API ``number``: after an interruption, pass
        ``start_page=last_number + 1`` to go on (or use ``err.resume``); a
        cursor read goes on from its iterator's ``position`` (``resume=``).
        """
        return self._open(self._async.pages, False, start_page=start_page)

    def arrow(
        self, start_page: int | None = None, *, item_type: type[T] | None = None
    ) -> ListingIterator[Any]:
        """A new pass of one :class:`pyarrow.RecordBatch` per page (or chunk), in
        order; needs the ``arrow`` extra (schemas: :mod:`flolive.arrow`).

        ``start_page`` as for :meth:`pages` (pagers only); ``item_type`` is a
        cursor's record type (default: the type of the first record).
        """
        return self._open(self._async.arrow, False, start_page=start_page, item_type=item_type)

    def _open(
        self, method: Callable[..., AsyncIterator[Any]], items: bool, **arguments: object
    ) -> ListingIterator[Any]:
        # Only the arguments given: a cursor takes no start_page, a pager no item_type.
        given = {name: value for name, value in arguments.items() if value is not None}
        it: ListingIterator[Any] = ListingIterator(
            self._loop,
            functools.partial(method, **given),  # type: ignore[arg-type]
            items=items,
            # Pages handed over ahead of the reader: half a pager's prefetch.
            handoff=getattr(self._async, "prefetch", 0) // 2,
        )
        self._passes.add(it)
        return it

    def collect(self) -> list[T]:
        """Read the whole listing into a list (memory grows with the list): one
        call to the loop thread."""
        return self._loop.call(self._async.collect)

    def plan(self, pages_per_part: int = 50) -> list[Part]:
        """Split a pager's listing into picklable :class:`~flolive.parts.Part` s of
        ``pages_per_part`` pages (default 50), reading the first page once: see
        :meth:`flolive.AsyncPager.plan`. A cursor read cannot be split."""
        listing = self._async
        if not isinstance(listing, AsyncPager):
            raise TypeError("plan() splits paged listings; a cursor read cannot be split")
        return self._loop.call(functools.partial(listing.plan, pages_per_part))

    def close(self) -> None:
        """Stop every pass still open (and a ``collect()`` running in another
        thread) and cancel its fetches."""
        for p in list(self._passes):
            p.close()
        if not self._loop.closed:
            self._loop.call(self._async.aclose)


Pager = Listing[T, Page[T]]
"""A paged listing (:class:`~flolive.AsyncPager`) from sync code: a :class:`Listing`."""
Cursor = Listing[T, Chunk[T]]
"""A point-in-time cursor read (:class:`~flolive.AsyncCursor`) from sync code."""
