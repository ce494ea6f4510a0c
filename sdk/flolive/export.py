"""Bulk export of listings to JSONL, CSV or Parquet, with exactly-once resume.

Resume protocol (JSONL and CSV): a checkpoint file beside the output records
the byte length of the output that is durably written and holds whole pages
only, the next page (or identifier) to read, and the server's page size and
base. It is replaced atomically (write, fsync, rename) only *after* the output
was fsynced. After a crash at any moment, ``--resume`` truncates the output to
the recorded length and goes on from the recorded page: every item lands
exactly once. Parquet files cannot be appended to, so Parquet refuses
``--resume``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import hashlib
import io
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec

from .client import Client
from .errors import FloliveError, LabelsUnavailable, SubscriberNotFound
from .models import Label

__all__ = [
    "Checkpoint",
    "ExportError",
    "ExportResult",
    "FORMATS",
    "SubscriberLabel",
    "export_labels",
    "export_participants",
    "format_for",
]

FORMATS = ("jsonl", "csv", "parquet")
CHECKPOINT_SUFFIX = ".flolive-checkpoint"


class ExportError(Exception):
    """An export cannot start or go on (existing output, bad checkpoint, ...)."""


class SubscriberLabel(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    """One exported label row: the subscriber identifier, then the label."""

    id_type: str
    id_value: str
    id: uuid.UUID
    name: str
    creation_time: dt.datetime


def format_for(path: str, explicit: str | None) -> str:
    """The output format: ``explicit``, else from the extension, else JSONL."""
    if explicit:
        return explicit
    suffix = Path(path).suffix.lower().lstrip(".")
    return {"csv": "csv", "parquet": "parquet", "pq": "parquet"}.get(suffix, "jsonl")


# -- writers ---------------------------------------------------------------


class Writer(Protocol):
    def write(self, rows: Sequence[Any]) -> None: ...
    def sync(self) -> int:
        """Flush and fsync; return the durable length in bytes."""
        ...

    def close(self) -> None: ...


def _columns(row_type: type[Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(attribute names, wire names) of a Struct type."""
    return row_type.__struct_fields__, row_type.__struct_encode_fields__


class _FileWriter:
    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        # Pipes and terminals can be neither fsynced nor resumed.
        self._durable = fh.seekable()

    def sync(self) -> int:
        self._fh.flush()
        if not self._durable:
            return 0
        os.fsync(self._fh.fileno())
        return self._fh.tell()

    def close(self) -> None:
        self.sync()
        self._fh.close()


class JsonlWriter(_FileWriter):
    """One JSON object a line, encoded by msgspec (camelCase keys, ISO date-times)."""

    def __init__(self, fh: IO[bytes]) -> None:
        super().__init__(fh)
        self._encoder = msgspec.json.Encoder()

    def write(self, rows: Sequence[Any]) -> None:
        if rows:
            self._fh.write(self._encoder.encode_lines(rows))


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    return v  # str() of a datetime is the API's own "2022-02-11 14:21:53"


class CsvWriter(_FileWriter):
    """CSV with a header of the API's field names."""

    def __init__(self, fh: IO[bytes], row_type: type[Any], header: bool) -> None:
        super().__init__(fh)
        self._attrs, names = _columns(row_type)
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\n")
        if header:
            self._csv.writerow(names)
            self._flush_buf()

    def _flush_buf(self) -> None:
        self._fh.write(self._buf.getvalue().encode())
        self._buf.seek(0)
        self._buf.truncate()

    def write(self, rows: Sequence[Any]) -> None:
        attrs = self._attrs
        self._csv.writerows([_csv_value(getattr(r, a)) for a in attrs] for r in rows)
        self._flush_buf()


