"""Export jobs: a campaign's participants, a customer's SIMs (paged or through
the point-in-time cursor), or the labels of many subscribers.

Every job is the same loop (:func:`run_export`) over its own
:mod:`source <.sources>`: open the output under the rules, take the prior
state from its checkpoint, start the progress display, write each step,
record it, and commit the output (or abort it); the result is built once. An
aborted output that recorded no progress is removed with its checkpoint, so a
run that failed before writing anything never blocks the next; a cancelled
one (Ctrl+C, a signal) first records what it wrote.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..client import Client
from ..models import Participant, Subscriber, SubscriberDetails
from ..pagination import AsyncPager
from .identifiers import IdentifierFailure
from .output import committing, open_output
from .sources import CursorSource, LabelError, LabelSource, PagedSource, Source

__all__ = [
    "ExportResult",
    "NoProgress",
    "Progress",
    "export_all_subscribers",
    "export_labels",
    "export_participants",
    "export_subscribers",
    "run_export",
]


class Progress(Protocol):
    """Receives an export's progress (the CLI draws a bar from it)."""

    def start(
        self,
        total: int | None,
        *,
        items: int = 0,
        pages: int = 0,
        total_pages: int | None = None,
    ) -> None:
        """The export is under way: ``total`` items expected in all and
        ``total_pages`` pages (label exports: identifiers), each ``None`` when
        unknown; ``items`` and ``pages`` were written by earlier runs."""
        ...

    def advance(self, items: int, pages: int) -> None:
        """This run wrote ``items`` more items from ``pages`` more pages."""
        ...

    def stop(self) -> None:
        """The export ended (finished or failed)."""
        ...


class NoProgress:
    """A :class:`Progress` that shows nothing."""

    def start(self, total: int | None, **counts: int | None) -> None:
        pass

    def advance(self, items: int, pages: int) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class ExportResult:
    """What an export did.

    Attributes:
        items: items in the output (earlier runs included, after a resume).
        pages: pages (label exports: identifiers; cursor exports: chunks) in
            the output, all runs.
        run_items: items this run wrote.
        run_pages: pages (or identifiers, or chunks) this run wrote.
        seconds: this run's wall time.
        resumed_at: the page (identifier index, chunk number) this run
            resumed at, or ``None`` if it started from the beginning.
        failed: (identifier, error) of label exports' failed identifiers.
        expected: items the server said the list holds (``totalElements``;
            cursor exports: ``totalRecordAmount``; label exports: summed over
            the identifiers exported), or ``None``.
        unit: what ``pages`` counts: ``"pages"``, ``"identifiers"`` or ``"chunks"``.
        page_base: the page base the export read with (after a resume, the
            one its checkpoint recorded), or ``None`` (cursor exports).
        failures: label exports' failed identifiers, all runs, as records
            (position, identifier, code, message).
    """

    items: int
    pages: int
    run_items: int
    run_pages: int
    seconds: float
    resumed_at: int | None
    failed: list[tuple[str, str]] = field(default_factory=list)
    expected: int | None = None
    unit: str = "pages"
    page_base: int | None = None
    failures: list[IdentifierFailure] = field(default_factory=list)

    @property
    def missing(self) -> int:
        """Items the server counted that the output lacks (0 when complete)."""
        return max(0, self.expected - self.items) if self.expected is not None else 0


