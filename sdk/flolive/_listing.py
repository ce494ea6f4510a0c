"""The listing core: one pass, its iterators and its listing, written once.

A listing (:class:`~flolive.AsyncPager`, :class:`~flolive.AsyncCursor`) is
lazy: each iteration is a new *pass*, a :class:`Pass` made by the listing's
strategy (pages fetched concurrently, or cursor chunks one after another).
Everything else is here, for both:

* the pass's bookkeeping: opened once, closed once (``RuntimeError`` after),
  its deadline started on the first step, ``items_read`` and ``pages_read``,
  ``total_elements``, the hand-over hook (``on_page``) and the count check at
  the end (a read that ends short of the count the server gave);
* the iterators: items or units (pages, chunks) from one async generator
  each, so an item costs one generator step and no extra coroutine; per-pass
  state read from the pass; ``async with`` and ``aclose()`` close it;
* the listing's shell: the set of open passes (``async with listing:``
  closes them all), ``items()``, ``pages()``, ``collect()``.

Cleanup: each pass owns plain asyncio tasks, cancelled and awaited in its
:meth:`Pass.aclose`; a generator dropped by ``break`` is closed by the event
loop's finalizer, and ``async with`` closes it deterministically.
"""

from __future__ import annotations

import asyncio
import operator
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ._closing import AsyncClosing
from ._types import OnListChange, OnPage
from .errors import FloliveError, ListChangedWarning, ListIncompleteWarning

__all__ = ["Listing", "Pass", "PassIterator", "Unit"]

T = TypeVar("T")
U = TypeVar("U", bound="Unit[Any]")
X = TypeVar("X")


class Unit(Protocol[T]):
    """What a pass hands over: a page or a chunk, with its items."""

    @property
    def items(self) -> list[T]: ...


class Pass(Generic[U]):
    """One pass over a listing. A strategy subclasses it and writes
    :meth:`_step` (the next unit, counted by the strategy's own rules, or
    ``None`` at the end) and the tasks it owns (:meth:`_tasks`)."""

    #: Words for messages: "listing" or "read".
    kind = "listing"

    def __init__(
        self,
        *,
        path: str,
        listing_timeout: float | None,
        on_list_change: OnListChange,
        on_page: OnPage | None = None,
        items_read: int = 0,
        total_elements: int | None = None,
    ) -> None:
        self.path = path
        self._listing_timeout = listing_timeout
        self._on_list_change = on_list_change
        self._on_page = on_page
        self._deadline: float | None = None
        self._started = False
        self._closed = False
        #: Per-pass state, read through the iterators.
        self.items_read = items_read
        self.pages_read = 0
        self.total_elements = total_elements

    async def next(self) -> U | None:
        """The next unit, in order, or ``None`` when the pass is over."""
        if self._closed:
            raise RuntimeError(f"this {self.kind} was closed by aclose()")
        if not self._started:
            self._started = True
            if self._listing_timeout is not None:
                self._deadline = asyncio.get_running_loop().time() + self._listing_timeout
            self._begin()
        unit = await self._step()
        if unit is None:
            return None
        self.pages_read += 1
        on_page = self._on_page
        if on_page is not None:
            on_page(unit)  # type: ignore[arg-type]
        return unit

    def _begin(self) -> None:
        """Start the pass (send its first requests); the deadline is set."""

    async def _step(self) -> U | None:
        raise NotImplementedError

    def _tasks(self) -> list[asyncio.Task[Any]]:
        """Take every task this pass still owns (they are cancelled)."""
        return []

    def _short(self, expected: int, error: Callable[[], FloliveError], message: str) -> None:
        """A read that ended with fewer items than ``expected``: what
        ``on_list_change`` says (raise ``error()``, warn ``message``, or nothing)."""
        if self.items_read >= expected:
            return
        if self._on_list_change == "raise":
            raise error()
        if self._on_list_change == "warn":
            warnings.warn(ListIncompleteWarning(f"{self.path}: {message}"), stacklevel=6)

    def _changed(self, message: str) -> None:
        """The list changed while read, with ``on_list_change="warn"``."""
        warnings.warn(ListChangedWarning(f"{self.path}: {message}"), stacklevel=6)

    async def aclose(self) -> None:
        """Stop the pass and cancel its tasks; idempotent."""
        self._closed = True
        tasks = self._tasks()
        for t in tasks:
            t.cancel()
        if tasks:
            # Awaiting them retrieves their results (no "exception was never
            # retrieved") and guarantees their connections are released.
            await asyncio.gather(*tasks, return_exceptions=True)


