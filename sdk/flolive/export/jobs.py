"""Export jobs: a campaign's participants, or the labels of many subscribers.

Each job opens its output under the rules (:func:`_open_output`), writes pages
as they arrive, saves a checkpoint now and then, and either commits the output
or aborts it. An aborted output that recorded no progress is removed with its
checkpoint, so a run that failed before writing anything never blocks the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import os
import stat
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec

from ..client import Client
from ..errors import FloliveError, LabelsUnavailable, SubscriberNotFound
from ..models import Label, Participant
from .checkpoint import Checkpoint, fsync_dir
from .errors import ExportError, NothingToResume, OutputError
from .writers import FORMATS, Format, SubscriberLabel, Writer

__all__ = [
    "PARTIAL_SUFFIX",
    "ExportResult",
    "NoProgress",
    "Progress",
    "export_labels",
    "export_participants",
    "read_values",
]

#: Suffix of the temporary name a non-resumable output (Parquet) is written
#: under until it is complete.
PARTIAL_SUFFIX = ".flolive-partial"


class Progress(Protocol):
    """Receives an export's progress (the CLI draws a bar from it)."""

    def start(self, total: int | None, *, items: int = 0, pages: int = 0) -> None:
        """The first page is in: ``total`` items expected in all (``None``:
        unknown); ``items`` and ``pages`` were written by earlier runs."""
        ...

    def advance(self, items: int, pages: int) -> None:
        """This run wrote ``items`` more items from ``pages`` more pages."""
        ...

    def stop(self) -> None:
        """The export ended (finished or failed)."""
        ...


class NoProgress:
    """A :class:`Progress` that shows nothing."""

    def start(self, total: int | None, *, items: int = 0, pages: int = 0) -> None:
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
        pages: pages (label exports: identifiers) in the output, all runs.
        run_items: items this run wrote.
        run_pages: pages (or identifiers) this run wrote.
        seconds: this run's wall time.
        resumed_at: the page (or identifier index) this run resumed at, or
            ``None`` if it started from the beginning.
        failed: (identifier, error) of label exports' failed identifiers.
        expected: items the server said the list holds (``totalElements``;
            label exports: summed over the identifiers exported), or ``None``.
        unit: what ``pages`` counts: ``"pages"`` or ``"identifiers"``.
        page_base: the page base the export read with (after a resume, the
            one its checkpoint recorded), or ``None``.
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


class _Mode(enum.Enum):
    IN_PLACE = "in place, with a checkpoint"
    RENAME = "under a temporary name, renamed when complete"
    STREAM = "to a stream (stdout, a device or a pipe)"