async def run_export(
    source: Source,
    output: str,
    *,
    progress: Progress | None = None,
    fmt: str = "jsonl",
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_interval: float = 0.5,
) -> ExportResult:
    """Export ``source`` to ``output``: the one loop of every export job
    (arguments as in :func:`export_participants`)."""
    out = await open_output(
        output,
        fmt,
        source.row_type,
        job=source.job,
        initial=source.initial(fmt),
        resume=resume,
        overwrite=overwrite,
        interval=checkpoint_interval,
    )
    prior = out.recorded
    items = prior.items if prior else 0
    pages = prior.pages if prior else 0
    expected = prior.expected if prior else 0
    failed = list(prior.failed) if prior else []
    failures = list(prior.failures) if prior else []
    progress = progress or NoProgress()
    run_items = run_pages = 0
    shown = False
    began = time.perf_counter()
    try:
        with committing(out):
            if source.totals is not None:  # known before the first request
                progress.start(
                    source.totals[0], items=items, pages=pages, total_pages=source.totals[1]
                )
                shown = True
            async for step in source.read(out.checkpoint, prior):
                if not shown and source.totals is not None:
                    total, total_pages = source.totals
                    progress.start(total, items=items, pages=pages, total_pages=total_pages)
                    shown = True
                if step.failure is not None:
                    failures.append(step.failure)
                    failed.append(
                        (step.failure.identifier, f"{type(step.error).__name__}: {step.error}")
                    )
                out.write(step.rows)
                run_items += len(step.rows)
                run_pages += 1
                expected += step.expected
                progress.advance(len(step.rows), 1)
                out.save(
                    next=step.next,
                    items=items + run_items,
                    pages=pages + run_pages,
                    page_size=source.page_size,
                    expected=expected,
                    failed=failed,
                    failures=failures,
                    cursor=step.cursor,
                )
    finally:
        progress.stop()
    return ExportResult(
        items=items + run_items,
        pages=pages + run_pages,
        run_items=run_items,
        run_pages=run_pages,
        seconds=time.perf_counter() - began,
        resumed_at=source.resumed_at(prior) if prior else None,
        failed=failed,
        expected=expected if source.sums_expected else source.expected,
        unit=source.unit,
        page_base=source.page_base,
        failures=failures,
    )


async def export_participants(
    client: Client,
    customer_id: int,
    campaign_id: int,
    output: str,
    *,
    fmt: str = "jsonl",
    page_size: int | None = None,
    page_base: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    checkpoint_interval: float = 0.5,
) -> ExportResult:
    """Export a campaign's participants to ``output`` (``"-"`` for stdout).

    Args:
        fmt: a name of :data:`~flolive.export.FORMATS` (``"jsonl"``).
        page_size: items per page asked for (default: the client's).
        page_base: the server's first page number (default: the client's).
        resume: go on from the output's checkpoint (a resume reuses the page
            size and base recorded there).
        overwrite: replace an existing output, whatever state its files are in.
        progress: receives progress (default: none shown).
        checkpoint_interval: least seconds between checkpoints (0.5).

    Raises:
        ExportError: the rules refuse the output (exists, another export's
            checkpoint, ...); :class:`OutputError` when a file operation fails,
            :class:`OutputLocked` when another run writes the same output,
            :class:`CheckpointInvalid` for a damaged checkpoint.
        FloliveError: the API failed; the output keeps its checkpoint for a
            resume, or is removed if nothing was written yet.
    """

    def pager(size: int, base: int, start: int) -> AsyncPager[Participant]:
        return client.campaign_participants(
            customer_id, campaign_id, page_size=size, page_base=base, start_page=start
        )

    job: dict[str, str | int] = {
        "kind": "participants",
        "customer": customer_id,
        "campaign": campaign_id,
    }
    source = _paged(client, pager, Participant, job, page_size, page_base)
    return await run_export(source, output, **_run_options(locals()))


#: The arguments every job passes on to :func:`run_export` as they are.
_RUN_OPTIONS = ("fmt", "resume", "overwrite", "progress", "checkpoint_interval")


def _run_options(arguments: dict[str, Any]) -> dict[str, Any]:
    """The :func:`run_export` options among a job's ``arguments`` (its ``locals()``)."""
    return {name: arguments[name] for name in _RUN_OPTIONS}


def _paged(
    client: Client,
    make_pager: Callable[[int, int, int], AsyncPager[Any]],
    row_type: type[Any],
    job: dict[str, str | int],
    page_size: int | None,
    page_base: int | None,
) -> PagedSource:
    size = page_size or client.page_size
    base = client.page_base if page_base is None else page_base
    return PagedSource(make_pager, row_type, job, size, base)