P = TypeVar("P", bound=Pass[Any])


class PassIterator(AsyncClosing, Generic[X, P]):
    """One pass, as items or as units, with the pass's state."""

    def __init__(
        self,
        pass_: P,
        gen: AsyncGenerator[X, None],
        close: Callable[[P], Awaitable[None]],
    ) -> None:
        self._pass = pass_
        self._gen = gen
        self._close = close
        self._step = gen.__anext__

    def __aiter__(self) -> PassIterator[X, P]:
        return self

    if TYPE_CHECKING:

        def __anext__(self) -> Awaitable[X]: ...

    else:
        # `async for` looks __anext__ up on the type and calls what its
        # descriptor gives: a property whose getter is C code handing over the
        # generator's own bound __anext__, so an item costs no Python frame.
        __anext__ = property(operator.attrgetter("_step"))

    @property
    def total_elements(self) -> int | None:
        """The item count the server last reported (``None`` before the first unit)."""
        return self._pass.total_elements

    @property
    def items_read(self) -> int:
        """Items handed over by this pass so far."""
        return self._pass.items_read

    @property
    def pages_read(self) -> int:
        """Pages (or chunks) handed over by this pass so far."""
        return self._pass.pages_read

    async def aclose(self) -> None:
        """Stop this pass and cancel its fetches. Idempotent."""
        await self._gen.aclose()
        await self._close(self._pass)  # a pass never started has no generator frame


class Listing(AsyncClosing, Generic[T, U, P]):
    """The shell of a lazy listing: the passes it opened, and the ways to run one."""

    def __init__(self) -> None:
        # Passes, not generators: a generator dropped by `async for` loses its
        # weak references before the loop's finalizer closes it, so a listing
        # holding generators could not close them in __aexit__.
        self._open: set[P] = set()

    def _opened(self, pass_: P) -> P:
        self._open.add(pass_)
        return pass_

    async def _close(self, pass_: P) -> None:
        self._open.discard(pass_)
        await pass_.aclose()

    async def _units(self, pass_: P) -> AsyncGenerator[U, None]:
        try:
            while (unit := await pass_.next()) is not None:
                yield unit
        finally:
            await self._close(pass_)

    async def _items(self, pass_: P) -> AsyncGenerator[T, None]:
        try:
            while (unit := await pass_.next()) is not None:
                for item in unit.items:
                    yield item
        finally:
            await self._close(pass_)

    async def collect(self) -> list[T]:
        """Read the whole listing into a list (memory grows with the list)."""
        out: list[T] = []
        pass_ = self._opened(self._new_pass())
        try:
            while (unit := await pass_.next()) is not None:
                out.extend(unit.items)
        finally:
            await self._close(pass_)
        return out

    def _new_pass(self) -> P:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Stop every pass of this listing still open and cancel its fetches."""
        for pass_ in list(self._open):
            await self._close(pass_)

    @staticmethod
    def _arrow(units: AsyncIterator[Any], item_type: type[Any] | None) -> AsyncIterator[Any]:
        # flolive.arrow sits beside the models, below this core; it imports
        # pyarrow, so only on use.
        from .arrow import arrow_batches

        return arrow_batches(units, item_type)