class ParquetWriter:
    """Parquet written in row groups while streaming (needs the ``parquet`` extra)."""

    def __init__(self, path: str, row_type: type[Any], row_group_size: int = 65_536) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover - depends on the install
            raise ExportError("Parquet needs pyarrow: pip install 'flolive-sdk[parquet]'") from None
        self._pa = pa
        self._attrs, names = _columns(row_type)
        hints = msgspec.structs.fields(row_type)
        types = {
            int: pa.int64(),
            str: pa.string(),
            dt.datetime: pa.timestamp("s"),
            uuid.UUID: pa.string(),
        }
        self._convert = [str if f.type is uuid.UUID else None for f in hints]
        fields = []
        for f, name in zip(hints, names, strict=True):
            base = f.type
            nullable = False
            args = getattr(base, "__args__", None)
            if args and type(None) in args:
                base = next(a for a in args if a is not type(None))
                nullable = True
            fields.append(pa.field(name, types.get(base, pa.string()), nullable=nullable))
        self._schema = pa.schema(fields)
        self._writer = pq.ParquetWriter(path, self._schema)
        # Rows become Arrow batches as they arrive (compact, columnar); a row
        # group is written once enough of them are held.
        self._batches: list[Any] = []
        self._held = 0
        self._group = row_group_size

    def write(self, rows: Sequence[Any]) -> None:
        if not rows:
            return
        pa = self._pa
        arrays = []
        for attr, conv, field in zip(self._attrs, self._convert, self._schema, strict=True):
            values = [getattr(r, attr) for r in rows]
            arrays.append(pa.array([conv(v) for v in values] if conv else values, type=field.type))
        self._batches.append(pa.RecordBatch.from_arrays(arrays, schema=self._schema))
        self._held += len(rows)
        if self._held >= self._group:
            self._flush()

    def _flush(self) -> None:
        if not self._batches:
            return
        table = self._pa.Table.from_batches(self._batches, schema=self._schema)
        self._batches, self._held = [], 0
        self._writer.write_table(table, row_group_size=table.num_rows)

    def sync(self) -> int:
        self._flush()
        return 0

    def close(self) -> None:
        self._flush()
        self._writer.close()


# -- checkpoint ------------------------------------------------------------


class Checkpoint(msgspec.Struct, kw_only=True):
    """What is durably in the output. ``offset`` bytes hold exactly the items
    before ``next`` (a page number, or an identifier index)."""

    version: int = 1
    job: dict[str, str | int]
    format: str
    page_size: int
    page_base: int
    next: int
    offset: int
    items: int
    #: (identifier, error) of label exports' failed identifiers so far, so a
    #: resumed run still reports them.
    failed: list[tuple[str, str]] = []

    @staticmethod
    def path_for(output: str) -> Path:
        return Path(output + CHECKPOINT_SUFFIX)

    def save(self, output: str) -> None:
        path = self.path_for(output)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(msgspec.json.encode(self))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)

    @classmethod
    def load(cls, output: str) -> Checkpoint | None:
        path = cls.path_for(output)
        try:
            return msgspec.json.decode(path.read_bytes(), type=cls)
        except FileNotFoundError:
            return None
        except msgspec.DecodeError as exc:
            raise ExportError(f"checkpoint {path} is unreadable: {exc}") from None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the export loop --------------------------------------------------------


@dataclass
class ExportResult:
    """What an export did."""

    items: int
    pages: int
    seconds: float
    resumed_at: int | None
    failed: list[tuple[str, str]]


class Progress(Protocol):
    def start(self, total: int | None) -> None: ...
    def advance(self, items: int, pages: int) -> None: ...
    def stop(self) -> None: ...


class NoProgress:
    def start(self, total: int | None) -> None:
        pass

    def advance(self, items: int, pages: int) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class _Plan:
    writer: Writer
    checkpoint: Checkpoint | None
    resumable: bool


