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

import contextlib
import functools
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar, overload

from .. import AsyncCursor, AsyncPager, Chunk, ClientNotOpenError, Page
from ..parts import Part
from .loop import CLOSED_MESSAGE, Closing, LoopThread

T = TypeVar("T")
U = TypeVar("U")
X = TypeVar("X")

_PASS_CLOSED_MESSAGE = "this listing was closed (close() or its `with` ended)"


class _AsyncPass(Protocol):
    """What a pass of an async listing is: an async iterator that closes."""

    def __anext__(self) -> Any: ...
    async def aclose(self) -> None: ...


class _End:
    def __repr__(self) -> str:
        return "END"


_END = _End()


async def _step(source: _AsyncPass) -> Any:
    # StopAsyncIteration is returned, not raised: it must not cross a task.
    try:
        return await anext(source)
    except StopAsyncIteration:
        return _END


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


def _public_names(own: Iterator[str], obj: object) -> list[str]:
    """``dir()`` of a sync wrapper: its own names and the attributes read through."""
    through = (n for n in dir(obj) if not n.startswith("_") and not callable(getattr(obj, n)))
    return sorted({*own, *through})


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

    def __init__(self, loop: LoopThread, make: Callable[[], _AsyncPass], *, items: bool) -> None:
        async def made() -> _AsyncPass:
            return make()

        # Made on the loop thread, where it runs.
        self._source = loop.call(made)
        self._loop = loop
        self._items = items
        self._buffer: Iterator[Any] = iter(())  # items of the current page still unread
        self._lock = threading.Lock()  # one thread at a time asks for a page
        self._state = "open"  # "open", "ended" (read to the end, or failed), "closed"
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
        if self._state == "ended":
            raise StopIteration
        if self._state == "closed":
            if self._loop.closed:
                raise ClientNotOpenError(CLOSED_MESSAGE)
            raise RuntimeError(_PASS_CLOSED_MESSAGE)
        try:
            page = self._loop.call(functools.partial(_step, self._source))
        except Exception:
            if self._state == "closed":  # by another thread, while this one waited
                raise RuntimeError(_PASS_CLOSED_MESSAGE) from None
            self._state = "ended"
            raise
        except BaseException:
            # Ctrl+C: the call (and with it the async pass) was cancelled.
            self.close()
            raise
        if page is _END:
            self._state = "ended"
            raise StopIteration
        return page

    def __getattr__(self, name: str) -> Any:
        return _read_through(self.__dict__.get("_source"), name, self)

    def __dir__(self) -> list[str]:
        return _public_names(iter(super().__dir__()), self._source)

    def close(self) -> None:
        """Stop this pass and cancel its fetches; wait for that. Idempotent."""
        state, self._state = self._state, "closed"
        self._buffer = iter(())
        self._loop.passes.discard(self)
        if state == "open":
            # Without the lock: a thread waiting for a page holds it, and
            # closing the async pass is what wakes it.
            with contextlib.suppress(ClientNotOpenError):  # the loop is gone, and the pass too
                self._loop.call(self._source.aclose, closing=True)

    def __del__(self) -> None:
        # Runs as a `for` loop lets go of its iterator (`break`, an error in
        # the loop body): cancel the fetches now. On the loop thread (a cycle
        # collected there) waiting would deadlock: cancel without waiting.
        if self.__dict__.get("_state") != "open" or sys.is_finalizing():
            return
        if self._loop.in_loop_thread():
            self._state = "closed"
            self._loop.spawn(self._source.aclose)
        else:
            self.close()


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
        return _public_names(iter(super().__dir__()), self._async)

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
