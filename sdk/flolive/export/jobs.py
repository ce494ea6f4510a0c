"""Export jobs: a campaign's participants, a customer's SIMs (paged or through
the point-in-time cursor), or the labels of many subscribers.

Each job opens its output under the rules (:func:`_open_output`), writes pages
as they arrive, saves a checkpoint now and then, and either commits the output
or aborts it. An aborted output that recorded no progress is removed with its
checkpoint, so a run that failed before writing anything never blocks the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import stat
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec

from ..client import Client, CursorOptions
from ..cursor import AsyncCursor, CursorToken
from ..errors import FloliveError, LabelsUnavailable, SubscriberNotFound
from ..models import Label, Participant, Subscriber, SubscriberDetails
from ..pagination import AsyncPager
from .checkpoint import Checkpoint, fsync_dir
from .errors import ExportError, NothingToResume, OutputError
from .writers import FORMATS, Format, PartsWriter, SubscriberLabel, Writer

__all__ = [
    "PARTIAL_SUFFIX",
    "PARTS_SUFFIX",
    "ExportResult",
    "NoProgress",
    "Progress",
    "export_all_subscribers",
    "export_labels",
    "export_participants",
    "export_subscribers",
    "read_values",
]

#: Suffix of the directory beside the output that holds the parts of a format
#: written in parts (Parquet) until they are joined into the output.
PARTS_SUFFIX = ".flolive-parts"
#: Suffix of the temporary name the joined file is written under until complete.
PARTIAL_SUFFIX = ".flolive-partial"


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

    def start(
        self,
        total: int | None,
        *,
        items: int = 0,
        pages: int = 0,
        total_pages: int | None = None,
    ) -> None:
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

    @property
    def missing(self) -> int:
        """Items the server counted that the output lacks (0 when complete)."""
        return max(0, self.expected - self.items) if self.expected is not None else 0


# -- the output's life ------------------------------------------------------


class _Output:
    """One export's output, from opening to commit or abort."""

    def __init__(self, output: str, checkpoint: Checkpoint | None, interval: float) -> None:
        self.output = output
        #: The checkpoint on disk (``None`` for a stream): what a resume would find.
        self.checkpoint = checkpoint
        self.interval = interval
        self._last_save = time.monotonic()

    @property
    def recorded(self) -> Checkpoint | None:
        """The checkpoint on disk if it records progress (when the export
        starts: the one it resumes from), else ``None``."""
        ckpt = self.checkpoint
        return ckpt if ckpt is not None and ckpt.started else None

    def write(self, rows: Sequence[Any]) -> None:
        """Write one page (or identifier) of rows."""
        raise NotImplementedError

    def _make_durable(self) -> dict[str, int]:
        """Make every row written so far durable; the checkpoint fields that
        record it."""
        raise NotImplementedError

    def save(
        self,
        *,
        next_: int,
        items: int,
        pages: int,
        page_size: int | None = None,
        expected: int = 0,
        failed: Sequence[tuple[str, str]] = (),
        cursor: CursorToken | None = None,
    ) -> None:
        """Record progress (see :class:`Checkpoint`), at most every
        ``interval`` seconds: the rows first (fsync), then the claim about them."""
        if self.checkpoint is None:
            return
        now = time.monotonic()
        if now - self._last_save < self.interval:
            return
        self._last_save = now
        ckpt = msgspec.structs.replace(
            self.checkpoint,
            next=next_,
            items=items,
            pages=pages,
            page_size=self.checkpoint.page_size if page_size is None else page_size,
            expected=expected,
            failed=list(failed),
            cursor=cursor,
            **self._make_durable(),
        )
        ckpt.save(self.output)
        self.checkpoint = ckpt

    def commit(self) -> None:
        """The export is complete: finish the format, make it durable under
        the output's name, drop the checkpoint."""
        raise NotImplementedError

    def abort(self) -> None:
        """The export failed: close what is open. Progress stays for a resume,
        unless none was recorded: then the output and its checkpoint go too
        (the next run starts afresh)."""
        raise NotImplementedError