def _open_output(
    output: str,
    fmt: str,
    row_type: type[Any],
    job: dict[str, str | int],
    *,
    resume: bool,
    overwrite: bool,
) -> _Plan:
    """Open the output for a fresh export or a resume, enforcing the rules."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if output == "-":
        if resume:
            raise ExportError("--resume needs a file output, not stdout")
        if fmt == "parquet":
            raise ExportError("Parquet cannot be written to stdout")
        out = os.fdopen(os.dup(1), "wb")
        writer: Writer = (
            JsonlWriter(out) if fmt == "jsonl" else CsvWriter(out, row_type, header=True)
        )
        return _Plan(writer, None, resumable=False)
    path = Path(output)
    ckpt_path = Checkpoint.path_for(output)
    if resume:
        if fmt == "parquet":
            raise ExportError(
                "Parquet output cannot be resumed (a Parquet file cannot be appended "
                "to); export to JSONL or CSV for resumable jobs"
            )
        ckpt = Checkpoint.load(output)
        if ckpt is None:
            if path.exists():
                raise ExportError(
                    f"{output} exists but has no checkpoint: nothing to resume "
                    "(it may be complete); use --overwrite to start again"
                )
        else:
            if ckpt.job != job or ckpt.format != fmt:
                raise ExportError(
                    f"checkpoint {ckpt_path} belongs to another export "
                    f"({ckpt.job}, {ckpt.format}); use --overwrite to start again"
                )
            if not path.exists() or path.stat().st_size < ckpt.offset:
                raise ExportError(f"{output} is shorter than its checkpoint says; cannot resume")
            fh: IO[bytes] = open(path, "r+b")  # noqa: SIM115 - owned by the writer
            fh.truncate(ckpt.offset)  # drop whatever was written after the checkpoint
            fh.seek(ckpt.offset)
            writer = JsonlWriter(fh) if fmt == "jsonl" else CsvWriter(fh, row_type, header=False)
            return _Plan(writer, ckpt, resumable=True)
    elif path.exists() and not overwrite:
        raise ExportError(f"{output} exists; use --resume to continue it or --overwrite")
    ckpt_path.unlink(missing_ok=True)
    if fmt == "parquet":
        return _Plan(ParquetWriter(output, row_type), None, resumable=False)
    fh = open(path, "wb")  # noqa: SIM115 - owned by the writer
    writer = JsonlWriter(fh) if fmt == "jsonl" else CsvWriter(fh, row_type, header=True)
    return _Plan(writer, None, resumable=True)


class _Checkpointer:
    def __init__(
        self,
        output: str,
        plan: _Plan,
        job: dict[str, str | int],
        fmt: str,
        interval: float,
    ) -> None:
        self.output = output
        self.plan = plan
        self.job = job
        self.fmt = fmt
        self.interval = interval
        self.last = time.monotonic()

    def maybe_save(
        self,
        *,
        next_: int,
        items: int,
        page_size: int,
        page_base: int,
        failed: list[tuple[str, str]] | None = None,
    ) -> None:
        if not self.plan.resumable:
            return
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        offset = self.plan.writer.sync()  # the data first, then the claim about it
        Checkpoint(
            job=self.job,
            format=self.fmt,
            page_size=page_size,
            page_base=page_base,
            next=next_,
            offset=offset,
            items=items,
            failed=failed or [],
        ).save(self.output)

    def finish(self) -> None:
        self.plan.writer.close()
        if self.plan.resumable:
            Checkpoint.path_for(self.output).unlink(missing_ok=True)

    def abort(self) -> None:
        """Close the output after a failure; the checkpoint stays for --resume
        (anything written after it is dropped then)."""
        with contextlib.suppress(OSError):
            self.plan.writer.close()


@contextlib.contextmanager
def _committing(saver: _Checkpointer, progress: Progress) -> Iterator[None]:
    """Finish the output (and drop the checkpoint) on success; on any failure
    close it and keep the checkpoint for --resume."""
    try:
        yield
    except BaseException:
        saver.abort()
        raise
    else:
        saver.finish()
    finally:
        progress.stop()


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
    """Export a campaign's participants to ``output`` (``"-"`` for stdout)."""
    from .models import Participant

    job: dict[str, str | int] = {
        "kind": "participants",
        "customer": customer_id,
        "campaign": campaign_id,
    }
    plan = _open_output(output, fmt, Participant, job, resume=resume, overwrite=overwrite)
    ckpt = plan.checkpoint
    size = ckpt.page_size if ckpt else (page_size or client.page_size)
    base = ckpt.page_base if ckpt else (client.page_base if page_base is None else page_base)
    start = ckpt.next if ckpt else base
    items = ckpt.items if ckpt else 0
    saver = _Checkpointer(output, plan, job, fmt, checkpoint_interval)
    progress = progress or NoProgress()
    pages = 0
    began = time.perf_counter()
    pager = client.campaign_participants(
        customer_id, campaign_id, page_size=size, page_base=base, start_page=start
    )
    with _committing(saver, progress):
        async with pager:
            async for page in pager.pages():
                if pages == 0:
                    size = pager.page_size_used or size
                    progress.start(pager.total_elements)
                    if items:
                        progress.advance(items, 0)
                plan.writer.write(page.items)
                items += len(page.items)
                pages += 1
                progress.advance(len(page.items), 1)
                saver.maybe_save(next_=page.number + 1, items=items, page_size=size, page_base=base)
    return ExportResult(items, pages, time.perf_counter() - began, ckpt.next if ckpt else None, [])


