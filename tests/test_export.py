"""The export layer in-process: checkpoints, resume rules, failures, formats."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from flolive import Client, FloliveError, ListChangedWarning, SubscriberNotFound
from flolive.export import (
    FORMATS,
    Checkpoint,
    ExportError,
    Format,
    JsonlWriter,
    NothingToResume,
    export_labels,
    export_participants,
    format_for,
    register_format,
)
from flolive.export import writers as writers_module
from flolive.sandbox import DataSet, Sandbox

from .conftest import PageGate

EXPECTED_IDS = [1_030_247 + i for i in range(988)]
StartSandbox = Callable[..., Awaitable[Sandbox]]


class Interrupt(Exception):
    pass


class StopAfter:
    """A progress sink that interrupts the export after some advances."""

    def __init__(self, advances: int) -> None:
        self.left = advances
        self.started: tuple[int | None, int, int] | None = None

    def start(self, total: int | None, *, items: int = 0, pages: int = 0) -> None:
        self.started = (total, items, pages)

    def advance(self, items: int, pages: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise Interrupt

    def stop(self) -> None:
        pass


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
    assert progress.started == (None, 45, 2)
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
    assert progress.started == (988, 30, 3)
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
    with pytest.raises(ExportError, match="--resume and --overwrite exclude each other"):
        await export_participants(client, 1, 1, out, resume=True, overwrite=True)
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


async def test_parquet_is_renamed_into_place_only_when_complete(
    tmp_path: Path, client: Client
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "p.parquet"
    with pytest.raises(Interrupt):
        await export_participants(client, 1, 1, str(out), fmt="parquet", progress=StopAfter(5))
    assert os.listdir(tmp_path) == []
    with pytest.raises(ExportError, match="Parquet output cannot be resumed"):
        await export_participants(client, 1, 1, str(out), fmt="parquet", resume=True)
    result = await export_participants(client, 1, 1, str(out), fmt="parquet")
    assert result.items == 988
    assert os.listdir(tmp_path) == ["p.parquet"]
    assert pq.read_table(out).column("id").to_pylist() == EXPECTED_IDS
    before = out.read_bytes()
    with pytest.raises(ExportError, match="exists; use --overwrite"):
        await export_participants(client, 1, 5, str(out), fmt="parquet")
    with pytest.raises(Interrupt):
        await export_participants(
            client, 1, 5, str(out), fmt="parquet", overwrite=True, progress=StopAfter(1)
        )
    assert out.read_bytes() == before
    assert os.listdir(tmp_path) == ["p.parquet"]
    with pytest.raises(ExportError, match="Parquet cannot be written to stdout"):
        await export_participants(client, 1, 5, "-", fmt="parquet")


async def test_a_registered_format_is_chosen_by_name_and_extension(
    tmp_path: Path, client: Client
) -> None:
    register_format(Format("lines", ("lines",), JsonlWriter, True, True, "Lines"))
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


@pytest.mark.parametrize("resumable", [True, False])
async def test_a_writer_that_cannot_be_made_leaves_nothing(
    tmp_path: Path, client: Client, resumable: bool
) -> None:
    def unavailable(fh: object, row_type: object, header: bool) -> JsonlWriter:
        raise ExportError("Broken needs a library: pip install 'flolive-sdk[broken]'")

    register_format(Format("broken", ("broken",), unavailable, resumable, True, "Broken"))
    try:
        with pytest.raises(ExportError, match="Broken needs a library"):
            await export_participants(client, 1, 5, str(tmp_path / "p.broken"), fmt="broken")
    finally:
        del writers_module._REGISTRY["broken"]
    assert os.listdir(tmp_path) == []