class _Appended(_Output):
    """A format whose bytes are always a prefix of the finished file, written
    in place (a regular file, with a checkpoint) or to a stream (stdout, a
    device, a pipe: nothing to sync, rename or resume)."""

    def __init__(
        self,
        output: str,
        fh: IO[bytes],
        writer: Writer,
        *,
        checkpoint: Checkpoint | None = None,
        interval: float = 0.5,
    ) -> None:
        super().__init__(output, checkpoint, interval)
        self.fh = fh
        self.writer = writer

    def write(self, rows: Sequence[Any]) -> None:
        self.writer.write(rows)

    def _make_durable(self) -> dict[str, int]:
        self.writer.flush()
        self.fh.flush()
        os.fsync(self.fh.fileno())
        return {"offset": self.fh.tell()}

    def commit(self) -> None:
        self.writer.finish()
        self.fh.flush()
        if self.checkpoint is None:  # a stream
            self.fh.close()
            return
        os.fsync(self.fh.fileno())
        self.fh.close()
        # A kill before this line leaves a complete output whose checkpoint
        # is behind it: a resume truncates and rewrites the same bytes.
        Checkpoint.remove(self.output)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.close()
        if self.checkpoint is not None and self.recorded is None:
            with contextlib.suppress(OSError):
                Path(self.output).unlink(missing_ok=True)
                Checkpoint.remove(self.output)


