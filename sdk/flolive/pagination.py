"""The streaming pager: concurrent page fetches, items in page order, bounded memory.

How a listing runs:

1. The first page is fetched on its own; it tells the page size the server
   really used (servers cap it) and ``totalPages``.
2. The remaining pages are fetched concurrently, each in its own task, behind
   the client-wide limiter. At most ``prefetch`` pages are fetched or held
   ahead of the consumer: a task is only created when the consumer moves on,
   so a slow consumer slows fetching, and creating the task is what reserves
   window space. The task then queues for a limiter slot, so window space is
   never awaited while a slot is held.
3. Pages are handed over strictly in page order.

Cleanup: plain asyncio tasks are cancelled and awaited in ``finally``, on
``break``, on a consumer error, on cancellation and on a page error, so no task,
connection or warning leaks. (anyio task groups inside async generators break
on ``break`` and across tasks, and would wrap errors in an ``ExceptionGroup``.)
"""

from __future__ import annotations

import asyncio
import functools
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar

from ._source import ListSource
from .errors import (
    ListChanged,
    ListChangedWarning,
    ListIncomplete,
    PageMismatch,
    RequestContext,
    incomplete_message,
)
from .models import Page

__all__ = ["AsyncPager", "OnListChange"]

T = TypeVar("T")

OnListChange = Literal["warn", "raise", "ignore"]
"""What a pager does when ``totalElements`` changes while a list is read."""

FetchPage = Callable[[int, int, float | None], Coroutine[Any, Any, Page[T]]]
"""``fetch(number, size, deadline) -> Page``; raises the typed error of that page."""