class _Output:
    """One export's output, from opening to commit or abort."""

    def __init__(
        self,
        output: str,
        mode: _Mode,
        fh: IO[bytes],
        writer: Writer,
        *,
        checkpoint: Checkpoint | None = None,
        tmp: Path | None = None,
        interval: float = 0.5,
    ) -> None:
        self.output = output
        self.mode = mode
        self.fh = fh
        self.writer = writer
        #: The checkpoint on disk (IN_PLACE only): what a resume would find.
        self.checkpoint = checkpoint
        self.tmp = tmp
        self.interval = interval
        self._last_save = time.monotonic()

    @property
    def recorded(self) -> Checkpoint | None:
        """The checkpoint on disk if it records progress (when the export
        starts: the one it resumes from), else ``None``."""
        ckpt = self.checkpoint
        return ckpt if ckpt is not None and ckpt.started else None

    def save(
        self,
        *,
        next_: int,
        items: int,
        pages: int,
        page_size: int | None = None,
        expected: int = 0,
        failed: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Record progress (see :class:`Checkpoint`), at most every
        ``interval`` seconds: the output first (fsync), then the claim about it."""
        if self.mode is not _Mode.IN_PLACE or self.checkpoint is None:
            return
        now = time.monotonic()
        if now - self._last_save < self.interval:
            return
        self._last_save = now
        self.writer.flush()
        self.fh.flush()
        os.fsync(self.fh.fileno())
        ckpt = msgspec.structs.replace(
            self.checkpoint,
            next=next_,
            offset=self.fh.tell(),
            items=items,
            pages=pages,
            page_size=self.checkpoint.page_size if page_size is None else page_size,
            expected=expected,
            failed=list(failed),
        )
        ckpt.save(self.output)
        self.checkpoint = ckpt

    def commit(self) -> None:
        """The export is complete: finish the format, make it durable, drop
        the checkpoint (or rename the temporary file to the output's name)."""
        self.writer.finish()
        self.fh.flush()
        if self.mode is _Mode.STREAM:
            self.fh.close()
            return
        os.fsync(self.fh.fileno())
        self.fh.close()
        if self.mode is _Mode.RENAME:
            assert self.tmp is not None
            os.replace(self.tmp, self.output)
            fsync_dir(Path(self.output).parent)
        else:
            # A kill before this line leaves a complete output whose checkpoint
            # is behind it: a resume truncates and rewrites the same bytes.
            Checkpoint.remove(self.output)

    def abort(self) -> None:
        """The export failed: close the output. A resumable output keeps its
        checkpoint for a resume unless it recorded no progress, in which case
        both go (the next run starts afresh); a temporary file goes."""
        if self.mode is _Mode.RENAME:
            # Finish the format so that its writer holds nothing to write at
            # garbage collection, into a file that is gone by then.
            with contextlib.suppress(Exception):
                self.writer.finish()
        with contextlib.suppress(OSError):
            self.fh.close()
        with contextlib.suppress(OSError):
            if self.mode is _Mode.RENAME:
                assert self.tmp is not None
                self.tmp.unlink(missing_ok=True)
            elif self.mode is _Mode.IN_PLACE and self.recorded is None:
                Path(self.output).unlink(missing_ok=True)
                Checkpoint.remove(self.output)


def _make_writer(
    fmt: Format,
    fh: IO[bytes],
    row_type: type[Any],
    header: bool,
    discard: Callable[[], None] = lambda: None,
) -> Writer:
    """``fmt``'s writer on ``fh``; if it cannot be made (Parquet without
    pyarrow), close ``fh`` and ``discard`` what was created for it."""
    try:
        return fmt.make(fh, row_type, header)
    except BaseException:
        fh.close()
        discard()
        raise


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
        return _Output(output, _Mode.STREAM, out, _make_writer(fmt, out, row_type, True))
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
        return _Output(output, _Mode.STREAM, fh, _make_writer(fmt, fh, row_type, True))
    if not fmt.resumable:
        if resume:
            raise ExportError(
                f"{fmt.title} output cannot be resumed (its file ends in a footer); "
                "export to JSONL or CSV for resumable jobs"
            )
        if path.exists() and not overwrite:
            raise ExportError(f"{output} exists; use --overwrite to replace it")
        # Written under a temporary name and renamed when complete: the final
        # name never holds a partial file, and an existing one stays intact
        # until then. A file left by a killed run is simply overwritten.
        tmp = Path(output + PARTIAL_SUFFIX)
        fh = open(tmp, "wb")  # noqa: SIM115 - owned by the _Output
        writer = _make_writer(fmt, fh, row_type, True, lambda: tmp.unlink(missing_ok=True))
        return _Output(output, _Mode.RENAME, fh, writer, tmp=tmp, interval=interval)
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
    return _Output(output, _Mode.IN_PLACE, fh, writer, checkpoint=initial, interval=interval)


def _resume(
    output: str,
    fmt: Format,
    row_type: type[Any],
    job: dict[str, str | int],
    ckpt: Checkpoint,
    interval: float,
) -> _Output:
    if ckpt.job != job or ckpt.format != fmt.name:
        raise ExportError(
            f"checkpoint {Checkpoint.path_for(output)} belongs to another export "
            f"({ckpt.job}, {ckpt.format}); use --overwrite to start again"
        )
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
    return _Output(output, _Mode.IN_PLACE, fh, writer, checkpoint=ckpt, interval=interval)


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
    job: dict[str, str | int] = {
        "kind": "participants",
        "customer": customer_id,
        "campaign": campaign_id,
    }
    size = page_size or client.page_size
    base = client.page_base if page_base is None else page_base
    initial = Checkpoint(job=job, format=fmt, page_size=size, page_base=base, next=base)
    out = _opened(
        output,
        fmt_name=fmt,
        row_type=Participant,
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
    pager = client.campaign_participants(
        customer_id, campaign_id, page_size=size, page_base=base, start_page=start
    )
    with _committing(out, progress):
        async with pager:
            async for page in pager.pages():
                if run_pages == 0:
                    size = pager.page_size_used or size
                    progress.start(pager.total_elements, items=items, pages=pages)
                out.writer.write(page.items)
                run_items += len(page.items)
                run_pages += 1
                progress.advance(len(page.items), 1)
                out.save(
                    next_=page.number + 1,
                    items=items + run_items,
                    pages=pages + run_pages,
                    page_size=size,
                )
        expected = pager.total_elements
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
        opts: dict[str, Any] = {"page_size": page_size} if page_size else {}
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
    progress.start(None, items=items, pages=done)
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
                    out.writer.write(
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
