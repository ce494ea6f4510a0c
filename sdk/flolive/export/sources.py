"""What an export reads: one source per kind of listing, behind one loop.

A source knows its job (what a checkpoint must match), its row type, the
checkpoint of a fresh start, and how to read on from a checkpoint: it yields
:class:`Step` s (the rows of one page, chunk or identifier, and the position
after them) and says what the server reported (totals, page size). The loop
in :mod:`.jobs` writes and records steps the same way for every source.

- :class:`PagedSource`: a paged listing (participants, subscribers), read by
  the SDK's concurrent pager from the recorded page.
- :class:`CursorSource`: the point-in-time cursor, resumed with the
  :class:`~flolive.CursorToken` recorded.
- :class:`LabelSource`: many subscribers' labels: one SDK pager per
  identifier, a few of them in flight at once, written in input order.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..client import Client, CursorOptions
from ..cursor import AsyncCursor, CursorToken
from ..errors import AuthenticationError, FloliveError, InvalidCredentials, TransportError
from ..models import SubscriberIdType
from ..pagination import AsyncPager
from .checkpoint import Checkpoint
from .errors import InvalidIdentifier
from .identifiers import IdentifierFailure, check_identifier, failure_of
from .writers import SubscriberLabel

__all__ = ["CursorSource", "LabelSource", "PagedSource", "Source", "Step"]

#: What a label export's ``on_failure`` gets for a failed identifier.
LabelError = FloliveError | InvalidIdentifier


@dataclass(frozen=True, slots=True)
class Step:
    """One unit an export writes and records.

    Attributes:
        rows: the rows to write.
        next: the position after it (page number, chunk number, identifier index).
        expected: items the server said this step holds (label exports), else 0.
        cursor: a cursor read's position after it, else ``None``.
        failure: a failed identifier, else ``None``.
    """

    rows: Sequence[Any]
    next: int
    expected: int = 0
    cursor: CursorToken | None = None
    failure: IdentifierFailure | None = None
    error: LabelError | None = None


class Source(Protocol):
    """A listing an export reads (see the module's doc)."""

    job: dict[str, str | int]
    row_type: type[Any]
    #: What a step is called in the result (``"pages"``, ``"chunks"``, ``"identifiers"``).
    unit: str
    #: Whether the result's ``expected`` is the sum of the steps' (label exports).
    sums_expected: bool
    #: (items, steps) the server reported, once known.
    totals: tuple[int | None, int | None] | None
    #: The page size to record (the server's echo), once known.
    page_size: int | None
    #: Items the server said the listing holds, after the read.
    expected: int | None

    def initial(self, fmt: str) -> Checkpoint:
        """The checkpoint of a fresh start."""
        ...

    def read(self, ckpt: Checkpoint | None, prior: Checkpoint | None) -> AsyncIterator[Step]:
        """The steps from ``ckpt`` on (``None``: a stream, from the start);
        ``prior`` is ``ckpt`` if it records progress."""
        ...

    def resumed_at(self, prior: Checkpoint) -> int | None:
        """Where a run resuming from ``prior`` starts."""
        ...

    @property
    def page_base(self) -> int | None:
        """The page base read with (``None`` for a cursor)."""
        ...


class _Reported:
    """What the server reported to a source, none of it known before the read."""

    totals: tuple[int | None, int | None] | None = None
    page_size: int | None = None
    expected: int | None = None


class PagedSource(_Reported):
    """A paged listing: ``make_pager(page_size, page_base, start_page)``."""

    unit = "pages"
    sums_expected = False

    def __init__(
        self,
        make_pager: Callable[[int, int, int], AsyncPager[Any]],
        row_type: type[Any],
        job: dict[str, str | int],
        page_size: int,
        page_base: int,
    ) -> None:
        self.job = job
        self.row_type = row_type
        self._make_pager = make_pager
        self._size = page_size
        self._base = page_base

    @property
    def page_base(self) -> int:
        return self._base

    def initial(self, fmt: str) -> Checkpoint:
        return Checkpoint(
            job=self.job, format=fmt, page_size=self._size, page_base=self._base, next=self._base
        )

    def resumed_at(self, prior: Checkpoint) -> int:
        return prior.next

    async def read(self, ckpt: Checkpoint | None, prior: Checkpoint | None) -> AsyncIterator[Step]:
        if ckpt is not None:
            self._size, self._base = ckpt.page_size, ckpt.page_base
        start = ckpt.next if ckpt is not None else self._base
        self.page_size = self._size
        pager = self._make_pager(self._size, self._base, start)
        async with pager, pager.pages() as in_order:
            async for page in in_order:
                if self.totals is None:
                    self.page_size = in_order.page_size or self._size
                    self.totals = (in_order.total_elements, in_order.total_pages)
                yield Step(page.items, page.number + 1)
        self.expected = in_order.total_elements


class CursorSource(_Reported):
    """The point-in-time cursor of a customer's SIMs (``details``: in detail)."""

    unit = "chunks"
    sums_expected = False
    page_base = None

    def __init__(
        self,
        client: Client,
        customer_id: int,
        row_type: type[Any],
        *,
        details: bool,
        chunk_size: int,
        keep_alive: int,
    ) -> None:
        self.job: dict[str, str | int] = {
            "kind": "subscriber-details" if details else "subscribers",
            "customer": customer_id,
            "read": "cursor",
        }
        self.row_type = row_type
        self._read = client.all_subscriber_details if details else client.all_subscribers
        self._customer = customer_id
        self._size = chunk_size
        self._keep_alive = keep_alive

    def initial(self, fmt: str) -> Checkpoint:
        return Checkpoint(job=self.job, format=fmt, page_size=self._size, page_base=0, next=0)

    def resumed_at(self, prior: Checkpoint) -> int | None:
        return prior.cursor.chunk if prior.cursor is not None else None

    async def read(self, ckpt: Checkpoint | None, prior: Checkpoint | None) -> AsyncIterator[Step]:
        size = ckpt.page_size if ckpt is not None else self._size
        self.page_size = size
        # A checkpoint that records no progress was taken before the first
        # chunk: the read starts afresh, with a session of its own.
        # (A checkpoint with progress but no position is refused when loaded.)
        token = prior.cursor if prior else None
        # No read-ahead: a kill would leave a call for the next chunk sent but
        # not recorded, and a server that moves its session on per call (the
        # vendor does not say) would then skip that chunk on resume.
        options: CursorOptions = {"read_ahead": False}
        if token is not None:
            options["resume"] = token
        cursor: AsyncCursor[Any] = self._read(
            self._customer, chunk_size=size, keep_alive=self._keep_alive, **options
        )
        async with cursor, cursor.pages() as chunks:
            async for chunk in chunks:
                if self.totals is None:
                    total = chunks.total_elements
                    self.totals = (total, None if total is None else -(-total // size))
                yield Step(chunk.items, chunk.number + 1, cursor=chunks.position)
            self.expected = chunks.total_elements


#: Errors that stop a label export whichever identifier they come from: the
#: credentials or the connection, not the identifier, failed.
_FATAL = (AuthenticationError, InvalidCredentials, TransportError)


class LabelSource:
    """The labels of many subscribers, concurrently, in input order.

    Every identifier is checked against its type's alphabet and length before
    any request; one that is malformed, unknown, or fails after the SDK's
    retries is a failure (passed to ``on_failure``, which may raise to stop
    the export) and the export goes on. Errors of the credentials or the
    connection stop it.
    """

    unit = "identifiers"
    sums_expected = True

    def __init__(
        self,
        client: Client,
        id_type: str,
        values: Sequence[str],
        *,
        page_size: int | None,
        on_failure: Callable[[IdentifierFailure, LabelError], None] | None,
    ) -> None:
        self.id_type = SubscriberIdType(str(id_type).lower()).value
        self.values = values
        digest = hashlib.sha256("\n".join(values).encode()).hexdigest()[:16]
        self.job: dict[str, str | int] = {"kind": "labels", "type": id_type, "values": digest}
        self.row_type = SubscriberLabel
        self.totals: tuple[int | None, int | None] | None = (None, len(values))
        self.page_size: int | None = 0
        self.expected: int | None = None
        self._client = client
        self._page_size = page_size
        self._on_failure = on_failure
        self._window = 2 * int(client.settings["max_concurrency"])
        self.invalid: dict[int, InvalidIdentifier] = {}
        for i, value in enumerate(values):
            try:
                check_identifier(self.id_type, value)
            except InvalidIdentifier as exc:
                self.invalid[i] = exc

    @property
    def page_base(self) -> int:
        return int(self._client.settings["page_base"])

    def initial(self, fmt: str) -> Checkpoint:
        return Checkpoint(job=self.job, format=fmt, page_size=0, page_base=0, next=0)

    def resumed_at(self, prior: Checkpoint) -> int:
        return prior.next

    async def _one(self, index: int) -> Step:
        value = self.values[index]
        error: LabelError | None = self.invalid.get(index)
        if error is None:
            # A subscriber's labels are mostly one page: a speculative first
            # window would cost three wasted requests per identifier.
            options: dict[str, Any] = {"speculate": 0}
            if self._page_size:
                options["page_size"] = self._page_size
            pager = self._client.subscriber_labels(self.id_type, value, **options)
            try:
                labels = await pager.collect()
            except _FATAL:
                raise
            except FloliveError as exc:
                error = exc
            else:
                rows = [
                    SubscriberLabel(self.id_type, value, lb.id, lb.name, lb.creation_time)
                    for lb in labels
                ]
                return Step(rows, index + 1, expected=pager.total_elements or 0)
        return Step((), index + 1, failure=failure_of(index, value, error), error=error)

    async def read(self, ckpt: Checkpoint | None, prior: Checkpoint | None) -> AsyncIterator[Step]:
        todo = iter(range(ckpt.next if ckpt is not None else 0, len(self.values)))
        tasks: collections.deque[asyncio.Task[Step]] = collections.deque()
        try:
            while True:
                for index in itertools.islice(todo, self._window - len(tasks)):
                    tasks.append(asyncio.create_task(self._one(index)))
                if not tasks:
                    return
                step = await tasks[0]
                tasks.popleft()
                if step.failure is not None and self._on_failure is not None:
                    assert step.error is not None
                    self._on_failure(step.failure, step.error)
                yield step
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