class _PageStream(Generic[T]):
    """One pass over a listing. Owns its page tasks; :meth:`aclose` cancels them."""

    def __init__(self, pager: AsyncPager[T]) -> None:
        self._pager = pager
        self._fetch = pager._fetch
        self._next = pager.start_page
        self._last: int | None = None  # None until the first page is read
        self._cap = pager.start_page + pager.max_pages - 1 if pager.max_pages is not None else None
        self._size = pager.page_size
        self._scheduled = pager.start_page
        self._tasks: dict[int, asyncio.Task[Page[T]]] = {}
        self._total_elements: int | None = None
        self._latest_total = 0
        self._read = 0  # items this pass handed over
        self._before = 0  # items the pages before start_page hold (known after page one)
        self._finished = False
        self._drift_reported = False
        self._deadline: float | None = None
        self._closed = False

    async def next(self) -> Page[T] | None:
        if self._closed:
            raise RuntimeError("this listing was closed by pager.aclose()")
        number = self._next
        if self._last is None:
            if self._pager.listing_timeout is not None:
                self._deadline = asyncio.get_running_loop().time() + self._pager.listing_timeout
            page = await self._fetch(number, self._size, self._deadline)
            self._check_echo(page, number)
            if page.size > 0:
                self._size = page.size  # the server may cap the size asked for
            self._total_elements = page.total_elements
            self._pager.total_pages = page.total_pages
            self._pager.total_elements = page.total_elements
            self._pager.page_size_used = self._size
            self._before = (number - self._pager.page_base) * self._size
            self._last = max(number, self._end_of(page))
            self._next = number + 1
            self._took(page, number)
            self._schedule()  # fan out now, while the consumer reads this page
            return page
        if number > self._last:
            self._finish()
            return None
        task = self._tasks.pop(number)
        page = await task
        self._check_echo(page, number)
        self._check_drift(page, number)
        self._next = number + 1
        self._took(page, number)
        self._schedule()
        return page

    def _took(self, page: Page[T], number: int) -> None:
        self._read += len(page.items)
        self._latest_total = page.total_elements
        if not page.items and self._before + self._read >= page.total_elements:
            # Everything the server counted has been read and pages come back
            # empty: the list ends here, whatever totalPages claims (a server
            # saying 10**9 pages for 3 items would otherwise be read forever).
            # An empty page *before* that never ends a list: pages may be
            # empty while the list is being changed.
            self._end_at(number)

    def _end_at(self, number: int) -> None:
        self._last = number if self._last is None else min(self._last, number)
        for n, t in self._tasks.items():
            if n > number:
                t.cancel()

    def _finish(self) -> None:
        """A pass that read to the end of the list: check it got all of it."""
        if self._finished:
            return
        self._finished = True
        pager = self._pager
        full = pager.start_page == pager.page_base and (
            self._cap is None or (self._last is not None and self._last < self._cap)
        )
        if not full or self._read >= self._latest_total or pager.on_list_change == "ignore":
            return
        if pager.on_list_change == "raise":
            raise ListIncomplete(
                self._latest_total,
                self._read,
                pager.page_base,
                context=RequestContext("GET", pager.path),
            )
        warnings.warn(
            ListChangedWarning(
                f"{pager.path}: "
                + incomplete_message(self._latest_total, self._read, pager.page_base)
            ),
            stacklevel=4,
        )

    def _end_of(self, page: Page[T]) -> int:
        last = self._pager.page_base + page.total_pages - 1
        return last if self._cap is None else min(last, self._cap)

    def _schedule(self) -> None:
        # The consumer holds page _next - 1; keep [_next, _next + prefetch) in hand.
        assert self._last is not None
        high = min(self._last, self._next + self._pager.prefetch - 1)
        while self._scheduled < high:
            self._scheduled += 1
            n = self._scheduled
            task = asyncio.create_task(self._fetch(n, self._size, self._deadline))
            task.add_done_callback(functools.partial(self._on_done, n))
            self._tasks[n] = task

    def _on_done(self, failed: int, task: asyncio.Task[Page[T]]) -> None:
        if task.cancelled() or task.exception() is None or self._closed:
            return
        # A failed page ends the listing there: fetches after it are wasted.
        self._end_at(failed)

    def _check_echo(self, page: Page[T], number: int) -> None:
        if page.number != number:
            raise PageMismatch(
                number,
                page.number,
                self._pager.page_base,
                context=RequestContext("GET", self._pager.path, number),
            )

    def _check_drift(self, page: Page[T], number: int) -> None:
        if page.total_elements == self._total_elements:
            return
        mode = self._pager.on_list_change
        if mode == "raise":
            raise ListChanged(
                self._total_elements or 0,
                page.total_elements,
                context=RequestContext("GET", self._pager.path, number),
            )
        if mode == "warn" and not self._drift_reported:
            self._drift_reported = True
            warnings.warn(
                ListChangedWarning(
                    f"{self._pager.path}: totalElements changed from {self._total_elements} "
                    f"to {page.total_elements} at page {number} while the list was read; "
                    "items may be skipped or repeated at page boundaries"
                ),
                stacklevel=4,
            )
        self._pager.total_pages = page.total_pages
        self._pager.total_elements = page.total_elements
        # A list that grew has more pages: read them too, rather than stop short.
        assert self._last is not None
        if self._cap is None or self._last < self._cap:
            self._last = max(self._last, self._end_of(page))

    async def aclose(self) -> None:
        self._closed = True
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        if tasks:
            # Awaiting them retrieves their results, so no "exception was never
            # retrieved" noise, and guarantees their connections are released.
            await asyncio.gather(*tasks, return_exceptions=True)