def _remove_parts(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


class _InParts(_Output):
    """A format written as part files in ``FILE.flolive-parts/`` and joined
    into ``FILE`` at the end.

    A part is written under a temporary name, fsynced and renamed; the
    checkpoint counts the parts only after the directory was fsynced too. The
    joined file is written as ``FILE.flolive-partial``, fsynced and renamed to
    ``FILE``; then the checkpoint goes, then the parts. A kill before the
    checkpoint goes resumes (and joins again); parts left after it are a
    finished export's, removed by the next run on that output.
    """

    def __init__(
        self,
        output: str,
        writer: PartsWriter,
        checkpoint: Checkpoint,
        *,
        interval: float = 0.5,
    ) -> None:
        super().__init__(output, checkpoint, interval)
        self.writer = writer
        self.directory = Path(output + PARTS_SUFFIX)
        self.partial = Path(output + PARTIAL_SUFFIX)
        self.parts = checkpoint.parts

    def _part(self, index: int) -> Path:
        return self.directory / f"{index:06d}.part"

    def _write_part(self) -> None:
        tmp = self.directory / f"{self.parts:06d}.tmp"
        with open(tmp, "wb") as fh:
            self.writer.write_part(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._part(self.parts))
        self.parts += 1

    def write(self, rows: Sequence[Any]) -> None:
        self.writer.write(rows)
        if self.writer.held >= self.writer.part_rows:
            self._write_part()  # bounds memory; counted at the next checkpoint

    def _make_durable(self) -> dict[str, int]:
        if self.writer.held:
            self._write_part()
        fsync_dir(self.directory)
        return {"parts": self.parts}

    def commit(self) -> None:
        if self.writer.held:
            self._write_part()
        with open(self.partial, "wb") as fh:
            self.writer.join([self._part(i) for i in range(self.parts)], fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(self.partial, self.output)
        fsync_dir(Path(self.output).parent)
        Checkpoint.remove(self.output)
        _remove_parts(self.directory)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.partial.unlink(missing_ok=True)
            if self.recorded is None:
                _remove_parts(self.directory)
                Checkpoint.remove(self.output)


def _make_writer(
    fmt: Format,
    fh: IO[bytes],
    row_type: type[Any],
    header: bool,
    discard: Callable[[], None] = lambda: None,
) -> Writer:
    """``fmt``'s appending writer on ``fh``; if it cannot be made, close
    ``fh`` and ``discard`` what was created for it."""
    assert fmt.append is not None
    try:
        return fmt.append(fh, row_type, header)
    except BaseException:
        fh.close()
        discard()
        raise


def _refuse_other_job(
    output: str, fmt: Format, job: dict[str, str | int], ckpt: Checkpoint
) -> None:
    if ckpt.job != job or ckpt.format != fmt.name:
        raise ExportError(
            f"checkpoint {Checkpoint.path_for(output)} belongs to another export "
            f"({ckpt.job}, {ckpt.format}); use --overwrite to start again"
        )


def _open_output(
    output: str,
    fmt_name: str,
    row_type: type[Any],
    *,
    job: dict[str, str | int],
    initial: Checkpoint,
    resume: bool,
    overwrite: bool,
    interval: float,
) -> _Output:
    """Open the output for a fresh export or a resume, enforcing the rules.

    ``initial`` is the checkpoint of a fresh start (nothing written yet); it is
    on disk before the first byte of the output is, so an export killed at any
    moment can be resumed.
    """
    if resume and overwrite:
        raise ExportError(
            "--resume and --overwrite exclude each other: --resume continues the "
            "output, --overwrite starts it again"
        )
    fmt = FORMATS.get(fmt_name)
    if fmt is None:
        raise ExportError(f"unknown format {fmt_name!r}; choose one of {', '.join(FORMATS)}")
    if output == "-":
        if resume:
            raise ExportError("--resume needs a file output, not stdout")
        if not fmt.streams:
            raise ExportError(f"{fmt.title} cannot be written to stdout")
        out = os.fdopen(os.dup(1), "wb")
        return _Appended(output, out, _make_writer(fmt, out, row_type, True))
    path = Path(output)
    if not path.parent.is_dir():
        raise OutputError(output, f"directory {path.parent} does not exist")
    if path.is_dir():
        raise OutputError(output, "it is a directory")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        # A device or a named pipe (/dev/null, a FIFO): nothing to clobber,
        # nothing to fsync, nothing to resume.
        if resume:
            raise ExportError(f"--resume needs a regular file; {output} is not one")
        if not fmt.streams:
            raise ExportError(f"{fmt.title} cannot be written to {output}: not a regular file")
        fh = open(path, "wb")  # noqa: SIM115 - owned by the _Output
        return _Appended(output, fh, _make_writer(fmt, fh, row_type, True))
    if fmt.parts is not None:
        return _open_parts(output, fmt, row_type, job, initial, resume, overwrite, interval)
    if resume:
        ckpt = Checkpoint.load(output)
        if ckpt is None and path.exists():
            raise NothingToResume(output)
        if ckpt is not None:
            return _resume(output, fmt, row_type, job, ckpt, interval)
    elif path.exists() and not overwrite:
        raise ExportError(f"{output} exists; use --resume to continue it or --overwrite")
    initial.save(output)  # before the first byte of the output
    try:
        fh = open(path, "wb")  # noqa: SIM115 - owned by the _Output
    except OSError:
        Checkpoint.remove(output)
        raise

    def discard() -> None:
        path.unlink(missing_ok=True)
        Checkpoint.remove(output)

    writer = _make_writer(fmt, fh, row_type, True, discard)
    return _Appended(output, fh, writer, checkpoint=initial, interval=interval)


def _resume(
    output: str,
    fmt: Format,
    row_type: type[Any],
    job: dict[str, str | int],
    ckpt: Checkpoint,
    interval: float,
) -> _Output:
    _refuse_other_job(output, fmt, job, ckpt)
    path = Path(output)
    size = path.stat().st_size if path.exists() else 0
    if size < ckpt.offset:
        raise ExportError(
            f"{output} holds {size} bytes but its checkpoint says {ckpt.offset} were "
            "written: cannot resume; use --overwrite to start again"
        )
    fh: IO[bytes] = open(path, "r+b" if path.exists() else "wb")  # noqa: SIM115
    fh.truncate(ckpt.offset)  # whatever was written after the checkpoint goes
    fh.seek(ckpt.offset)
    # A checkpoint at offset 0 was taken before the first byte: the header too
    # is still to be written.
    writer = _make_writer(fmt, fh, row_type, ckpt.offset == 0)
    return _Appended(output, fh, writer, checkpoint=ckpt, interval=interval)


def _open_parts(
    output: str,
    fmt: Format,
    row_type: type[Any],
    job: dict[str, str | int],
    initial: Checkpoint,
    resume: bool,
    overwrite: bool,
    interval: float,
) -> _Output:
    assert fmt.parts is not None
    path = Path(output)
    directory = Path(output + PARTS_SUFFIX)
    ckpt = Checkpoint.load(output)
    if resume and ckpt is not None:
        _refuse_other_job(output, fmt, job, ckpt)
    elif resume:
        # Parts without a checkpoint are a finished export's: it removes its
        # checkpoint first, then its parts.
        _remove_parts(directory)
        if path.exists():
            raise NothingToResume(output)
    elif not overwrite:
        if ckpt is not None and ckpt.started:
            raise ExportError(
                f"{output}: an interrupted export left {Checkpoint.path_for(output).name}; "
                "use --resume to continue it or --overwrite to start again"
            )
        if path.exists():
            raise ExportError(f"{output} exists; use --overwrite to replace it")
    writer = fmt.parts(row_type)  # before anything is on disk: it may fail
    if resume and ckpt is not None:
        directory.mkdir(exist_ok=True)
        recorded = {f"{i:06d}.part" for i in range(ckpt.parts)}
        present = {entry.name for entry in directory.iterdir()}
        missing = sorted(recorded - present)
        if missing:
            raise ExportError(
                f"{directory} lacks {missing[0]}, which its checkpoint records: "
                "cannot resume; use --overwrite to start again"
            )
        for name in present - recorded:  # written after the checkpoint
            (directory / name).unlink()
        return _InParts(output, writer, ckpt, interval=interval)
    _remove_parts(directory)  # an earlier export's, started again
    initial.save(output)  # before the first part
    try:
        directory.mkdir()
    except OSError:
        Checkpoint.remove(output)
        raise
    return _InParts(output, writer, initial, interval=interval)


@contextlib.contextmanager
def _committing(out: _Output, progress: Progress) -> Iterator[None]:
    """Commit the output when the block succeeds, abort it on any failure;
    an ``OSError`` on the output becomes an :class:`OutputError` naming it."""
    try:
        try:
            yield
            out.commit()
        except BaseException:
            out.abort()
            raise
        finally:
            progress.stop()
    except BrokenPipeError:
        raise  # a reader that went away (`| head`) is not a failed output
    except OSError as exc:
        raise OutputError.from_os(exc, out.output) from None


def _opened(output: str, **kwargs: Any) -> _Output:
    try:
        return _open_output(output, **kwargs)
    except OSError as exc:
        raise OutputError.from_os(exc, output) from None


# -- the jobs ----------------------------------------------------------------


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
        overwrite: replace an existing output.
        progress: receives progress (default: none shown).
        checkpoint_interval: least seconds between checkpoints (0.5).

    Raises:
        ExportError: the rules refuse the output (exists, another export's
            checkpoint, ...); :class:`OutputError` when a file operation fails.
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
    return await _export_pages(
        client,
        pager,
        Participant,
        job,
        output,
        fmt=fmt,
        page_size=page_size,
        page_base=page_base,
        resume=resume,
        overwrite=overwrite,
        progress=progress,
        checkpoint_interval=checkpoint_interval,
    )


async def export_subscribers(
    client: Client,
    customer_id: int,
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
    return await _export_pages(
        client,
        pager,
        Subscriber,
        job,
        output,
        fmt=fmt,
        page_size=page_size,
        page_base=page_base,
        resume=resume,
        overwrite=overwrite,
        progress=progress,
        checkpoint_interval=checkpoint_interval,
    )


async def _export_pages(
    client: Client,
    make_pager: Callable[[int, int, int], AsyncPager[Any]],
    row_type: type[Any],
    job: dict[str, str | int],
    output: str,
    *,
    fmt: str,
    page_size: int | None,
    page_base: int | None,
    resume: bool,
    overwrite: bool,
    progress: Progress | None,
    checkpoint_interval: float,
) -> ExportResult:
    """Export a paged listing: ``make_pager(page_size, page_base, start_page)``
    builds its pager (see :func:`export_participants`)."""
    size = page_size or client.page_size
    base = client.page_base if page_base is None else page_base
    initial = Checkpoint(job=job, format=fmt, page_size=size, page_base=base, next=base)
    out = _opened(
        output,
        fmt_name=fmt,
        row_type=row_type,
        job=job,
        initial=initial,
        resume=resume,
        overwrite=overwrite,
        interval=checkpoint_interval,
    )
    ckpt = out.checkpoint
    if ckpt is not None:
        size, base = ckpt.page_size, ckpt.page_base
    prior = out.recorded
    start = ckpt.next if ckpt is not None else base
    items = prior.items if prior else 0
    pages = prior.pages if prior else 0
    progress = progress or NoProgress()
    run_items = run_pages = 0
    expected: int | None = None
    began = time.perf_counter()
    with _committing(out, progress):
        # Made inside the block: an argument the SDK refuses aborts the output.
        pager = make_pager(size, base, start)
        async with pager, pager.pages() as in_order:
            async for page in in_order:
                if run_pages == 0:
                    size = in_order.page_size or size
                    progress.start(
                        in_order.total_elements,
                        items=items,
                        pages=pages,
                        total_pages=in_order.total_pages,
                    )
                out.write(page.items)
                run_items += len(page.items)
                run_pages += 1
                progress.advance(len(page.items), 1)
                out.save(
                    next_=page.number + 1,
                    items=items + run_items,
                    pages=pages + run_pages,
                    page_size=size,
                )
        expected = in_order.total_elements
    return ExportResult(
        items=items + run_items,
        pages=pages + run_pages,
        run_items=run_items,
        run_pages=run_pages,
        seconds=time.perf_counter() - began,
        resumed_at=start if prior else None,
        expected=expected,
        page_base=base,
    )


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
    job: dict[str, str | int] = {
        "kind": "subscriber-details" if details else "subscribers",
        "customer": customer_id,
        "read": "cursor",
    }
    initial = Checkpoint(job=job, format=fmt, page_size=chunk_size, page_base=0, next=0)
    out = _opened(
        output,
        fmt_name=fmt,
        row_type=SubscriberDetails if details else Subscriber,
        job=job,
        initial=initial,
        resume=resume,
        overwrite=overwrite,
        interval=checkpoint_interval,
    )
    ckpt = out.checkpoint
    size = ckpt.page_size if ckpt is not None else chunk_size
    prior = out.recorded
    # A checkpoint that records no progress was taken before the first chunk:
    # the read starts afresh, with a session of its own.
    token = prior.cursor if prior else None
    items = prior.items if prior else 0
    chunks_done = prior.pages if prior else 0
    progress = progress or NoProgress()
    run_items = run_chunks = 0
    expected: int | None = None
    began = time.perf_counter()
    with _committing(out, progress):
        if prior is not None and token is None:
            raise ExportError(
                f"checkpoint {Checkpoint.path_for(output)} records no cursor position: "
                "cannot resume; use --overwrite to start again"
            )
        # No read-ahead: a kill would leave a call for the next chunk sent but
        # not recorded, and a server that moves its session on per call (the
        # vendor does not say) would then skip that chunk on --resume.
        options: CursorOptions = {"read_ahead": False}
        if token is not None:
            options["resume"] = token
        read = client.all_subscriber_details if details else client.all_subscribers
        cursor: AsyncCursor[Any] = read(
            customer_id, chunk_size=size, keep_alive=keep_alive, **options
        )
        async with cursor, cursor.pages() as chunks:
            async for chunk in chunks:
                if run_chunks == 0:
                    total = chunks.total_elements
                    progress.start(
                        total,
                        items=items,
                        pages=chunks_done,
                        total_pages=None if total is None else -(-total // size),
                    )
                out.write(chunk.items)
                run_items += len(chunk.items)
                run_chunks += 1
                progress.advance(len(chunk.items), 1)
                out.save(
                    next_=chunk.number + 1,
                    items=items + run_items,
                    pages=chunks_done + run_chunks,
                    cursor=chunks.position,
                )
            expected = chunks.total_elements
    return ExportResult(
        items=items + run_items,
        pages=chunks_done + run_chunks,
        run_items=run_items,
        run_pages=run_chunks,
        seconds=time.perf_counter() - began,
        resumed_at=token.chunk if token is not None else None,
        expected=expected,
        unit="chunks",
    )


def read_values(path: str) -> list[str]:
    """Identifiers from a file (or ``-`` for stdin): one a line, blanks and ``#`` lines skipped."""
    if path == "-":
        with os.fdopen(os.dup(0), encoding="utf-8") as stdin:
            text = stdin.read()
    else:
        text = Path(path).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


_Labels = tuple[list[Label], int]


async def _labels_in_order(
    client: Client,
    id_type: str,
    values: Sequence[str],
    start: int,
    window: int,
    page_size: int | None,
) -> AsyncGenerator[tuple[int, str, _Labels | FloliveError], None]:
    """Labels of each identifier (with its ``totalElements``), fetched
    concurrently under the client's limiter, yielded in input order; a bounded
    window of tasks in flight."""

    async def one(value: str) -> _Labels:
        # A subscriber's labels are mostly one page: a speculative first
        # window would cost three wasted requests per identifier.
        opts: dict[str, Any] = {"speculate": 0}
        if page_size:
            opts["page_size"] = page_size
        pager = client.subscriber_labels(id_type, value, **opts)
        labels = await pager.collect()
        return labels, pager.total_elements or 0

    tasks: dict[int, asyncio.Task[_Labels]] = {}
    nxt = start
    try:
        for i in range(start, len(values)):
            while len(tasks) < window and nxt < len(values):
                tasks[nxt] = asyncio.create_task(one(values[nxt]))
                nxt += 1
            task = tasks.pop(i)
            try:
                got: _Labels | FloliveError = await task
            except (SubscriberNotFound, LabelsUnavailable) as exc:
                got = exc
            yield i, values[i], got
    finally:
        for t in tasks.values():
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks.values(), return_exceptions=True)


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
    on_failure: Callable[[str, FloliveError], None] | None = None,
) -> ExportResult:
    """Export the labels of many subscribers, concurrently, in input order.

    A subscriber that does not exist or whose labels are unavailable is
    reported through ``on_failure`` (which may raise to stop the export) and
    listed in the result; other errors stop the export (resumable). Other
    arguments and errors as in :func:`export_participants`.
    """
    digest = hashlib.sha256("\n".join(values).encode()).hexdigest()[:16]
    job: dict[str, str | int] = {"kind": "labels", "type": id_type, "values": digest}
    initial = Checkpoint(job=job, format=fmt, page_size=0, page_base=0, next=0)
    out = _opened(
        output,
        fmt_name=fmt,
        row_type=SubscriberLabel,
        job=job,
        initial=initial,
        resume=resume,
        overwrite=overwrite,
        interval=checkpoint_interval,
    )
    ckpt = out.checkpoint
    prior = out.recorded
    start = ckpt.next if ckpt is not None else 0
    items = prior.items if prior else 0
    done = prior.pages if prior else 0
    expected = prior.expected if prior else 0
    failed: list[tuple[str, str]] = list(prior.failed) if prior else []
    progress = progress or NoProgress()
    progress.start(None, items=items, pages=done, total_pages=len(values))
    run_items = run_done = 0
    began = time.perf_counter()
    labels = _labels_in_order(client, id_type, values, start, 2 * client.max_concurrency, page_size)
    with _committing(out, progress):
        async with contextlib.aclosing(labels):
            async for i, value, got in labels:
                if isinstance(got, FloliveError):
                    failed.append((value, f"{type(got).__name__}: {got}"))
                    if on_failure:
                        on_failure(value, got)
                    written = 0
                else:
                    found, total = got
                    out.write(
                        [
                            SubscriberLabel(id_type, value, lb.id, lb.name, lb.creation_time)
                            for lb in found
                        ]
                    )
                    written = len(found)
                    expected += total
                run_items += written
                run_done += 1
                progress.advance(written, 1)
                out.save(
                    next_=i + 1,
                    items=items + run_items,
                    pages=done + run_done,
                    expected=expected,
                    failed=failed,
                )
    return ExportResult(
        items=items + run_items,
        pages=done + run_done,
        run_items=run_items,
        run_pages=run_done,
        seconds=time.perf_counter() - began,
        resumed_at=start if prior else None,
        failed=failed,
        expected=expected,
        unit="identifiers",
        page_base=client.page_base,
    )