def read_values(path: str) -> list[str]:
    """Identifiers from a file (or ``-`` for stdin): one a line, blanks and ``#`` lines skipped."""
    text = (
        os.fdopen(os.dup(0), encoding="utf-8").read()
        if path == "-"
        else Path(path).read_text(encoding="utf-8")
    )
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


async def _labels_in_order(
    client: Client,
    id_type: str,
    values: Sequence[str],
    start: int,
    window: int,
    page_size: int | None,
) -> AsyncIterator[tuple[int, str, list[Label] | FloliveError]]:
    """Labels of each identifier, fetched concurrently (under the client's
    limiter), yielded in input order; a bounded window of tasks in flight."""

    async def one(value: str) -> list[Label]:
        opts: dict[str, Any] = {"page_size": page_size} if page_size else {}
        return await client.subscriber_labels(id_type, value, **opts).collect()

    tasks: dict[int, asyncio.Task[list[Label]]] = {}
    nxt = start
    try:
        for i in range(start, len(values)):
            while len(tasks) < window and nxt < len(values):
                tasks[nxt] = asyncio.create_task(one(values[nxt]))
                nxt += 1
            task = tasks.pop(i)
            try:
                yield i, values[i], await task
            except (SubscriberNotFound, LabelsUnavailable) as exc:
                yield i, values[i], exc
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
    reported through ``on_failure`` and listed in the result; other errors stop
    the export (resumable)."""
    digest = hashlib.sha256("\n".join(values).encode()).hexdigest()[:16]
    job: dict[str, str | int] = {"kind": "labels", "type": id_type, "values": digest}
    plan = _open_output(output, fmt, SubscriberLabel, job, resume=resume, overwrite=overwrite)
    ckpt = plan.checkpoint
    start = ckpt.next if ckpt else 0
    items = ckpt.items if ckpt else 0
    saver = _Checkpointer(output, plan, job, fmt, checkpoint_interval)
    progress = progress or NoProgress()
    progress.start(None)
    failed: list[tuple[str, str]] = list(ckpt.failed) if ckpt else []
    began = time.perf_counter()
    done = 0
    with _committing(saver, progress):
        async for i, value, result in _labels_in_order(
            client, id_type, values, start, 2 * client.max_concurrency, page_size
        ):
            if isinstance(result, FloliveError):
                failed.append((value, f"{type(result).__name__}: {result}"))
                if on_failure:
                    on_failure(value, result)
            else:
                plan.writer.write(
                    [
                        SubscriberLabel(id_type, value, lb.id, lb.name, lb.creation_time)
                        for lb in result
                    ]
                )
                items += len(result)
                progress.advance(len(result), 1)
            done += 1
            saver.maybe_save(next_=i + 1, items=items, page_size=0, page_base=0, failed=failed)
    return ExportResult(items, done, time.perf_counter() - began, start if ckpt else None, failed)
