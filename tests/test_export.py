"""The export layer in-process: checkpoints, resume rules, failures, formats."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flolive import Client, FloliveError, ListChangedWarning, SubscriberNotFound
from flolive.export import (
    FORMATS,
    Checkpoint,
    CsvWriter,
    ExportError,
    Format,
    JsonlWriter,
    NothingToResume,
    ParquetWriter,
    export_labels,
    export_participants,
    format_for,
    register_format,
)
from flolive.export import writers as writers_module
from flolive.sandbox import DataSet, Sandbox

from .conftest import PageGate
from .support.cli import EXPECTED_IDS
from .support.export import Interrupt, SeeParts, StopAfter

StartSandbox = Callable[..., Awaitable[Sandbox]]


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[Client]:
    """A client of the shared sandbox, reading pages of 10."""
    async with Client(base_url=sandbox.url, page_size=10) as c:
        yield c


def ids_of(path: Path | str) -> list[int]:
    return [json.loads(line)["id"] for line in Path(path).read_text().splitlines()]


async def test_label_failures_survive_a_resume(tmp_path: Path, sandbox: Sandbox) -> None:
    data = DataSet()
    values = [
        "8935779999999999999",  # no such subscriber
        data.identifier("iccid", 1, 3, 999),
        data.identifier("iccid", 1, 3, 5),
        data.identifier("iccid", 1, 3, 7),
    ]
    out = str(tmp_path / "labels.jsonl")
    async with Client(base_url=sandbox.url) as client:
        with pytest.raises(Interrupt):
            await export_labels(
                client, "iccid", values, out, progress=StopAfter(2), checkpoint_interval=0
            )
        ckpt = Checkpoint.load(out)
        assert ckpt is not None
        assert (ckpt.next, ckpt.pages, ckpt.items, ckpt.expected) == (2, 2, 45, 45)
        assert [v for v, _ in ckpt.failed] == [values[0]]
        progress = StopAfter(10)
        result = await export_labels(client, "iccid", values, out, resume=True, progress=progress)
    assert progress.started == (None, 45, 2, 4)
    assert [v for v, _ in result.failed] == [values[0]]
    assert "SUBSCRIBER_1002" in result.failed[0][1]
    rows = [json.loads(line) for line in Path(out).read_text().splitlines()]
    counts = {v: sum(r["idValue"] == v for r in rows) for v in values}
    sub = {i: data.find_subscriber("iccid", data.identifier("iccid", 1, 3, i)) for i in (999, 5, 7)}
    assert counts == {
        values[0]: 0,
        values[1]: 45,
        values[2]: data.label_count(sub[5]),  # type: ignore[arg-type]
        values[3]: data.label_count(sub[7]),  # type: ignore[arg-type]
    }
    assert (result.items, result.pages, result.run_pages, result.resumed_at) == (
        len(rows),
        4,
        2,
        2,
    )
    assert result.run_items == len(rows) - 45
    assert (result.expected, result.missing, result.unit) == (len(rows), 0, "identifiers")


async def test_resume_refuses_another_jobs_checkpoint(tmp_path: Path, client: Client) -> None:
    out = str(tmp_path / "p.jsonl")
    with pytest.raises(Interrupt):
        await export_participants(client, 1, 1, out, progress=StopAfter(3), checkpoint_interval=0)
    before = Path(out).read_bytes()
    with pytest.raises(ExportError, match="belongs to another export"):
        await export_participants(client, 1, 5, out, resume=True)
    with pytest.raises(ExportError, match="belongs to another export"):
        await export_participants(client, 1, 1, out, resume=True, fmt="csv")
    assert Path(out).read_bytes() == before  # a refused resume truncates nothing
    # Bytes written after the checkpoint are dropped on resume.
    with open(out, "ab") as fh:
        fh.write(b'{"partial": ')
    progress = StopAfter(1000)
    result = await export_participants(client, 1, 1, out, resume=True, progress=progress)
    assert ids_of(out) == EXPECTED_IDS
    assert progress.started == (988, 30, 3, 99)
    assert (result.resumed_at, result.items, result.pages) == (3, 988, 99)
    assert (result.run_items, result.run_pages) == (958, 96)
    assert (result.expected, result.missing) == (988, 0)
    assert os.listdir(tmp_path) == ["p.jsonl"]
    with pytest.raises(NothingToResume, match="nothing to resume"):
        await export_participants(client, 1, 1, out, resume=True)
    assert ids_of(out) == EXPECTED_IDS


async def test_a_server_page_size_cap_is_recorded_and_reused(
    tmp_path: Path, start_sandbox: StartSandbox
) -> None:
    out = str(tmp_path / "p.csv")
    sandbox = await start_sandbox(max_page_size=40, record=True)
    async with Client(base_url=sandbox.url) as client:
        with pytest.raises(Interrupt):
            await export_participants(
                client,
                1,
                1,
                out,
                fmt="csv",
                page_size=500,
                progress=StopAfter(2),
                checkpoint_interval=0,
            )
        ckpt = Checkpoint.load(out)
        assert ckpt is not None
        assert (ckpt.page_size, ckpt.page_base) == (40, 0)
        sandbox.log.clear()
        await export_participants(client, 1, 1, out, fmt="csv", page_size=500, resume=True)
    assert {qs.split("size=")[1] for _, qs in sandbox.log} == {"40"}
    lines = Path(out).read_text().splitlines()
    assert lines[0].startswith("id,iccid,status")
    assert len(lines) == 989


async def test_the_checkpoint_exists_before_the_first_byte(
    tmp_path: Path, gated_sandbox: tuple[Sandbox, PageGate]
) -> None:
    sandbox, gate = gated_sandbox
    out = tmp_path / "p.csv"
    async with Client(base_url=sandbox.url, page_size=10) as client:
        task = asyncio.create_task(export_participants(client, 1, 1, str(out), fmt="csv"))
        await gate.until_held(0)
        ckpt = Checkpoint.load(str(out))
        assert ckpt is not None
        assert (ckpt.next, ckpt.offset, ckpt.items, ckpt.started) == (0, 0, 0, False)
        assert out.stat().st_size == 0  # the header is not on disk yet either
        await gate.open_to(float("inf"))
        result = await task
    assert result.items == 988
    assert os.listdir(tmp_path) == ["p.csv"]


async def test_resume_and_overwrite_together_are_refused(tmp_path: Path, client: Client) -> None:
    out = str(tmp_path / "p.jsonl")
    # The exporter names its own arguments, never the command's flags.
    with pytest.raises(ExportError, match=r"^resume and overwrite exclude each other") as info:
        await export_participants(client, 1, 1, out, resume=True, overwrite=True)
    assert info.value.refused == ("resume", "overwrite")
    assert os.listdir(tmp_path) == []


async def test_a_failure_before_any_progress_leaves_nothing_after_it_the_checkpoint_stays(
    tmp_path: Path, client: Client
) -> None:
    out = str(tmp_path / "p.jsonl")
    with pytest.raises(FloliveError, match="CUSTOMER_1037"):
        await export_participants(client, 1, 99, out)
    assert os.listdir(tmp_path) == []
    # A failure after progress keeps the output and its checkpoint for a resume.
    with pytest.raises(Interrupt):
        await export_participants(client, 1, 1, out, progress=StopAfter(4), checkpoint_interval=0)
    assert sorted(os.listdir(tmp_path)) == ["p.jsonl", "p.jsonl.flolive-checkpoint"]
    ckpt = Checkpoint.load(out)
    assert ckpt is not None
    assert (ckpt.next, ckpt.items, ckpt.pages) == (4, 40, 4)
    assert len(ids_of(out)) == 50  # the fifth page is written, not yet checkpointed


async def test_cancelling_an_export_leaks_nothing_and_it_resumes(
    no_leaks: None, tmp_path: Path, gated_sandbox: tuple[Sandbox, PageGate]
) -> None:
    # no_leaks comes first: it checks after the client and the sandbox closed.
    sandbox, gate = gated_sandbox
    out = str(tmp_path / "p.jsonl")
    await gate.open_to(30)
    async with Client(base_url=sandbox.url, page_size=10) as client:
        task = asyncio.create_task(export_participants(client, 1, 1, out, checkpoint_interval=0))
        await gate.until_held(30)
        async with asyncio.timeout(60):  # bounds a broken test only
            while (ckpt := Checkpoint.load(out)) is None or ckpt.next < 30:
                await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await gate.open_to(float("inf"))
        result = await export_participants(client, 1, 1, out, resume=True)
    assert (result.resumed_at, result.run_pages) == (30, 69)
    assert ids_of(out) == EXPECTED_IDS


async def test_on_failure_may_stop_a_label_export(
    no_leaks: None, tmp_path: Path, client: Client
) -> None:
    data = DataSet()
    values = ["8935779999999999999"] + [data.identifier("iccid", 1, 3, i) for i in range(40)]
    out = str(tmp_path / "labels.csv")

    def stop(value: str, error: FloliveError) -> None:
        raise error

    with pytest.raises(SubscriberNotFound):
        await export_labels(client, "iccid", values, out, fmt="csv", on_failure=stop)
    assert os.listdir(tmp_path) == []


async def test_completeness_is_checked_against_total_elements(
    tmp_path: Path, client: Client
) -> None:
    out = str(tmp_path / "p.jsonl")
    # A one-based client on the zero-based sandbox skips the first page.
    with pytest.warns(ListChangedWarning, match="ended after 978 items"):
        result = await export_participants(client, 1, 1, out, page_base=1)
    assert (result.items, result.expected, result.missing) == (978, 988, 10)
    assert ids_of(out) == EXPECTED_IDS[10:]


def parquet_ids(path: Path | str) -> list[int]:
    pq = pytest.importorskip("pyarrow.parquet")
    return list(pq.read_table(path).column("id").to_pylist())


async def test_parquet_resumes_from_its_parts_byte_identical(
    tmp_path: Path, client: Client
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    full = tmp_path / "full.parquet"
    await export_participants(client, 1, 1, str(full), fmt="parquet")
    out = tmp_path / "p.parquet"
    parts = tmp_path / "p.parquet.flolive-parts"
    with pytest.raises(Interrupt):
        await export_participants(
            client, 1, 1, str(out), fmt="parquet", progress=StopAfter(5), checkpoint_interval=0
        )
    assert sorted(os.listdir(tmp_path)) == [
        "full.parquet",
        "p.parquet.flolive-checkpoint",
        "p.parquet.flolive-parts",
    ]
    ckpt = Checkpoint.load(str(out))
    assert ckpt is not None
    assert (ckpt.next, ckpt.parts, ckpt.items, ckpt.offset) == (5, 5, 50, 0)
    # The sixth page is held in memory, not yet a part: the kill loses it.
    assert sorted(os.listdir(parts)) == [f"{i:06d}.part" for i in range(5)]
    # Without --resume, the interrupted export is not silently thrown away.
    with pytest.raises(
        ExportError,
        match=r"an interrupted export left p\.parquet\.flolive-checkpoint; resume=True continues",
    ):
        await export_participants(client, 1, 1, str(out), fmt="parquet")
    # A part written after the checkpoint, and a half-written one, are dropped.
    (parts / "000005.part").write_bytes((parts / "000000.part").read_bytes())
    (parts / "000006.tmp").write_bytes(b"ARROW1")
    result = await export_participants(client, 1, 1, str(out), fmt="parquet", resume=True)
    assert (result.resumed_at, result.items, result.run_items, result.pages) == (5, 988, 938, 99)
    assert parquet_ids(out) == EXPECTED_IDS
    assert out.read_bytes() == full.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["full.parquet", "p.parquet"]
    assert pq.ParquetFile(out).metadata.num_row_groups == 1
    with pytest.raises(NothingToResume):
        await export_participants(client, 1, 1, str(out), fmt="parquet", resume=True)
    with pytest.raises(ExportError, match="exists; overwrite=True replaces it"):
        await export_participants(client, 1, 1, str(out), fmt="parquet")
    # A failed --overwrite leaves the complete file as it was, and nothing else.
    with pytest.raises(Interrupt):
        await export_participants(
            client, 1, 5, str(out), fmt="parquet", overwrite=True, progress=StopAfter(1)
        )
    assert out.read_bytes() == full.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["full.parquet", "p.parquet"]
    with pytest.raises(ExportError, match="Parquet cannot be written to stdout"):
        await export_participants(client, 1, 5, "-", fmt="parquet")


async def test_a_parquet_resume_refuses_a_missing_part(tmp_path: Path, client: Client) -> None:
    pytest.importorskip("pyarrow")
    out = tmp_path / "p.parquet"
    with pytest.raises(Interrupt):
        await export_participants(
            client, 1, 1, str(out), fmt="parquet", progress=StopAfter(4), checkpoint_interval=0
        )
    (tmp_path / "p.parquet.flolive-parts" / "000002.part").unlink()
    with pytest.raises(ExportError, match=r"lacks 000002\.part, which its checkpoint records"):
        await export_participants(client, 1, 1, str(out), fmt="parquet", resume=True)
    result = await export_participants(client, 1, 1, str(out), fmt="parquet", overwrite=True)
    assert result.items == 988
    assert parquet_ids(out) == EXPECTED_IDS
    assert os.listdir(tmp_path) == ["p.parquet"]


async def test_parquet_row_groups_do_not_depend_on_parts_or_resumes(
    tmp_path: Path, client: Client
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    # Row groups (and parts) of 64 rows: pages of 10 make a part every 7 pages
    # (70 rows), and a checkpoint every page adds parts of one page.
    register_format(
        Format("pq64", ("pq64",), "Parquet", parts=lambda t: ParquetWriter(t, row_group_size=64))
    )
    try:
        out = tmp_path / "p.pq64"
        parts = tmp_path / "p.pq64.flolive-parts"
        seen = SeeParts(parts, at=20)
        with pytest.raises(Interrupt):
            await export_participants(
                client, 1, 1, str(out), fmt="pq64", progress=seen, checkpoint_interval=3600
            )
        # No checkpoint was due, yet parts were cut as rows reached 64 (after
        # pages 7 and 14), so memory holds one part at most ...
        assert seen.listing == ["000000.part", "000001.part"]
        # ... and as the interrupted run recorded nothing, nothing is left.
        assert os.listdir(tmp_path) == []
        with pytest.raises(Interrupt):
            await export_participants(
                client, 1, 1, str(out), fmt="pq64", progress=StopAfter(13), checkpoint_interval=0
            )
        ckpt = Checkpoint.load(str(out))
        assert ckpt is not None
        assert (ckpt.next, ckpt.items, ckpt.parts) == (13, 130, 13)  # a part a checkpoint
        result = await export_participants(client, 1, 1, str(out), fmt="pq64", resume=True)
    finally:
        del writers_module._REGISTRY["pq64"]
    assert result.items == 988
    meta = pq.ParquetFile(out).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [64] * 15 + [28]
    assert parquet_ids(out) == EXPECTED_IDS


async def test_a_label_export_to_parquet_resumes(tmp_path: Path, client: Client) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    data = DataSet()
    values = [data.identifier("iccid", 1, 3, i) for i in (999, 5, 7, 11)]
    full = tmp_path / "full.parquet"
    await export_labels(client, "iccid", values, str(full), fmt="parquet")
    out = tmp_path / "labels.parquet"
    with pytest.raises(Interrupt):
        await export_labels(
            client,
            "iccid",
            values,
            str(out),
            fmt="parquet",
            progress=StopAfter(2),
            checkpoint_interval=0,
        )
    result = await export_labels(client, "iccid", values, str(out), fmt="parquet", resume=True)
    assert (result.resumed_at, result.pages) == (2, 4)
    assert out.read_bytes() == full.read_bytes()
    table = pq.read_table(out)
    assert table.schema.names == ["idType", "idValue", "id", "name", "creationTime"]
    assert str(table.schema.field("creationTime").type) == "timestamp[ms]"
    assert table.column("idValue").to_pylist()[:45] == [values[0]] * 45
    assert sorted(os.listdir(tmp_path)) == ["full.parquet", "labels.parquet"]


async def test_a_registered_format_is_chosen_by_name_and_extension(
    tmp_path: Path, client: Client
) -> None:
    register_format(Format("lines", ("lines",), "Lines", append=JsonlWriter))
    try:
        assert "lines" in FORMATS
        assert format_for("x.LINES", None) == "lines"
        assert format_for("x.csv", None) == "csv"
        assert format_for("x.parquet", "jsonl") == "jsonl"
        assert format_for("x.txt", None) == "jsonl"
        out = tmp_path / "p.lines"
        result = await export_participants(client, 1, 5, str(out), fmt=format_for(str(out), None))
    finally:
        del writers_module._REGISTRY["lines"]
    assert result.items == 25
    assert ids_of(out) == EXPECTED_IDS[:25]
    with pytest.raises(
        ExportError, match="unknown format 'lines'; choose one of jsonl, csv, parquet"
    ):
        await export_participants(client, 1, 5, str(out), fmt="lines", overwrite=True)


@pytest.mark.parametrize("layout", ["append", "parts"])
async def test_a_writer_that_cannot_be_made_leaves_nothing(
    tmp_path: Path, client: Client, layout: str
) -> None:
    def unavailable(*args: object) -> Any:
        raise ExportError("Broken needs a library: pip install 'flolive-sdk[broken]'")

    register_format(Format("broken", ("broken",), "Broken", **{layout: unavailable}))
    try:
        with pytest.raises(ExportError, match="Broken needs a library"):
            await export_participants(client, 1, 5, str(tmp_path / "p.broken"), fmt="broken")
    finally:
        del writers_module._REGISTRY["broken"]
    assert os.listdir(tmp_path) == []


# -- the writers ----------------------------------------------------------------


class Row(msgspec.Struct, rename="camel"):
    """A row type with every kind of field the writers handle."""

    text: str
    number: int
    maybe_text: str | None
    when: dt.datetime
    ratio: float
    flag: bool
    nested: list[int]
    uid: uuid.UUID


ROW_NAMES = ["text", "number", "maybeText", "when", "ratio", "flag", "nested", "uid"]

rows_strategy = st.builds(
    Row,
    text=st.text(),
    number=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    maybe_text=st.none() | st.text(),
    when=st.datetimes(),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    flag=st.booleans(),
    nested=st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=3),
    uid=st.uuids(),
)


def written(writer_type: Any, pages: list[list[Row]], cut: int | None = None) -> bytes:
    """``pages`` written by one writer, or by two (the second appending
    without a header, as after a resume) when ``cut`` is given."""
    buf = io.BytesIO()
    writer = writer_type(buf, Row, True)
    for i, page in enumerate(pages):
        if i == cut:
            writer = writer_type(buf, Row, False)
        writer.write(page)
    writer.finish()
    return buf.getvalue()


@settings(max_examples=300, deadline=None)
@given(pages=st.lists(st.lists(rows_strategy, max_size=4), max_size=4), data=st.data())
def test_csv_round_trips_through_the_csv_module_and_writes_what_jsonl_writes(
    pages: list[list[Row]], data: st.DataObject
) -> None:
    text = written(CsvWriter, pages)
    read = list(csv.reader(io.StringIO(text.decode(), newline="")))
    rows = [r for page in pages for r in page]
    objects = [json.loads(line) for line in written(JsonlWriter, pages).split(b"\n")[:-1]]
    assert read[0] == ROW_NAMES
    assert len(read) == 1 + len(rows)
    for fields, row, obj in zip(read[1:], rows, objects, strict=True):
        assert fields[0] == row.text
        assert fields[1] == str(row.number)
        assert fields[2] == ("" if row.maybe_text is None else row.maybe_text)
        assert fields[3] == obj["when"]  # date-times: the same text in both
        assert fields[3] == row.when.isoformat()
        assert float(fields[4]) == row.ratio
        assert fields[5] == json.dumps(row.flag)
        assert json.loads(fields[6]) == row.nested
        assert fields[7] == obj["uid"] == str(row.uid)
    # Byte-stable across a resume: a new writer appending without a header
    # at any page boundary writes the same bytes.
    cut = data.draw(st.integers(min_value=0, max_value=len(pages)))
    assert written(CsvWriter, pages, cut) == text


def test_csv_quotes_only_what_needs_it() -> None:
    when = dt.datetime(2022, 2, 11, 14, 21, 53, 120000)
    uid = uuid.UUID(int=1)
    values = ["plain", "a,b", 'say "hi"', "two\nlines", "cr\r\nlf", "", " lead"]
    rows = [Row(v, -1, None if v else "x", when, 0.5, True, [1, 2], uid) for v in values]
    lines = written(CsvWriter, [rows[:3], rows[3:]]).decode().split("\n")
    tail = '-1,{},2022-02-11T14:21:53.120000,0.5,true,"[1,2]",00000000-0000-0000-0000-000000000001'
    assert lines[0] == ",".join(ROW_NAMES)
    assert lines[1] == "plain," + tail.format("")
    assert lines[2] == '"a,b",' + tail.format("")
    assert lines[3] == '"say ""hi""",' + tail.format("")
    assert lines[4:6] == ['"two', 'lines",' + tail.format("")]
    assert lines[6:8] == ['"cr\r', 'lf",' + tail.format("")]
    assert lines[8] == "," + tail.format("x")
    assert lines[9:] == [" lead," + tail.format(""), ""]

    class One(msgspec.Struct):
        value: str

    buf = io.BytesIO()
    CsvWriter(buf, One).write([One(""), One("a")])
    # A line of one empty field would read back as no field at all.
    assert buf.getvalue() == b'value\n""\na\n'
    assert list(csv.reader(io.StringIO(buf.getvalue().decode()))) == [["value"], [""], ["a"]]