async def export_subscribers(
    client: Client,
    customer_id: int,
    output: str,
    *,
    fmt: str = "jsonl",
    resume: bool = False,
    overwrite: bool = False,
    page_size: int | None = None,
    page_base: int | None = None,
    progress: Progress | None = None,
    checkpoint_interval: float = 0.5,
) -> ExportResult:
    """Export a customer's SIMs (:class:`~flolive.Subscriber`) from the paged
    list (:meth:`flolive.Client.subscribers`), fanned out like participants.

    For more than about 10,000 SIMs the vendor points to the point-in-time
    cursor: :func:`export_all_subscribers`. Arguments, resume and errors as in
    :func:`export_participants` (:class:`~flolive.CustomerNotFound` for an
    unknown customer).
    """

    def pager(size: int, base: int, start: int) -> AsyncPager[Subscriber]:
        return client.subscribers(customer_id, page_size=size, page_base=base, start_page=start)

    job: dict[str, str | int] = {"kind": "subscribers", "customer": customer_id, "read": "pages"}
    source = _paged(client, pager, Subscriber, job, page_size, page_base)
    return await run_export(source, output, **_run_options(locals()))


async def export_all_subscribers(
    client: Client,
    customer_id: int,
    output: str,
    *,
    details: bool = False,
    chunk_size: int = 1000,
    keep_alive: int = 5,
    fmt: str = "jsonl",
    resume: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    checkpoint_interval: float = 0.5,
) -> ExportResult:
    """Export every SIM of a customer through the point-in-time cursor
    (:meth:`flolive.Client.all_subscribers`; with ``details``,
    :meth:`~flolive.Client.all_subscriber_details` and
    :class:`~flolive.SubscriberDetails` rows), chunk after chunk.

    Each checkpoint records the read's :attr:`~flolive.CursorPageIterator.position`
    after the chunks it covers, and a resume goes on from there with the same
    session, so a resume works **only while the server's session lives**:
    ``keep_alive`` minutes after the last call the killed run made. Past it,
    the resume raises :class:`~flolive.CursorExpired` and the output and its
    checkpoint stay as they were; the export must start over
    (``overwrite=True``). ``pages`` in the result count chunks (``unit``
    ``"chunks"``).

    Args:
        details: export :class:`~flolive.SubscriberDetails` (its mappings as
            JSON text in CSV and Parquet) instead of :class:`~flolive.Subscriber`.
        chunk_size: records per call, 1 to 10,000 (1000; a resume reuses the
            one recorded in the checkpoint).
        keep_alive: minutes the server keeps the session after each call, 1 to 30 (5).
        Others as in :func:`export_participants`.

    Raises:
        CursorExpired: the session was lost (mid-read, or before a resume):
            the output keeps what was recorded, but cannot be resumed.
        ExportError, OutputError, FloliveError: as in :func:`export_participants`.
    """
    source = CursorSource(
        client,
        customer_id,
        SubscriberDetails if details else Subscriber,
        details=details,
        chunk_size=chunk_size,
        keep_alive=keep_alive,
    )
    return await run_export(source, output, **_run_options(locals()))


async def export_labels(
    client: Client,
    id_type: str,
    values: Sequence[str],
    output: str,
    *,
    fmt: str = "jsonl",
    page_size: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    checkpoint_interval: float = 0.5,
    on_failure: Callable[[str, LabelError], None] | None = None,
    on_failed: Callable[[IdentifierFailure], None] | None = None,
) -> ExportResult:
    """Export the labels of many subscribers, concurrently, in input order.

    Each identifier is checked against its type's alphabet and length before
    any request (:func:`~flolive.export.check_identifier`). One that is
    malformed (:class:`~flolive.export.InvalidIdentifier`), does not exist,
    has its labels unavailable, or fails after the SDK's retries is a
    failure: reported to ``on_failure(identifier, error)`` and
    ``on_failed(record)`` (either may raise to stop the export), listed in
    the result, and the export goes on. Errors of the credentials or the
    connection (:class:`~flolive.AuthenticationError`,
    :class:`~flolive.TransportError`) stop the export (resumable). Other
    arguments and errors as in :func:`export_participants`.
    """

    def failed(record: IdentifierFailure, error: LabelError) -> None:
        if on_failure is not None:
            on_failure(record.identifier, error)
        if on_failed is not None:
            on_failed(record)

    source = LabelSource(client, id_type, values, page_size=page_size, on_failure=failed)
    return await run_export(source, output, **_run_options(locals()))
