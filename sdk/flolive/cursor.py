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
it. It is the sequential strategy behind the listing core
(:mod:`flolive._listing`), which holds the read's bookkeeping, iterators and
shell. Cleanup follows the pager's rules: the read-ahead is a plain asyncio
task, cancelled and awaited on ``break``, on errors and on cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar, cast

from ._listing import Listing, Pass, PassIterator, by_async_for
from ._types import CursorToken, OnListChange, RequestContext
from .errors import (
    APIError,
    CursorExpired,
    CursorIncomplete,
    DecodeError,
    FloliveError,
    HTTPStatusError,
    cursor_incomplete_message,
)
from .models import Chunk, CursorEnvelope

__all__ = [
    "AsyncCursor",
    "CursorItemIterator",
    "CursorPageIterator",
    "CursorToken",
    "FetchChunk",
    "session_lost",
]

T = TypeVar("T")
X = TypeVar("X")

Answer = tuple[CursorEnvelope[T], str | None]
"""A chunk call's answer, and its request id."""

FetchChunk = Callable[[str, int, float | None], Coroutine[Any, Any, Answer[T]]]
"""``fetch(pit_id, chunk_number, deadline) -> (answer, request id)``; ``pit_id``
``""`` opens a session. Raises the typed error of that call."""

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


class _ChunkStream(Pass[Chunk[T]]):
    """One read: one session (or the rest of one, from a token). Owns at most
    one request task, the read-ahead; :meth:`aclose` cancels it."""

    kind = "read"

    def __init__(self, cursor: AsyncCursor[T], start: CursorToken | None) -> None:
        super().__init__(
            path=cursor.path,
            listing_timeout=cursor.listing_timeout,
            on_list_change=cursor.on_list_change,
            items_read=start.records_read if start else 0,
            total_elements=start.total if start else None,
        )
        self._cursor = cursor
        self._fetch = cursor._fetch
        self._pit_id = start.pit_id if start else ""
        self._number = start.chunk if start else 0
        self._task: asyncio.Task[Answer[T]] | None = None
        self._done = False
        self._broken: FloliveError | None = None
        self._skip = start.skip if start else 0
        self._first = self.items_read  # where this read started counting
        #: Per-read state, read through the iterators.
        self.position = start
        if start is not None and start.total is not None and start.records_read >= start.total:
            self._done = True  # a token taken after the last chunk: nothing left

    async def _step(self) -> Chunk[T] | None:
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

    def _took(self, answer: Answer[T], number: int) -> Chunk[T] | None:
        env, request_id = answer
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
        return Chunk(
            items=items,
            number=number,
            pit_id=pit_id,
            record_amount=env.record_amount,
            total_record_amount=env.total_record_amount,
            request_id=request_id,
        )

    async def _get(self, pit_id: str, number: int) -> Answer[T]:
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
        self._short(
            total,
            lambda: CursorIncomplete(
                total, self.items_read, context=RequestContext("POST", self.path)
            ),
            cursor_incomplete_message(total, self.items_read),
        )

    def _tasks(self) -> list[asyncio.Task[Any]]:
        task, self._task = self._task, None
        return [] if task is None else [task]


class _CursorIterator(PassIterator[X, _ChunkStream[Any]]):
    """What both iterators of a read share: the read's state and its position."""

    @property
    def position(self) -> CursorToken | None:
        """Where this read goes on after the last chunk handed over (``resume=``),
        or the starting token (``None`` for a new read) before the first."""
        return self._pass.position


class CursorPageIterator(_CursorIterator[Chunk[T]]):
    """One read, chunk by chunk (:class:`~flolive.models.Chunk`); returned by
    :meth:`AsyncCursor.pages`. Carries :attr:`total_elements`,
    :attr:`items_read`, :attr:`pages_read` and :attr:`position`."""


class CursorItemIterator(_CursorIterator[T]):
    """One read, record by record; returned by ``aiter(cursor)`` and
    :meth:`AsyncCursor.items`. Same attributes as :class:`CursorPageIterator`."""


class AsyncCursor(Listing[T, Chunk[T], _ChunkStream[T]]):
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
        # Values come checked from the client's settings (flolive._options);
        # what only the cursor can know is checked here.
        if resume is not None:
            if resume.path != path:
                raise ValueError(f"this resume token is for {resume.path}, not {path}")
            if not resume.pit_id and resume.chunk > 0:
                # Going on without a session would open a new one and count
                # from records_read: every record read so far would come again.
                raise ValueError(
                    "this resume token has no pitId to go on with: the read must start over"
                )
        super().__init__()
        self._fetch = fetch
        self.path = path
        self.chunk_size = chunk_size
        self.keep_alive = keep_alive
        self.resume = resume
        self.max_items = max_items
        self.read_ahead = read_ahead
        self.on_list_change: OnListChange = on_list_change
        self.listing_timeout = listing_timeout

    def __repr__(self) -> str:
        return (
            f"<AsyncCursor {self.path} chunk_size={self.chunk_size} "
            f"keep_alive={self.keep_alive} max_items={self.max_items}>"
        )

    def __aiter__(self) -> CursorItemIterator[T]:
        if by_async_for():
            return cast("CursorItemIterator[T]", self._items(self._new_pass()))
        return self.items()

    def items(self) -> CursorItemIterator[T]:
        """A new read, record by record."""
        stream = self._new_pass()
        return CursorItemIterator(stream, self._items(stream), self._close)

    def pages(self) -> CursorPageIterator[T]:
        """A new read, chunk by chunk (:class:`~flolive.models.Chunk`; named
        like :meth:`AsyncPager.pages` so code can take either)."""
        stream = self._new_pass()
        return CursorPageIterator(stream, self._units(stream), self._close)

    def arrow(self, item_type: type[T] | None = None) -> AsyncIterator[Any]:
        """A new read of one :class:`pyarrow.RecordBatch` per chunk, in order;
        needs the ``arrow`` extra (schemas: :mod:`flolive.arrow`).

        ``item_type`` is the record type (``None``, the default: the type of
        the first record; a read with no records yields no batch). Cleanup as
        for :meth:`pages`: ``break`` or ``async with cursor`` cancels the
        read-ahead.
        """
        return self._arrow(self.pages(), item_type)

    def _new_pass(self) -> _ChunkStream[T]:
        return self._opened(_ChunkStream(self, self.resume))