class FlatRow(msgspec.Struct, rename="camel"):
    """The fields of :class:`Row` that Parquet holds: all but the nested one."""

    text: str
    number: int
    maybe_text: str | None
    when: dt.datetime
    ratio: float
    flag: bool
    uid: uuid.UUID


def test_parquet_columns_of_every_kind(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    writer = ParquetWriter(FlatRow)
    when = dt.datetime(2022, 2, 11, 14, 21, 53)
    rows = [
        FlatRow("a,b", 7, None, when.replace(microsecond=120999), 0.5, True, uuid.UUID(int=1)),
        FlatRow("", -1, "x", when, -2.0, False, uuid.UUID(int=2)),
    ]
    paths = []
    for i, page in enumerate([rows[:1], rows[1:]]):
        writer.write(page)
        assert writer.held == 1
        paths.append(tmp_path / f"{i}.part")
        with open(paths[-1], "wb") as fh:
            writer.write_part(fh)
        assert writer.held == 0
    with open(tmp_path / "out.parquet", "wb") as fh:
        writer.join(paths, fh)
    table = pq.read_table(tmp_path / "out.parquet")
    assert [(f.name, str(f.type), f.nullable) for f in table.schema] == [
        ("text", "string", False),
        ("number", "int64", False),
        ("maybeText", "string", True),
        ("when", "timestamp[ms]", False),
        ("ratio", "double", False),
        ("flag", "bool", False),
        ("uid", "string", False),
    ]
    assert table.to_pylist() == [
        {
            "text": "a,b",
            "number": 7,
            "maybeText": None,
            "when": when.replace(microsecond=120000),  # to the millisecond
            "ratio": 0.5,
            "flag": True,
            "uid": "00000000-0000-0000-0000-000000000001",
        },
        {
            "text": "",
            "number": -1,
            "maybeText": "x",
            "when": when,
            "ratio": -2.0,
            "flag": False,
            "uid": "00000000-0000-0000-0000-000000000002",
        },
    ]
    with pytest.raises(ExportError, match=r"cannot hold Mixed rows: Mixed\.value: no Arrow"):
        ParquetWriter(Mixed)


class Mixed(msgspec.Struct):
    """A field with no single Arrow column type (flolive.arrow holds nested values)."""

    value: int | str


def test_a_format_has_exactly_one_way_of_writing() -> None:
    with pytest.raises(ValueError, match="give exactly one of append= and parts="):
        Format("both", ("both",), "Both", append=JsonlWriter, parts=ParquetWriter)
    with pytest.raises(ValueError, match="give exactly one of append= and parts="):
        Format("none", ("none",), "None")
    assert FORMATS["csv"].streams
    assert not FORMATS["parquet"].streams
