"""Output formats: one :class:`Writer` per format, chosen from a registry.

A writer encodes rows (``msgspec.Struct`` instances) onto a binary file it does
not own: the export job opens, syncs, renames and closes the file, so every
format gets the same durability and resume rules. A format says whether its
bytes on disk are always a prefix of the finished file (then an interrupted
export can be truncated and resumed in place) and whether it can be streamed
to a pipe.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec

from .errors import ExportError

__all__ = [
    "CsvWriter",
    "FORMATS",
    "Format",
    "JsonlWriter",
    "ParquetWriter",
    "SubscriberLabel",
    "Writer",
    "format_for",
    "register_format",
]


class SubscriberLabel(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    """One exported label row: the subscriber identifier, then the label."""

    id_type: str
    id_value: str
    id: uuid.UUID
    name: str
    creation_time: dt.datetime


class Writer(Protocol):
    """Encodes rows of one format onto a binary file owned by the caller."""

    def write(self, rows: Sequence[Any]) -> None:
        """Encode ``rows`` (instances of the row type given at creation)."""
        ...

    def flush(self) -> None:
        """Hand every row written so far to the file object (the caller
        flushes and fsyncs the file itself)."""
        ...

    def finish(self) -> None:
        """Write what ends the format (a footer); nothing is written after it."""
        ...


WriterFactory = Callable[[IO[bytes], type[Any], bool], Writer]
"""``factory(file, row_type, header)``: a writer for rows of ``row_type``;
``header`` is false when appending to a file that already has one."""


@dataclass(frozen=True)
class Format:
    """An output format the exporter can write.

    Attributes:
        name: the ``--format`` name (``"jsonl"``).
        extensions: file extensions that select it (``("csv",)``), lower case.
        make: the writer factory.
        resumable: the bytes on disk are always a prefix of the finished file,
            so an interrupted export is truncated to its checkpoint and resumed
            in place. Otherwise the file is written under a temporary name and
            renamed when complete.
        streams: can be written to a pipe (``-o -``).
        title: the name in messages (``"Parquet"``).
    """

    name: str
    extensions: tuple[str, ...]
    make: WriterFactory
    resumable: bool
    streams: bool
    title: str


_REGISTRY: dict[str, Format] = {}
#: The registered formats by name (a read-only view; see :func:`register_format`).
FORMATS: Mapping[str, Format] = _REGISTRY


def register_format(fmt: Format) -> None:
    """Add (or replace) an output format, selectable by name and extension."""
    _REGISTRY[fmt.name] = fmt


def format_for(path: str, explicit: str | None) -> str:
    """The output format's name: ``explicit``, else from the file extension, else ``"jsonl"``."""
    if explicit:
        return explicit
    suffix = Path(path).suffix.lower().lstrip(".")
    for fmt in _REGISTRY.values():
        if suffix in fmt.extensions:
            return fmt.name
    return "jsonl"


def _columns(row_type: type[Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(attribute names, wire names) of a Struct type."""
    return row_type.__struct_fields__, row_type.__struct_encode_fields__


class JsonlWriter:
    """One JSON object a line, encoded by msgspec (camelCase keys, ISO date-times)."""

    def __init__(self, fh: IO[bytes], row_type: type[Any], header: bool = True) -> None:
        self._fh = fh
        self._encoder = msgspec.json.Encoder()

    def write(self, rows: Sequence[Any]) -> None:
        if rows:
            self._fh.write(self._encoder.encode_lines(rows))

    def flush(self) -> None:
        pass  # every write went to the file object at once

    def finish(self) -> None:
        pass


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    return v  # str() of a datetime is the API's own "2022-02-11 14:21:53"


class CsvWriter:
    """CSV with a header of the API's field names (left out when appending)."""

    def __init__(self, fh: IO[bytes], row_type: type[Any], header: bool = True) -> None:
        self._fh = fh
        self._attrs, names = _columns(row_type)
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\n")
        if header:
            self._csv.writerow(names)
            self._drain()

    def _drain(self) -> None:
        self._fh.write(self._buf.getvalue().encode())
        self._buf.seek(0)
        self._buf.truncate()

    def write(self, rows: Sequence[Any]) -> None:
        attrs = self._attrs
        self._csv.writerows([_csv_value(getattr(r, a)) for a in attrs] for r in rows)
        self._drain()

    def flush(self) -> None:
        pass  # every write went to the file object at once

    def finish(self) -> None:
        pass


class ParquetWriter:
    """Parquet written in row groups while streaming (needs the ``parquet`` extra).

    Rows become Arrow batches as they arrive (compact, columnar); a row group
    is written once ``row_group_size`` rows (65,536) are held, or on :meth:`flush`.
    """

    def __init__(
        self,
        fh: IO[bytes],
        row_type: type[Any],
        header: bool = True,
        row_group_size: int = 65_536,
    ) -> None:
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
        # pyarrow leaves a Python file object open on close(): the job owns it.
        self._writer = pq.ParquetWriter(fh, self._schema)
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
            self.flush()

    def flush(self) -> None:
        if not self._batches:
            return
        table = self._pa.Table.from_batches(self._batches, schema=self._schema)
        self._batches, self._held = [], 0
        self._writer.write_table(table, row_group_size=table.num_rows)

    def finish(self) -> None:
        self.flush()
        self._writer.close()


def _builtin() -> Iterator[Format]:
    yield Format("jsonl", ("jsonl", "ndjson", "json"), JsonlWriter, True, True, "JSONL")
    yield Format("csv", ("csv",), CsvWriter, True, True, "CSV")
    # A Parquet file ends in a footer: its bytes are never a prefix of the
    # finished file, so it cannot be resumed; it is written under a temporary
    # name and renamed when complete, which a pipe cannot do.
    yield Format("parquet", ("parquet", "pq"), ParquetWriter, False, False, "Parquet")


for _fmt in _builtin():
    register_format(_fmt)