class AsyncPager(Generic[T]):
    """A lazy listing: iterate it for items, or :meth:`pages` for pages.

    Nothing is fetched until iteration starts; each iteration is a fresh pass.
    Items come strictly in page order while later pages load concurrently.

    Example::

        pager = client.campaign_participants(42, 7, page_size=500)
        async with pager:                        # cancels fetches on exit
            async for participant in pager:
                ...
        async for page in pager.pages():         # Page(items, number, size, ...)
            ...
        everything = await pager.collect()

    Attributes:
        path: the URL path listed.
        page_size: page size asked of the server.
        page_base: number of the server's first page (0 or 1).
        start_page: API page number the listing starts at (to resume after an
            error, pass ``start_page=err.page``).
        max_pages: most pages to read, or ``None`` for all.
        prefetch: most pages fetched or held ahead of the consumer.
        on_list_change: ``"warn"``, ``"raise"`` or ``"ignore"`` when the list
            changes while read.
        listing_timeout: seconds allowed for a whole pass, or ``None``.
        total_pages: ``totalPages`` as last reported, once a page was read.
        total_elements: ``totalElements`` as last reported, once a page was read.
        page_size_used: page size the server echoed on the first page.
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
        prefetch: int,
        on_list_change: OnListChange = "warn",
        listing_timeout: float | None = None,
        source: ListSource | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        if page_base not in (0, 1):
            raise ValueError("page_base must be 0 or 1")
        if start_page is not None and start_page < page_base:
            raise ValueError(f"start_page must be >= page_base ({page_base})")
        if max_pages is not None and max_pages < 1:
            raise ValueError("max_pages must be >= 1")
        if prefetch < 1:
            raise ValueError("prefetch must be >= 1")
        if on_list_change not in ("warn", "raise", "ignore"):
            raise ValueError("on_list_change must be 'warn', 'raise' or 'ignore'")
        self._fetch = fetch
        self.path = path
        self.page_size = page_size
        self.page_base = page_base
        self.start_page = page_base if start_page is None else start_page
        self.max_pages = max_pages
        self.prefetch = prefetch
        self.on_list_change: OnListChange = on_list_change
        self.listing_timeout = listing_timeout
        self.total_pages: int | None = None
        self.total_elements: int | None = None
        self.page_size_used: int | None = None
        # Streams, not generators: a generator dropped by `async for` loses its
        # weak references before the loop's finalizer closes it, so a pager
        # holding generators could not close them in __aexit__.
        self._open: set[_PageStream[T]] = set()
        self.source = source

    def __repr__(self) -> str:
        return (
            f"<AsyncPager {self.path} page_size={self.page_size} "
            f"start_page={self.start_page} max_pages={self.max_pages}>"
        )

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    def pages(self) -> AsyncIterator[Page[T]]:
        """Iterate pages (:class:`~flolive.models.Page`) instead of items.

        Each page carries its API ``number``: after an interruption, pass
        ``start_page=last_number + 1`` to go on.
        """
        return self._pages()

    async def collect(self) -> list[T]:
        """Read the whole listing into a list (memory grows with the list)."""
        out: list[T] = []
        async for page in self._pages():
            out.extend(page.items)
        return out

    def _stream(self) -> _PageStream[T]:
        stream = _PageStream(self)
        self._open.add(stream)
        return stream

    async def _close(self, stream: _PageStream[T]) -> None:
        self._open.discard(stream)
        await stream.aclose()

    async def _pages(self) -> AsyncGenerator[Page[T], None]:
        stream = self._stream()
        try:
            while (page := await stream.next()) is not None:
                yield page
        finally:
            await self._close(stream)

    async def _items(self) -> AsyncGenerator[T, None]:
        stream = self._stream()
        try:
            while (page := await stream.next()) is not None:
                for item in page.items:
                    yield item
        finally:
            await self._close(stream)

    async def aclose(self) -> None:
        """Stop every pass of this pager still open and cancel its fetches."""
        for stream in list(self._open):
            await self._close(stream)

    async def __aenter__(self) -> AsyncPager[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- pipelines (flolive.arrow, flolive.dask): imported on use, so pyarrow
    # and dask stay out of the core's imports.

    def arrow(self) -> AsyncIterator[Any]:
        """Iterate one :class:`pyarrow.RecordBatch` per page (needs the ``arrow`` extra).

        Pages come in order, fetched concurrently as for :meth:`pages`, with
        the same ``start_page`` resume and cleanup. Schemas: :mod:`flolive.arrow`.
        """
        from .arrow import arrow_batches

        if self.source is None:
            raise ValueError("arrow() needs the item type: use a pager made by a Client")
        return arrow_batches(self.pages(), self.source.item_type)

    async def plan(self, pages_per_part: int = 50) -> list[Any]:
        """Split this listing into picklable :class:`flolive.dask.Part` s of
        ``pages_per_part`` pages (default 50), reading the first page once.

        Parts carry no secret; read one anywhere with :func:`flolive.dask.read_part`.
        """
        from .dask import plan_parts

        return await plan_parts(self, pages_per_part)
