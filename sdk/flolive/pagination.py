"""The streaming pager: concurrent page fetches, items in page order, bounded memory.

How a pass runs:

1. The first page is requested together with up to ``speculate`` pages after
   it, since nothing needs page one to ask for pages two to four. A second
   pass of the same pager already knows how many pages there are, and fills
   its whole window at once.
2. The first page tells the page size the server really used (servers cap it)
   and ``totalPages``. Speculative requests past the end are cancelled and
   their answers dropped; if the server capped the size, all of them are, and
   the pages are fetched again at the size it echoed.
3. The remaining pages are fetched concurrently, each in its own task, behind
   the client-wide limiter. At most ``prefetch`` pages are fetched or held
   ahead of the consumer: a task is only created when the consumer moves on,
   so a slow consumer slows fetching, and creating the task is what reserves
   window space. The task then queues for a limiter slot, so window space is
   never awaited while a slot is held. With ``max_items``, no page is asked
   for that the items still wanted could not need.
4. Pages are handed over strictly in page order.

Cleanup: plain asyncio tasks are cancelled and awaited in ``finally``, on
``break``, on a consumer error, on cancellation and on a page error, so no task,
connection or warning leaks. (anyio task groups inside async generators break
on ``break`` and across tasks, and would wrap errors in an ``ExceptionGroup``.)

This module is the concurrent strategy behind the listing core
(:mod:`flolive._listing`): the pass's bookkeeping, iterators and shell are
there, shared with the cursor. State of one pass (totals, the size the server
used, items read) lives on the iterator of that pass (:class:`PageIterator`,
:class:`ItemIterator`), so two passes over one pager never overwrite each other.

Every error a pass raises carries ``err.resume``, the token that starts a new
pass at the failed page: the fetch builds it into the error's context, so no
error is changed after it is raised.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar, cast

import msgspec

from ._listing import Listing, Pass, PassIterator, by_async_for
from ._source import ListSource, Part
from ._types import OnListChange, OnPage, RequestContext, ResumeToken
from .errors import ListChanged, ListIncomplete, PageMismatch, incomplete_message
from .models import Page

__all__ = [
    "AsyncPager",
    "FetchPage",
    "ItemIterator",
    "OnListChange",
    "OnPage",
    "PageIterator",
    "ResumeToken",
]

T = TypeVar("T")
X = TypeVar("X")

FetchPage = Callable[[int, int, float | None], Coroutine[Any, Any, Page[T]]]
"""``fetch(number, size, deadline) -> Page``; raises the typed error of that
page, whose ``resume`` starts a pass at that page and size."""


class _PageStream(Pass[Page[T]]):
    """One pass over a listing. Owns its page tasks; :meth:`aclose` cancels them."""

    def __init__(self, pager: AsyncPager[T], start_page: int) -> None:
        super().__init__(
            path=pager.path,
            listing_timeout=pager.listing_timeout,
            on_list_change=pager.on_list_change,
            on_page=pager.on_page,
        )
        self._pager = pager
        self._fetch = pager._fetch
        self._start = start_page
        self._next = start_page
        self._cap = start_page + pager.max_pages - 1 if pager.max_pages is not None else None
        self._size = pager.page_size
        self._scheduled = start_page - 1  # highest page number with a task
        self._page_tasks: dict[int, asyncio.Task[Page[T]]] = {}
        self._dropped: list[asyncio.Task[Page[T]]] = []
        self._last: int | None = None  # last page to read, once known
        self._failed_at: int | None = None
        self._known = False  # whether the first page of the pass arrived
        self._finished = False
        self._drift_reported = False
        self._first_total: int | None = None
        #: Per-pass state, read through the iterators.
        self.total_pages: int | None = None
        self.page_size: int | None = None

    async def _step(self) -> Page[T] | None:
        number = self._next
        if self._last is not None and number > self._last:
            self._finish()
            return None
        page = await self._page_tasks.pop(number)
        if not self._known:
            self._learn(page, number)
        else:
            self._check_echo(page, number)
            self._check_drift(page, number)
        self._next = number + 1
        page = self._took(page, number)
        self._schedule()
        return page

    def _context(self, number: int | None) -> RequestContext:
        """The context of an error the pass raises itself, on page ``number``."""
        resume = None
        if number is not None:
            resume = ResumeToken(
                path=self.path, page=number, page_size=self._size, page_base=self._pager.page_base
            )
        return RequestContext("GET", self.path, number, resume=resume)

    def _begin(self) -> None:
        """Send the first window: the first page and what can be guessed after it."""
        pager = self._pager
        hint = pager._hint
        if hint is not None and hint[0] == pager.page_size:
            # A previous pass learnt the size the server uses and where the
            # list ends: fill the window at once, wasting nothing.
            self._size = hint[1]
            provisional = max(self._start, pager.page_base + hint[2] - 1)
        else:
            provisional = self._start + pager.speculate
        self._schedule(provisional)

    def _learn(self, page: Page[T], number: int) -> None:
        """The first page of the pass: the size used, the totals, where the list ends."""
        pager = self._pager
        self._check_echo(page, number)
        self._known = True
        if 0 < page.size != self._size:
            # The server capped the size: pages asked at the other size
            # hold other items. Drop them; fetch again at the echoed size.
            self._size = page.size
            self._drop(lambda n: True)
            self._scheduled = number
            self._failed_at = None
        self._first_total = page.total_elements
        self.page_size = pager.page_size_used = self._size
        pager._hint = (pager.page_size, self._size, page.total_pages)
        last = max(number, pager.page_base + page.total_pages - 1)
        if self._cap is not None:
            last = min(last, self._cap)
        if self._failed_at is not None:
            last = min(last, self._failed_at)
        self._end_at(last)

    def _took(self, page: Page[T], number: int) -> Page[T]:
        """Account for a page handed over; trim it to ``max_items``."""
        self.total_pages = page.total_pages
        self.total_elements = page.total_elements
        self._pager.total_pages = page.total_pages
        self._pager.total_elements = page.total_elements
        wanted = self._pager.max_items
        if wanted is not None and self.items_read + len(page.items) >= wanted:
            page = msgspec.structs.replace(page, items=page.items[: wanted - self.items_read])
            self.items_read = wanted
            self._end_at(number)
            return page
        self.items_read += len(page.items)
        if (
            not page.items
            and (self._start - self._pager.page_base) * self._size + self.items_read
            >= page.total_elements
        ):
            # Everything the server counted has been read and pages come back
            # empty: the list ends here, whatever totalPages claims (a server
            # saying 10**9 pages for 3 items would otherwise be read forever).
            # An empty page *before* that never ends a list: pages may be
            # empty while the list is being changed.
            self._end_at(number)
        return page

    # -- fetching ---------------------------------------------------------

    def _schedule(self, provisional_last: int | None = None) -> None:
        """Keep the window full: pages [_next, _next + prefetch) in hand,
        within the last page (known or guessed) and the items still wanted."""
        last = self._last if self._last is not None else provisional_last
        if last is None:
            return
        if self._cap is not None:
            last = min(last, self._cap)
        high = min(last, self._next + self._pager.prefetch - 1)
        wanted = self._pager.max_items
        if wanted is not None:
            # Pages in hand hold at most _size items each: ask for no page
            # that the items still wanted could not need.
            missing = wanted - self.items_read
            high = min(high, self._next - 1 + -(-missing // self._size))
        fetch, size, deadline = self._fetch, self._size, self._deadline
        while self._scheduled < high:
            self._scheduled += 1
            n = self._scheduled
            task = asyncio.create_task(fetch(n, size, deadline))
            task.add_done_callback(functools.partial(self._on_done, n))
            self._page_tasks[n] = task

    def _on_done(self, failed: int, task: asyncio.Task[Page[T]]) -> None:
        if task.cancelled() or task.exception() is None or self._closed:
            return
        # A failed page ends the listing there: fetches after it are wasted.
        if not self._known:
            # It may be a speculative page past the end, or at a size the
            # first page will correct: only remember it until then.
            self._failed_at = failed if self._failed_at is None else min(self._failed_at, failed)
            return
        self._end_at(failed)

    def _end_at(self, number: int) -> None:
        """The pass reads no page after ``number``: cancel and drop the rest."""
        self._last = number if self._last is None else min(self._last, number)
        self._drop(lambda n: n > number)

    def _drop(self, which: Callable[[int], bool]) -> None:
        for n in [n for n in self._page_tasks if which(n)]:
            task = self._page_tasks.pop(n)
            task.cancel()
            self._dropped.append(task)

    # -- checks -----------------------------------------------------------

    def _check_echo(self, page: Page[T], number: int) -> None:
        if page.number != number:
            raise PageMismatch(
                number,
                page.number,
                self._pager.page_base,
                context=self._context(number),
            )

    def _check_drift(self, page: Page[T], number: int) -> None:
        if page.total_elements == self._first_total:
            return
        pager = self._pager
        mode = pager.on_list_change
        if mode == "raise":
            raise ListChanged(
                self._first_total or 0, page.total_elements, context=self._context(number)
            )
        if mode == "warn" and not self._drift_reported:
            self._drift_reported = True
            self._changed(
                f"totalElements changed from {self._first_total} "
                f"to {page.total_elements} at page {number} while the list was read; "
                "items may be skipped or repeated at page boundaries"
            )
        # A list that grew has more pages: read them too, rather than stop short.
        assert self._last is not None
        if self._cap is None or self._last < self._cap:
            grown = pager.page_base + page.total_pages - 1
            if self._cap is not None:
                grown = min(grown, self._cap)
            self._last = max(self._last, grown)

    def _finish(self) -> None:
        """A pass that read to the end of the list: check it got all of it."""
        if self._finished:
            return
        self._finished = True
        pager = self._pager
        expected = self.total_elements
        full = (
            self._start == pager.page_base
            and pager.max_items is None
            and (self._cap is None or (self._last is not None and self._last < self._cap))
        )
        if not full or expected is None:
            return
        self._short(
            expected,
            lambda: ListIncomplete(
                expected, self.items_read, pager.page_base, context=self._context(None)
            ),
            incomplete_message(expected, self.items_read, pager.page_base),
        )

    def _tasks(self) -> list[asyncio.Task[Any]]:
        tasks = [*self._page_tasks.values(), *self._dropped]
        self._page_tasks.clear()
        self._dropped.clear()
        return tasks


class _PagerIterator(PassIterator[X, _PageStream[Any]]):
    """What both iterators of a pager share: the per-pass state of the pager's pass."""

    @property
    def total_pages(self) -> int | None:
        """``totalPages`` as the last page handed over reported it (``None`` before)."""
        return self._pass.total_pages

    @property
    def page_size(self) -> int | None:
        """The page size the server used in this pass (``None`` before page one)."""
        return self._pass.page_size


