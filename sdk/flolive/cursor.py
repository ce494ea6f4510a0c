"""The point-in-time cursor: every record of a large set, chunk after chunk.

floLIVE serves its biggest lists (every SIM of a customer) through a cursor
rather than pages: the first call opens a session (``pitId`` empty) and
answers the first chunk with a ``pitId``; each further call sends the
``pitId`` of the answer before it. A chunk cannot be asked for before the one
before it has arrived, so a read is sequential by nature: it cannot fan out
like :class:`~flolive.AsyncPager`. What it can do is overlap the network with
the consumer: with ``read_ahead`` (the default) the next chunk is requested as
soon as a chunk is handed over, so a consumer that writes each chunk to disk
waits for the network only when the network is the slower of the two.

How a read ends (the vendor does not say): on an empty chunk, or as soon as
the records read reach ``totalRecordAmount`` (no further call is made then).
A read that ends on an empty chunk short of ``totalRecordAmount`` is reported
like a pass that ended short: a :class:`~flolive.ListIncompleteWarning`, or
:class:`~flolive.CursorIncomplete` with ``on_list_change="raise"``.

Retries: a chunk call is a POST, but a read: sending the same ``pitId`` again
asks for the same chunk, so the transport retries it like a GET (transient
errors, with the client's :class:`~flolive.RetryPolicy`). If a server moved its
session past a chunk whose answer was lost, the retry would skip that chunk;
the count check above catches this. ``retry=RetryPolicy.disabled()`` turns
retries off.

A session lives ``keep_alive`` minutes. A call that continues a session and
fails with an error that is not transient (see :func:`session_lost`) raises
:class:`~flolive.CursorExpired`: the read must start over.

Like the pager, this module knows only a ``fetch`` callable; the client builds
it. Cleanup follows the pager's rules: the read-ahead is a plain asyncio task,
cancelled and awaited on ``break``, on errors and on cancellation.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterator,
)
from typing import Any, Generic, TypeVar

import msgspec

from ._closing import AsyncClosing
from .errors import (
    APIError,
    CursorExpired,
    CursorIncomplete,
    DecodeError,
    FloliveError,
    HTTPStatusError,
    ListIncompleteWarning,
    RequestContext,
    cursor_incomplete_message,
)
from .models import Chunk, CursorEnvelope
from .pagination import OnListChange

__all__ = [
    "AsyncCursor",
    "CursorItemIterator",
    "CursorPageIterator",
    "CursorToken",
    "FetchChunk",
    "session_lost",
]

T = TypeVar("T")

FetchChunk = Callable[[str, int, float | None], Coroutine[Any, Any, CursorEnvelope[T]]]
"""``fetch(pit_id, chunk_number, deadline) -> answer``; ``pit_id`` ``""`` opens
a session. Raises the typed error of that call."""

#: HTTP statuses (without an error envelope) that, on a call continuing a
#: session, mean the server no longer knows its ``pitId``.
SESSION_LOST_STATUSES = frozenset({400, 404, 410})


def session_lost(error: FloliveError) -> bool:
    """Whether ``error``, raised by a call that continues a session, means the
    session is gone (which code the vendor uses for that is not documented).

    True for an error envelope whose code has no other known meaning (plain
    :class:`~flolive.APIError`, not ``CUSTOMER_1002`` nor ``GLOBAL_1001``, ...)
    and for HTTP 400, 404 and 410 without an envelope: the same request with
    the same customer and size succeeded a chunk earlier, so what changed is
    the session. Transient errors (5xx, 429, transport errors) are not: they
    are retried, and raised as they are once retries run out.
    """
    if isinstance(error, APIError):
        return type(error) is APIError
    return type(error) is HTTPStatusError and error.http_status in SESSION_LOST_STATUSES


class CursorToken(msgspec.Struct, frozen=True, kw_only=True):
    """Where a cursor read can go on while its session lives: ``position`` of
    a read's iterator after each chunk. Small, picklable, JSON-encodable with
    msgspec; pass it back as ``resume=`` to a read of the same path. A token
    whose session expired makes the read raise :class:`~flolive.CursorExpired`
    at once.

    Attributes:
        path: the URL path of the read.
        pit_id: the ``pitId`` to send for the next chunk.
        chunk: the number of the next chunk.
        records_read: records handed over before the next chunk.
        total: ``totalRecordAmount`` as last reported, or ``None``.
        skip: records of the next chunk already handed over (a read stopped
            by ``max_items`` inside a chunk asks for that chunk again).
    """

    path: str
    pit_id: str
    chunk: int
    records_read: int
    total: int | None = None
    skip: int = 0


class _ChunkStream(Generic[T]):
    """One read: one session (or the rest of one, from a token). Owns at most
    one request task, the read-ahead; :meth:`aclose` cancels it."""

    def __init__(self, cursor: AsyncCursor[T], start: CursorToken | None) -> None:
        self._cursor = cursor
        self._fetch = cursor._fetch
        self._pit_id = start.pit_id if start else ""
        self._number = start.chunk if start else 0
        self._task: asyncio.Task[CursorEnvelope[T]] | None = None
        self._deadline: float | None = None
        self._started = False
        self._done = False
        self._closed = False
        self._broken: FloliveError | None = None
        #: Per-read state, read through the iterators.
        self.items_read = start.records_read if start else 0
        self._skip = start.skip if start else 0
        self._first = self.items_read  # where this read started counting
        self.total_elements = start.total if start else None
        self.pages_read = 0
        self.position = start
        if start is not None and start.total is not None and start.records_read >= start.total:
            self._done = True  # a token taken after the last chunk: nothing left

    async def next(self) -> Chunk[T] | None:
        if self._closed:
            raise RuntimeError("this read was closed by cursor.aclose()")
        if not self._started:
            self._started = True
            timeout = self._cursor.listing_timeout
            if timeout is not None:
                self._deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self._broken is not None:
                self._done = True
                broken, self._broken = self._broken, None
                raise broken
            if self._done:
                return None
            number = self._number
            task, self._task = self._task, None
            try:
                env = await (task if task is not None else self._get(self._pit_id, number))
            except BaseException:
                self._done = True
                raise
            chunk = self._took(env, number)
            if chunk is not None:
                return chunk
            # The read ended, or every record of this chunk had been handed
            # over before a resume: then on to the next chunk.

    def _took(self, env: CursorEnvelope[T], number: int) -> Chunk[T] | None:
        cursor = self._cursor
        records = env.content
        assert isinstance(records, list)  # the codec refuses anything else
        if env.total_record_amount is not None:
            self.total_elements = env.total_record_amount
        total = self.total_elements
        if not records:
            self._done = True
            if total is not None and self.items_read < total:
                self._incomplete(total)
            return None
        asked_with, pit_id = self._pit_id, env.pit_id or ""
        skipped, self._skip = self._skip, 0
        items = records[skipped:] if skipped else records
        trimmed = False
        wanted = cursor.max_items
        if wanted is not None:
            left = wanted - (self.items_read - self._first)
            if len(items) >= left:
                trimmed = len(items) > left
                items = items[:left]
                self._done = True
        self.items_read += len(items)
        if total is not None and self.items_read >= total:
            self._done = True
        self._pit_id, self._number = pit_id, number + 1
        if trimmed:
            # The read stops inside this chunk: a resume asks for this chunk
            # again and skips the records handed over.
            self.position = CursorToken(
                path=cursor.path,
                pit_id=asked_with,
                chunk=number,
                records_read=self.items_read,
                total=total,
                skip=skipped + len(items),
            )
        else:
            self.position = CursorToken(
                path=cursor.path,
                pit_id=pit_id,
                chunk=number + 1,
                records_read=self.items_read,
                total=total,
            )
        if not self._done:
            if not pit_id:
                # This chunk is good; the read just cannot go on after it.
                self._broken = DecodeError(
                    "a chunk with records but no `pitId` to go on with - at `$.pitId`",
                    http_status=200,
                    context=RequestContext("POST", cursor.path, number),
                )
            elif cursor.read_ahead:
                self._task = asyncio.create_task(self._get(pit_id, number + 1))
        if not items:
            return None
        self.pages_read += 1
        return Chunk(
            items=items,
            number=number,
            pit_id=pit_id,
            record_amount=env.record_amount,
            total_record_amount=env.total_record_amount,
        )

    async def _get(self, pit_id: str, number: int) -> CursorEnvelope[T]:
        read_before = self.items_read
        try:
            return await self._fetch(pit_id, number, self._deadline)
        except FloliveError as exc:
            if not pit_id or not session_lost(exc):
                raise
            lost = exc
        # Outside the except block: the server's error is the cause, and nothing else.
        raise CursorExpired(
            read_before,
            self.total_elements,
            number,
            self._cursor.keep_alive,
            reason=lost.detail,
            context=lost.context,
        ) from lost

    def _incomplete(self, total: int) -> None:
        cursor = self._cursor
        if cursor.on_list_change == "raise":
            raise CursorIncomplete(
                total, self.items_read, context=RequestContext("POST", cursor.path)
            )
        if cursor.on_list_change == "warn":
            warnings.warn(
                ListIncompleteWarning(
                    f"{cursor.path}: " + cursor_incomplete_message(total, self.items_read)
                ),
                stacklevel=5,
            )

    async def aclose(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # Retrieves its result (no "exception was never retrieved") and
            # guarantees its connection is released before we return.
            await asyncio.gather(task, return_exceptions=True)


class _ReadIterator(AsyncClosing, Generic[T]):
    """What both iterators of a read share: the per-read state and closing."""

    def __init__(self, cursor: AsyncCursor[T], stream: _ChunkStream[T]) -> None:
        self._cursor = cursor
        self._stream = stream

    @property
    def total_elements(self) -> int | None:
        """``totalRecordAmount`` as last reported (``None`` before the first chunk)."""
        return self._stream.total_elements

    @property
    def items_read(self) -> int:
        """Records handed over by this read so far (from the token's count on a resume)."""
        return self._stream.items_read

    @property
    def pages_read(self) -> int:
        """Chunks handed over by this read so far."""
        return self._stream.pages_read

    @property
    def position(self) -> CursorToken | None:
        """Where this read goes on after the last chunk handed over (``resume=``),
        or the starting token (``None`` for a new read) before the first."""
        return self._stream.position

    async def aclose(self) -> None:
        """Stop this read and cancel its read-ahead. Idempotent."""
        await self._cursor._close(self._stream)


class CursorPageIterator(_ReadIterator[T]):
    """One read, chunk by chunk (:class:`~flolive.models.Chunk`); returned by
    :meth:`AsyncCursor.pages`. Carries :attr:`total_elements`,
    :attr:`items_read`, :attr:`pages_read` and :attr:`position`."""

    def __init__(self, cursor: AsyncCursor[T], stream: _ChunkStream[T]) -> None:
        super().__init__(cursor, stream)
        self._gen = cursor._run(stream)

    def __aiter__(self) -> CursorPageIterator[T]:
        return self

    def __anext__(self) -> Awaitable[Chunk[T]]:
        return self._gen.__anext__()


class CursorItemIterator(_ReadIterator[T]):
    """One read, record by record; returned by ``aiter(cursor)`` and
    :meth:`AsyncCursor.items`. Same attributes as :class:`CursorPageIterator`."""

    def __init__(self, cursor: AsyncCursor[T], stream: _ChunkStream[T]) -> None:
        super().__init__(cursor, stream)
        self._chunks = cursor._run(stream)
        self._it: Iterator[T] = iter(())

    def __aiter__(self) -> CursorItemIterator[T]:
        return self

    async def __anext__(self) -> T:
        for item in self._it:
            return item
        while True:
            chunk = await self._chunks.__anext__()
            self._it = iter(chunk.items)
            for item in self._it:
                return item


class AsyncCursor(AsyncClosing, Generic[T]):
    """A lazy point-in-time cursor read: iterate it for records, or
    :meth:`pages` for chunks. Returned by
    :meth:`flolive.Client.all_subscribers` and
    :meth:`~flolive.Client.all_subscriber_details`.

    Nothing is sent until iteration starts. Each iteration is a new read with
    a new session (or goes on from ``resume``), with its state on the iterator
    it returns.

    Example::

        cursor = client.all_subscribers(42, chunk_size=5000)
        async with cursor:                          # cancels the read-ahead on exit
            async for sim in cursor:
                ...
        chunks = cursor.pages()
        async for chunk in chunks:                  # Chunk(items, number, pit_id, ...)
            save(chunk.items, chunks.position)      # position: resume= while the session lives

    Attributes:
        path: the URL path read.
        chunk_size: records asked for per call (``size``).
        keep_alive: minutes the session lives (``pitKeepAlive``).
        resume: the :class:`CursorToken` a read starts from, or ``None``.
        max_items: most records one read hands over (counted from its start,
            also on a resume), or ``None`` for all.
        read_ahead: request the next chunk while the consumer handles this one.
        on_list_change: ``"warn"``, ``"raise"`` or ``"ignore"`` when a read
            ends short of ``totalRecordAmount``.
        listing_timeout: seconds allowed for a whole read, or ``None``.
    """

    def __init__(
        self,
        fetch: FetchChunk[T],
        *,
        path: str,
        chunk_size: int,
        keep_alive: int,
        resume: CursorToken | None = None,
        max_items: int | None = None,
        read_ahead: bool = True,
        on_list_change: OnListChange = "warn",
        listing_timeout: float | None = None,
    ) -> None:
        if resume is not None:
            if not isinstance(resume, CursorToken):
                raise TypeError(f"resume must be a CursorToken (position), got {resume!r}")
            if resume.path != path:
                raise ValueError(f"this resume token is for {resume.path}, not {path}")
            if not resume.pit_id and resume.chunk > 0:
                # Going on without a session would open a new one and count
                # from records_read: every record read so far would come again.
                raise ValueError(
                    "this resume token has no pitId to go on with: the read must start over"
                )
        if max_items is not None and (isinstance(max_items, bool) or max_items < 1):
            raise ValueError("max_items must be >= 1")
        if not isinstance(read_ahead, bool):
            raise TypeError(f"read_ahead must be a bool, got {read_ahead!r}")
        if on_list_change not in ("warn", "raise", "ignore"):
            raise ValueError("on_list_change must be 'warn', 'raise' or 'ignore'")
        self._fetch = fetch
        self.path = path
        self.chunk_size = chunk_size
        self.keep_alive = keep_alive
        self.resume = resume
        self.max_items = max_items
        self.read_ahead = read_ahead
        self.on_list_change: OnListChange = on_list_change
        self.listing_timeout = listing_timeout
        # Streams, not generators: see AsyncPager._open.
        self._open: set[_ChunkStream[T]] = set()

    def __repr__(self) -> str:
        return (
            f"<AsyncCursor {self.path} chunk_size={self.chunk_size} "
            f"keep_alive={self.keep_alive} max_items={self.max_items}>"
        )

    def __aiter__(self) -> CursorItemIterator[T]:
        return self.items()

    def items(self) -> CursorItemIterator[T]:
        """A new read, record by record."""
        return CursorItemIterator(self, self._stream())

    def pages(self) -> CursorPageIterator[T]:
        """A new read, chunk by chunk (:class:`~flolive.models.Chunk`; named
        like :meth:`AsyncPager.pages` so code can take either)."""
        return CursorPageIterator(self, self._stream())

    async def collect(self) -> list[T]:
        """Read every record into a list (memory grows with the list)."""
        out: list[T] = []
        async with self.pages() as chunks:
            async for chunk in chunks:
                out.extend(chunk.items)
        return out

    def arrow(self, item_type: type[T] | None = None) -> AsyncIterator[Any]:
        """A new read of one :class:`pyarrow.RecordBatch` per chunk, in order;
        needs the ``arrow`` extra (schemas: :mod:`flolive.arrow`).

        ``item_type`` is the record type (``None``, the default: the type of
        the first record; a read with no records yields no batch). Cleanup as
        for :meth:`pages`: ``break`` or ``async with cursor`` cancels the
        read-ahead.
        """
        from .arrow import arrow_batches

        return arrow_batches(self.pages(), item_type)

    def _stream(self) -> _ChunkStream[T]:
        stream = _ChunkStream(self, self.resume)
        self._open.add(stream)
        return stream

    async def _close(self, stream: _ChunkStream[T]) -> None:
        self._open.discard(stream)
        await stream.aclose()

    async def _run(self, stream: _ChunkStream[T]) -> AsyncGenerator[Chunk[T], None]:
        try:
            while (chunk := await stream.next()) is not None:
                yield chunk
        finally:
            await self._close(stream)

    async def aclose(self) -> None:
        """Stop every read of this cursor still open and cancel its read-ahead."""
        for stream in list(self._open):
            await self._close(stream)
