"""Output formats: one writer per format, chosen from a registry.

A writer encodes rows (``msgspec.Struct`` instances) onto binary files it does
not own: the export job opens, syncs, renames and closes every file, so every
format gets the same durability and resume rules. A format is written in one
of two ways:

- **appended** (JSONL, CSV): the bytes on disk are always a prefix of the
  finished file, so an interrupted export is truncated to its checkpoint and
  resumed in place, and the format can be streamed to a pipe;
- **in parts** (Parquet, which ends in a footer): rows are written as durable
  part files beside the output, which are joined into the output at the end.

Date-times are written the same way in every format that writes them as text:
ISO 8601 as msgspec encodes them, ``2022-02-11T14:21:53`` (naive, as the API
sends them; six fractional digits when there are any, ``14:21:53.120000``).
Parquet stores them as ``timestamp[ms]`` without a zone.
"""

from __future__ import annotations

import datetime as dt
import operator
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec
import msgspec.inspect as mi

from .errors import ExportError

__all__ = [
    "CsvWriter",
    "FORMATS",
    "Format",
    "JsonlWriter",
    "ParquetWriter",
    "PartsWriter",
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
    """Encodes rows of an appended format onto a binary file owned by the caller."""

    def write(self, rows: Sequence[Any]) -> None:
        """Encode ``rows`` (instances of the row type given at creation)."""
        ...

    def flush(self) -> None:
        """Hand every row written so far to the file object (the caller
        flushes and fsyncs the file itself)."""
        ...

    def finish(self) -> None:
        """Write what ends the format; nothing is written after it."""
        ...


class PartsWriter(Protocol):
    """Encodes rows of a format written in parts: rows are held (compactly)
    until the caller asks for a part, and the parts are joined at the end.

    Attributes:
        held: rows written since the last part.
        part_rows: the rows a part should hold at most; the caller writes a
            part once ``held`` reaches it (and at each checkpoint), which
            bounds the memory an export uses.
    """

    held: int
    part_rows: int

    def write(self, rows: Sequence[Any]) -> None:
        """Hold ``rows`` (instances of the row type given at creation)."""
        ...

    def write_part(self, fh: IO[bytes]) -> None:
        """Encode the rows held as one part onto ``fh``, and drop them."""
        ...

    def join(self, parts: Sequence[Path], fh: IO[bytes]) -> None:
        """Write the finished file onto ``fh``: the rows of ``parts`` (files
        made by :meth:`write_part`), in order, reading one part at a time."""
        ...


WriterFactory = Callable[[IO[bytes], type[Any], bool], Writer]
"""``factory(file, row_type, header)``: a writer for rows of ``row_type``;
``header`` is false when appending to a file that already has one."""

PartsWriterFactory = Callable[[type[Any]], PartsWriter]
"""``factory(row_type)``: a parts writer for rows of ``row_type``."""


@dataclass(frozen=True)
class Format:
    """An output format the exporter can write; give exactly one of
    ``append`` and ``parts``.

    Attributes:
        name: the ``--format`` name (``"jsonl"``).
        extensions: file extensions that select it (``("csv",)``), lower case.
        title: the name in messages (``"Parquet"``).
        append: the writer factory of a format whose bytes on disk are always
            a prefix of the finished file: it is written in place, resumed by
            truncation to its checkpoint, and can be streamed to a pipe.
        parts: the writer factory of a format written as part files beside
            the output and joined into it at the end (never to a pipe).
    """

    name: str
    extensions: tuple[str, ...]
    title: str
    append: WriterFactory | None = None
    parts: PartsWriterFactory | None = None

    def __post_init__(self) -> None:
        if (self.append is None) == (self.parts is None):
            raise ValueError(f"format {self.name!r}: give exactly one of append= and parts=")

    @property
    def streams(self) -> bool:
        """Whether it can be written to a pipe or a device (``-o -``)."""
        return self.append is not None


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


def _fields(row_type: type[Any]) -> list[tuple[str, str, mi.Type, bool]]:
    """(attribute, wire name, type without ``None``, nullable) of each field
    of a Struct type."""
    info = mi.type_info(row_type)
    if not isinstance(info, mi.StructType):
        raise TypeError(f"rows must be msgspec.Struct instances, not {row_type!r}")
    out = []
    for f in info.fields:
        t, nullable = f.type, False
        if isinstance(t, mi.UnionType):
            rest = [u for u in t.types if not isinstance(u, mi.NoneType)]
            if len(rest) == 1 and len(rest) < len(t.types):
                t, nullable = rest[0], True
        out.append((f.name, f.encode_name, t, nullable))
    return out


# -- JSONL ---------------------------------------------------------------------


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


# -- CSV -----------------------------------------------------------------------

# A field holding one of these is quoted, its quotes doubled (RFC 4180, and
# what Python's csv module writes with QUOTE_MINIMAL).
_SPECIAL = (",", '"', "\n", "\r")

_Text = Callable[[list[Any]], list[str]]
"""the values of one column -> their CSV fields"""


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _quoted(fields: list[str]) -> list[str]:
    # One scan of the whole column in C; only a column that holds a special
    # character is looked at field by field.
    joined = "".join(fields)
    if not any(c in joined for c in _SPECIAL):
        return fields
    return [_quote(f) if any(c in f for c in _SPECIAL) else f for f in fields]


def _json_scalars(values: list[Any]) -> list[str]:
    # Integers, floats and booleans as JSON writes them, for a whole column in
    # one C call: none of them can hold a comma.
    return msgspec.json.encode(values)[1:-1].decode().split(",")


def _builtin_strings(values: list[Any]) -> list[str]:
    # Date-times, UUIDs, decimals, string enums: msgspec's text, as in JSONL.
    return _quoted(msgspec.to_builtins(values))


def _json_texts(values: list[Any]) -> list[str]:
    # Nested values (lists, structs, dicts): their JSON, as one field each.
    return _quoted([msgspec.json.encode(v).decode() for v in values])


def _csv_text(t: mi.Type) -> _Text:
    if isinstance(t, mi.StrType):
        return _quoted
    if isinstance(t, mi.IntType | mi.FloatType | mi.BoolType):
        return _json_scalars
    if isinstance(t, mi.EnumType | mi.LiteralType):
        values = [m.value for m in t.cls] if isinstance(t, mi.EnumType) else list(t.values)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return lambda column: _json_scalars(msgspec.to_builtins(column))
        return _builtin_strings
    if isinstance(t, mi.DateTimeType | mi.DateType | mi.TimeType | mi.UUIDType | mi.DecimalType):
        return _builtin_strings
    return _json_texts


def _nullable_text(text: _Text) -> _Text:
    # None is an empty field; the other values of the column as usual.
    def column(values: list[Any]) -> list[str]:
        present = [v for v in values if v is not None]
        if len(present) == len(values):
            return text(values)
        it = iter(text(present) if present else [])
        return ["" if v is None else next(it) for v in values]

    return column


class CsvWriter:
    """CSV with a header of the API's field names (left out when appending).

    Fields are quoted only when they hold a comma, a quote or a line break
    (quotes doubled), lines end in ``\\n``: what Python's :mod:`csv` module
    writes and reads back. Text fields are written as they are, numbers and
    booleans as in JSON, ``None`` as an empty field, date-times and UUIDs as
    msgspec writes them in JSONL (``2022-02-11T14:21:53``), nested values as
    their JSON.

    A page is encoded a column at a time (each gathered and converted by a
    C-level loop), then joined into lines: about 4x faster than
    :func:`csv.writer`, which works field by field.
    """

    def __init__(self, fh: IO[bytes], row_type: type[Any], header: bool = True) -> None:
        self._fh = fh
        fields = _fields(row_type)
        self._columns: list[tuple[Callable[[Any], Any], _Text]] = []
        for attr, _, t, nullable in fields:
            text = _nullable_text(_csv_text(t)) if nullable else _csv_text(t)
            self._columns.append((operator.attrgetter(attr), text))
        # A line of one empty field would read back as no field at all.
        self._lone = len(fields) == 1
        if header:
            names = _quoted([name for _, name, _, _ in fields])
            self._fh.write(self._lines([[name] for name in names]))

    def _lines(self, columns: list[list[str]]) -> bytes:
        if self._lone:
            columns = [[f or '""' for f in columns[0]]]
        return ("\n".join(map(",".join, zip(*columns, strict=True))) + "\n").encode()

    def write(self, rows: Sequence[Any]) -> None:
        if rows:
            self._fh.write(self._lines([text(list(map(get, rows))) for get, text in self._columns]))

    def flush(self) -> None:
        pass  # every write went to the file object at once

    def finish(self) -> None:
        pass


# -- Parquet -------------------------------------------------------------------


class ParquetWriter:
    """Parquet, written in parts (needs the ``parquet`` extra, pyarrow).

    Rows become one Arrow record batch per page as they arrive (compact,
    columnar). A part is an Arrow IPC file of the batches held (zstd, when
    pyarrow has it); the finished file is written from the parts one at a
    time, in row groups of ``row_group_size`` rows (65,536) whatever the parts
    held, so an export resumed after a kill is byte-identical to an
    uninterrupted one, and memory stays flat however long the list.

    Columns have the types of :mod:`flolive.arrow` (integers ``int64``,
    date-times ``timestamp[ms]`` without a zone, UUIDs and statuses strings,
    only fields that may be ``None`` nullable, nested values as
    :mod:`flolive.arrow` gives them), named as the API names the fields
    (``creationTime``; the fields of nested structs too, ``isLastActive``),
    as in JSONL and CSV.

    Raises:
        ExportError: pyarrow is not installed, or ``row_type`` has a field
            :mod:`flolive.arrow` has no column type for.
    """

    def __init__(self, row_type: type[Any], row_group_size: int = 65_536) -> None:
        try:
            import pyarrow as pa
            import pyarrow.ipc
            import pyarrow.parquet

            from .. import arrow
        except ImportError:  # pragma: no cover - depends on the install
            raise ExportError("Parquet needs pyarrow: pip install 'flolive-sdk[parquet]'") from None
        self._pa = pa
        self._ipc = pyarrow.ipc
        self._pq = pyarrow.parquet
        self._arrow = arrow
        self._row_type = row_type
        try:
            schema = arrow.schema_for(row_type)
        except TypeError as exc:
            raise ExportError(f"Parquet cannot hold {row_type.__name__} rows: {exc}") from None
        # flolive.arrow's columns, named as the API names them (as in JSONL
        # and CSV), the fields of nested structs too.
        fields = _fields(row_type)
        self.schema = pa.schema(
            [
                f.with_name(name).with_type(_api_named(pa, f.type, t))
                for f, (_, name, t, _) in zip(schema, fields, strict=True)
            ]
        )
        # Renaming leaves the memory layout as it is: such a column is a view.
        self._renamed = [f.type != g.type for f, g in zip(schema, self.schema, strict=True)]
        codec = "zstd" if pa.Codec.is_available("zstd") else None
        self._ipc_options = pyarrow.ipc.IpcWriteOptions(compression=codec)
        self._batches: list[Any] = []
        self.held = 0
        self.part_rows = row_group_size
        self.row_group_size = row_group_size

    def write(self, rows: Sequence[Any]) -> None:
        """Hold ``rows`` as one Arrow record batch."""
        if not rows:
            return
        batch = self._arrow.to_record_batch(rows, self._row_type)
        columns = [
            column.view(field.type) if renamed else column
            for column, field, renamed in zip(
                batch.columns, self.schema, self._renamed, strict=True
            )
        ]
        self._batches.append(self._pa.RecordBatch.from_arrays(columns, schema=self.schema))
        self.held += len(rows)

    def write_part(self, fh: IO[bytes]) -> None:
        """Write the batches held as one Arrow IPC file onto ``fh``, and drop them."""
        with self._ipc.new_file(fh, self.schema, options=self._ipc_options) as part:
            for batch in self._batches:
                part.write_batch(batch)
        self._batches, self.held = [], 0

    def _batches_of(self, parts: Sequence[Path]) -> Iterator[Any]:
        for path in parts:
            # Read (not memory-mapped): the batches outlive the open file.
            with self._pa.OSFile(str(path)) as source:
                reader = self._ipc.open_file(source)
                for i in range(reader.num_record_batches):
                    yield reader.get_batch(i)

    def join(self, parts: Sequence[Path], fh: IO[bytes]) -> None:
        """Write one Parquet file onto ``fh`` from ``parts``, in order, in row
        groups of ``row_group_size`` rows; at most one part and one row group
        are in memory at a time."""
        pa, size = self._pa, self.row_group_size
        # pyarrow leaves a Python file object open on close(): the job owns it.
        with self._pq.ParquetWriter(fh, self.schema) as out:
            pending: list[Any] = []
            held = 0
            for batch in self._batches_of(parts):
                pending.append(batch)
                held += batch.num_rows
                if held < size:
                    continue
                table = pa.Table.from_batches(pending, schema=self.schema)
                while table.num_rows >= size:
                    out.write_table(table.slice(0, size), row_group_size=size)
                    table = table.slice(size)
                pending, held = table.to_batches(), table.num_rows
            if held:
                out.write_table(pa.Table.from_batches(pending, schema=self.schema), size)


def _api_named(pa: Any, arrow_type: Any, t: mi.Type) -> Any:
    """``arrow_type`` (the column type :mod:`flolive.arrow` gives a field of
    type ``t``) with the fields of its structs, at any depth, named as the API
    names them (``isLastActive``). Types whose shape does not follow ``t``
    field for field are left as they are."""
    if isinstance(t, mi.UnionType):
        rest = [u for u in t.types if not isinstance(u, mi.NoneType)]
        if len(rest) != 1:
            return arrow_type
        t = rest[0]
    if isinstance(t, mi.StructType) and pa.types.is_struct(arrow_type):
        if arrow_type.num_fields != len(t.fields):
            return arrow_type
        return pa.struct(
            [
                arrow_type.field(i)
                .with_name(f.encode_name)
                .with_type(_api_named(pa, arrow_type.field(i).type, f.type))
                for i, f in enumerate(t.fields)
            ]
        )
    sequences = mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType
    if isinstance(t, sequences):
        if pa.types.is_list(arrow_type):
            make = pa.list_
        elif pa.types.is_large_list(arrow_type):
            make = pa.large_list
        else:
            return arrow_type
        value = arrow_type.value_field
        return make(value.with_type(_api_named(pa, value.type, t.item_type)))
    return arrow_type


def _builtin() -> Iterator[Format]:
    yield Format("jsonl", ("jsonl", "ndjson", "json"), "JSONL", append=JsonlWriter)
    yield Format("csv", ("csv",), "CSV", append=CsvWriter)
    yield Format("parquet", ("parquet", "pq"), "Parquet", parts=ParquetWriter)


for _fmt in _builtin():
    register_format(_fmt)