class PageIterator(_PagerIterator[Page[T]]):
    """One pass over a listing, page by page; returned by :meth:`AsyncPager.pages`.

    Carries the state of its own pass: :attr:`total_pages`,
    :attr:`total_elements`, :attr:`page_size` (as the server used it),
    :attr:`items_read` and :attr:`pages_read`. ``async with`` (or
    :meth:`aclose`) cancels its fetches deterministically.
    """


class ItemIterator(_PagerIterator[T]):
    """One pass over a listing, item by item; returned by ``aiter(pager)`` and
    :meth:`AsyncPager.items`. Same per-pass attributes as :class:`PageIterator`."""


class AsyncPager(Listing[T, Page[T], _PageStream[T]]):
    """A lazy listing: iterate it for items, or :meth:`pages` for pages.

    Nothing is fetched until iteration starts; each iteration is a fresh pass,
    with its own state on the iterator it returns. Items come strictly in page
    order while later pages load concurrently.

    Example::

        pager = client.campaign_participants(42, 7, page_size=500)
        async with pager:                        # cancels fetches on exit
            async for participant in pager:
                ...
        pages = pager.pages()
        async for page in pages:                 # Page(items, number, size, ...)
            print(page.number, pages.total_elements)
        everything = await pager.collect()

    Attributes:
        path: the URL path listed.
        page_size: page size asked of the server (per page, not a total: see
            ``max_items``).
        page_base: number of the server's first page (0 or 1).
        start_page: API page number a pass starts at by default.
        max_pages: most pages to read, or ``None`` for all.
        max_items: most items to read, or ``None`` for all; the last page is
            trimmed and no page is requested that could not be needed.
        prefetch: most pages fetched or held ahead of the consumer.
        speculate: pages requested together with the first page, before
            ``totalPages`` is known (0 turns it off).
        on_list_change: ``"warn"``, ``"raise"`` or ``"ignore"`` when the list
            changes while read, or a full pass ends short of ``totalElements``.
        on_page: called with each page as it is handed over, or ``None``.
        listing_timeout: seconds allowed for a whole pass, or ``None``.
        total_pages: ``totalPages`` as last reported to any pass (prefer the
            iterator's own attribute: it belongs to one pass).
        total_elements: ``totalElements`` as last reported to any pass.
        page_size_used: page size the server echoed to the latest pass.
        source: what is listed, without secrets (a
            :class:`~flolive._source.ListSource`; ``None`` for a pager not
            made by a Client); used by :meth:`arrow` and :meth:`plan`.
    """

    def __init__(
        self,
        fetch: FetchPage[T],
        *,
        path: str,
        page_size: int,
        page_base: int,
        start_page: int | None = None,
        max_pages: int | None = None,
        max_items: int | None = None,
        prefetch: int,
        speculate: int = 0,
        on_list_change: OnListChange = "warn",
        on_page: OnPage | None = None,
        listing_timeout: float | None = None,
        source: ListSource | None = None,
    ) -> None:
        # Values come checked from the client's settings (flolive._options);
        # what only the pager can know is checked here.
        if start_page is not None and start_page < page_base:
            raise ValueError(f"start_page must be >= page_base ({page_base})")
        super().__init__()
        self._fetch = fetch
        self.path = path
        self.page_size = page_size
        self.page_base = page_base
        self.start_page = page_base if start_page is None else start_page
        self.max_pages = max_pages
        self.max_items = max_items
        self.prefetch = prefetch
        # The first window holds the first page too, and never more than prefetch.
        self.speculate = min(speculate, prefetch - 1)
        self.on_list_change: OnListChange = on_list_change
        self.on_page = on_page
        self.listing_timeout = listing_timeout
        self.total_pages: int | None = None
        self.total_elements: int | None = None
        self.page_size_used: int | None = None
        #: (size asked, size used, totalPages) from the latest first page.
        self._hint: tuple[int, int, int] | None = None
        self.source = source

    def __repr__(self) -> str:
        return (
            f"<AsyncPager {self.path} page_size={self.page_size} "
            f"start_page={self.start_page} max_pages={self.max_pages} max_items={self.max_items}>"
        )

    def __aiter__(self) -> ItemIterator[T]:
        if by_async_for():
            return cast("ItemIterator[T]", self._items(self._stream(None)))
        return self.items()

    def items(self, start_page: int | None = None) -> ItemIterator[T]:
        """A new pass over the items, from ``start_page`` (default: the pager's)."""
        stream = self._stream(start_page)
        return ItemIterator(stream, self._items(stream), self._close)

    def pages(self, start_page: int | None = None) -> PageIterator[T]:
        """A new pass over pages (:class:`~flolive.models.Page`), from
        ``start_page`` (default: the pager's).

        Each page carries its API ``number``: after an interruption, pass
        ``start_page=last_number + 1`` to go on (or use ``err.resume``).
        """
        stream = self._stream(start_page)
        return PageIterator(stream, self._units(stream), self._close)

    def _new_pass(self) -> _PageStream[T]:
        return _PageStream(self, self.start_page)

    def _stream(self, start_page: int | None) -> _PageStream[T]:
        if start_page is None:
            start_page = self.start_page
        elif start_page < self.page_base:
            raise ValueError(f"start_page must be >= page_base ({self.page_base})")
        return self._opened(_PageStream(self, start_page))

    # -- pipelines

    def arrow(self, start_page: int | None = None) -> AsyncIterator[Any]:
        """A new pass of one :class:`pyarrow.RecordBatch` per page, from
        ``start_page`` (default: the pager's); needs the ``arrow`` extra.

        Batches come in page order, fetched concurrently as for :meth:`pages`,
        with the same resume (``start_page=err.resume.page``) and cleanup
        (``async with pager``, ``break``). Schemas: :mod:`flolive.arrow`.
        """
        if self.source is None:
            raise ValueError("arrow() needs the item type: use a pager made by a Client")
        return self._arrow(self.pages(start_page), self.source.item_type)

    async def plan(self, pages_per_part: int = 50) -> list[Part]:
        """Split this listing into picklable :class:`~flolive.parts.Part` s of
        ``pages_per_part`` pages (default 50), reading the first page once.

        Honours ``start_page`` and ``max_pages``. An empty list gives one part
        (its one page is empty), so a table built from the plan still has its
        columns. Parts carry no secret; read one anywhere with
        :func:`flolive.parts.read_part`.

        Raises:
            ValueError: ``pages_per_part`` is not a positive int, the pager has
                ``max_items``, or it was not made by a :class:`~flolive.Client`.
        """
        if isinstance(pages_per_part, bool) or not isinstance(pages_per_part, int):
            raise ValueError(f"pages_per_part must be a positive int, got {pages_per_part!r}")
        if pages_per_part < 1:
            raise ValueError(f"pages_per_part must be a positive int, got {pages_per_part!r}")
        if self.max_items is not None:
            raise ValueError("plan() splits whole pages: limit it with max_pages, not max_items")
        source = self.source
        if source is None:
            raise ValueError("plan() needs the listing's source: use a pager made by a Client")
        start = self.start_page
        first = await self._fetch(start, self.page_size, None)
        if first.number != start:
            raise PageMismatch(
                start, first.number, self.page_base, context=RequestContext("GET", self.path)
            )
        size = first.size if first.size > 0 else self.page_size
        self.total_pages = first.total_pages
        self.total_elements = first.total_elements
        self.page_size_used = size
        # totalPages is trusted, but never beyond what totalElements can fill: a
        # server claiming 10**9 pages must not make 10**9 / pages_per_part parts.
        pages = min(first.total_pages, -(-first.total_elements // size))
        last = self.page_base + pages - 1
        if self.max_pages is not None:
            last = min(last, start + self.max_pages - 1)
        last = max(last, start)
        return [
            Part(
                source=source,
                index=i,
                first_page=a,
                last_page=min(a + pages_per_part - 1, last),
                page_size=size,
                page_base=self.page_base,
                total_pages=first.total_pages,
                total_elements=first.total_elements,
            )
            for i, a in enumerate(range(start, last + 1, pages_per_part))
        ]
