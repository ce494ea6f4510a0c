"""Subscriber exports: the paged list and the point-in-time cursor, in process
and as `flolive export subscribers` processes killed and resumed."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web

from flolive import (
    Client,
    CursorExpired,
    CursorToken,
    ListIncompleteWarning,
    Subscriber,
    SubscriberDetails,
)
from flolive.cli import CURSOR_EXPIRED_MESSAGE, ExitCode
from flolive.export import (
    Checkpoint,
    ExportError,
    export_all_subscribers,
    export_participants,
    export_subscribers,
)
from flolive.sandbox import DataSet, Sandbox

from .conftest import PageGate
from .support.cli import FLOLIVE, arun, on_terminal, one_line, run, spawn
from .support.export import Interrupt, StopAfter, files_of
from .support.kill import (
    KillPoint,
    checkpoint_next,
    checkpoint_of,
    kill,
    kill_at_each,
    until,
)

DATA = DataSet()
StartSandbox = Callable[..., Awaitable[Sandbox]]
#: Customer 2 has 2,500 SIMs in the sandbox.
CUSTOMER_2 = 2_500
FORMATS = ["jsonl", "csv", "parquet"]


def expected_rows(customer: int, n: int, details: bool = False) -> list[Any]:
    """The first ``n`` SIMs of ``customer`` as the SDK decodes them."""
    model: type[Any] = SubscriberDetails if details else Subscriber
    wire = DATA.all_details(customer, 0, n) if details else DATA.subscribers(customer, 0, n)
    return [msgspec.json.decode(msgspec.json.encode(w), type=model) for w in wire]


def as_objects(rows: list[Any]) -> list[dict[str, Any]]:
    """Rows as JSONL writes them, read back."""
    return [json.loads(line) for line in msgspec.json.Encoder().encode_lines(rows).splitlines()]


def need_parquet(fmt: str) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")


def read_back(path: Path, fmt: str) -> list[dict[str, Any]]:
    """An output's rows as JSON objects (JSONL, Parquet: nested values as JSONL
    has them, mappings read back from their JSON text), or CSV fields (compare
    with :func:`as_csv`)."""
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(path.read_text(), newline="")))
    pq = pytest.importorskip("pyarrow.parquet")
    return [
        {k: _parquet_value(v) for k, v in row.items()} for row in pq.read_table(path).to_pylist()
    ]


def _parquet_value(value: Any) -> Any:
    # Mappings are JSON text in Parquet: read back as objects.
    if isinstance(value, str) and value.startswith("{"):
        return json.loads(value)
    if isinstance(value, dict):
        return {k: _parquet_value(v) for k, v in value.items()}
    return value


def as_csv(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """What CSV holds of JSON objects: nested values as their JSON text,
    ``None`` as an empty field, booleans and numbers as JSON writes them."""

    def field(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    return [{k: field(v) for k, v in obj.items()} for obj in objects]


def expected_in(fmt: str, rows: list[Any]) -> list[Any]:
    """``rows`` as :func:`read_back` reads them from a ``fmt`` output."""
    objects = as_objects(rows)
    return as_csv(objects) if fmt == "csv" else objects


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[Client]:
    async with Client(base_url=sandbox.url, page_size=500) as c:
        yield c


# -- in process ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_paged_and_cursor_exports_write_the_same_file_of_every_sim(
    tmp_path: Path, client: Client, fmt: str
) -> None:
    need_parquet(fmt)
    paged, cursor = tmp_path / f"paged.{fmt}", tmp_path / f"cursor.{fmt}"
    by_pages = await export_subscribers(client, 2, str(paged), fmt=fmt)
    by_cursor = await export_all_subscribers(client, 2, str(cursor), fmt=fmt, chunk_size=700)
    assert (by_pages.items, by_pages.pages, by_pages.expected, by_pages.unit) == (
        CUSTOMER_2,
        5,
        CUSTOMER_2,
        "pages",
    )
    assert (by_cursor.items, by_cursor.pages, by_cursor.expected, by_cursor.unit) == (
        CUSTOMER_2,
        4,
        CUSTOMER_2,
        "chunks",
    )
    assert by_cursor.missing == by_pages.missing == 0
    assert cursor.read_bytes() == paged.read_bytes()
    assert read_back(cursor, fmt) == expected_in(fmt, expected_rows(2, CUSTOMER_2))
    assert sorted(os.listdir(tmp_path)) == sorted([paged.name, cursor.name])


@pytest.mark.parametrize("fmt", FORMATS)
async def test_details_through_the_cursor_in_every_format(
    tmp_path: Path, client: Client, fmt: str
) -> None:
    need_parquet(fmt)
    out = tmp_path / f"details.{fmt}"
    result = await export_all_subscribers(client, 4, str(out), fmt=fmt, details=True, chunk_size=30)
    assert (result.items, result.pages, result.expected) == (100, 4, 100)
    assert read_back(out, fmt) == expected_in(fmt, expected_rows(4, 100, details=True))
    objects = as_objects(expected_rows(4, 100, details=True))
    # The nested values are there to check: pairs in identifiers, mappings.
    assert objects[0]["subscriberIdentifiers"]["imsiMsisdnPairs"][0]["isLastActive"] is True
    assert isinstance(objects[0]["lastKnownLocation"], dict)


def test_parquet_names_nested_fields_as_the_api_does(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    from flolive.export import ParquetWriter

    for model, rows in (
        (Subscriber, expected_rows(2, 10)),
        (SubscriberDetails, expected_rows(2, 10, details=True)),
    ):
        writer = ParquetWriter(model)
        writer.write(rows)
        part = tmp_path / "0.part"
        with open(part, "wb") as fh:
            writer.write_part(fh)
        with open(tmp_path / "out.parquet", "wb") as fh:
            writer.join([part], fh)
        schema = pq.read_schema(tmp_path / "out.parquet")
        names = list(as_objects(rows)[0])
        assert schema.names == names
        pairs = (
            schema.field("imsiMsisdnPairs").type
            if model is Subscriber
            else schema.field("subscriberIdentifiers").type.field("imsiMsisdnPairs").type
        )
        assert [f.name for f in pairs.value_type] == ["imsi", "msisdn", "isLastActive"]


def test_nested_arrow_names_follow_the_model_or_are_left_alone() -> None:
    pa = pytest.importorskip("pyarrow")
    import msgspec.inspect as mi

    from flolive.export.writers import _api_named

    field = {f.name: f.type for f in mi.type_info(Subscriber).fields}["imsi_msisdn_pairs"]
    snake = pa.struct(
        [("imsi", pa.string()), ("msisdn", pa.string()), ("is_last_active", pa.bool_())]
    )
    camel = pa.struct(
        [("imsi", pa.string()), ("msisdn", pa.string()), ("isLastActive", pa.bool_())]
    )
    assert _api_named(pa, pa.list_(snake), field) == pa.list_(camel)
    assert _api_named(pa, pa.large_list(snake), field) == pa.large_list(camel)
    # A shape that does not follow the model is not guessed at.
    two = pa.struct([("imsi", pa.string()), ("is_last_active", pa.bool_())])
    assert _api_named(pa, pa.list_(two), field) == pa.list_(two)
    assert _api_named(pa, pa.string(), field) == pa.string()
    # The same, one level down and behind an optional.
    details = {f.name: f.type for f in mi.type_info(SubscriberDetails).fields}
    ids = pa.struct(
        [
            ("subscriber_id", pa.string()),
            ("imsi_msisdn_pairs", pa.list_(snake)),
            ("iccid", pa.string()),
            ("imei", pa.string()),
            ("imeisv", pa.string()),
        ]
    )
    renamed = _api_named(pa, ids, details["subscriber_identifiers"])
    assert renamed.names == ["subscriberId", "imsiMsisdnPairs", "iccid", "imei", "imeisv"]
    assert renamed.field("imsiMsisdnPairs").type == pa.list_(camel)
    assert _api_named(pa, pa.string(), details["last_rat_type_label"]) == pa.string()


@pytest.mark.parametrize(("fmt", "details"), [("jsonl", False), ("csv", True), ("parquet", False)])
async def test_a_cursor_export_resumes_with_the_session_it_recorded(
    tmp_path: Path, start_sandbox: StartSandbox, fmt: str, details: bool
) -> None:
    need_parquet(fmt)
    sandbox = await start_sandbox(record=True)
    full, out = tmp_path / f"full.{fmt}", tmp_path / f"p.{fmt}"
    path = f"/api/v2/customer/2/subscriber-all{'-details' if details else ''}"
    async with Client(base_url=sandbox.url) as client:
        await export_all_subscribers(client, 2, str(full), fmt=fmt, details=details, chunk_size=300)
        with pytest.raises(Interrupt):
            await export_all_subscribers(
                client,
                2,
                str(out),
                fmt=fmt,
                details=details,
                chunk_size=300,
                progress=StopAfter(3),
                checkpoint_interval=0,
            )
        ckpt = Checkpoint.load(str(out))
        assert ckpt is not None
        assert ckpt.cursor is not None
        assert (ckpt.version, ckpt.next, ckpt.pages, ckpt.items, ckpt.page_size) == (
            4,
            3,
            3,
            900,
            300,
        )
        assert ckpt.cursor == CursorToken(
            path=path, pit_id=ckpt.cursor.pit_id, chunk=3, records_read=900, total=CUSTOMER_2
        )
        assert ckpt.job == {
            "kind": "subscriber-details" if details else "subscribers",
            "customer": 2,
            "read": "cursor",
        }
        sandbox.cursor_log.clear()
        progress = StopAfter(100)
        # The chunk size recorded is the one a resume reads with.
        result = await export_all_subscribers(
            client,
            2,
            str(out),
            fmt=fmt,
            details=details,
            chunk_size=1000,
            resume=True,
            progress=progress,
        )
    # The same session goes on from the pitId recorded; no new one is opened.
    assert sandbox.cursor_log[0] == (ckpt.cursor.pit_id, 300)
    assert len(sandbox.cursor_log) == 6
    assert all(pit_id and size == 300 for pit_id, size in sandbox.cursor_log)
    assert progress.started == (CUSTOMER_2, 900, 3, 9)
    assert (result.resumed_at, result.items, result.run_items, result.pages, result.run_pages) == (
        3,
        CUSTOMER_2,
        1600,
        9,
        6,
    )
    assert (result.expected, result.missing, result.unit) == (CUSTOMER_2, 0, "chunks")
    assert out.read_bytes() == full.read_bytes()
    assert sorted(os.listdir(tmp_path)) == sorted([full.name, out.name])


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
async def test_a_resume_after_the_session_expired_says_so_and_keeps_the_files(
    tmp_path: Path, sandbox: Sandbox, fmt: str
) -> None:
    need_parquet(fmt)
    full, out = tmp_path / f"full.{fmt}", tmp_path / f"p.{fmt}"
    parts = tmp_path / f"p.{fmt}.flolive-parts"
    async with Client(base_url=sandbox.url) as client:
        await export_all_subscribers(client, 2, str(full), fmt=fmt, chunk_size=400)
        with pytest.raises(Interrupt):
            await export_all_subscribers(
                client,
                2,
                str(out),
                fmt=fmt,
                chunk_size=400,
                progress=StopAfter(2),
                checkpoint_interval=0,
            )
        saved = checkpoint_of(out).read_bytes()
        assert sandbox.expire_cursors() >= 1
        for _ in range(2):  # a dead session stays dead
            with pytest.raises(CursorExpired) as info:
                await export_all_subscribers(client, 2, str(out), fmt=fmt, resume=True)
            assert (info.value.records_read, info.value.chunk) == (800, 2)
            assert checkpoint_of(out).read_bytes() == saved
            if fmt == "jsonl":
                # What the checkpoint records, and nothing after it.
                assert out.read_bytes() == full.read_bytes()[: len(out.read_bytes())]
                assert len(out.read_text().splitlines()) == 800
            else:
                assert sorted(os.listdir(parts)) == ["000000.part", "000001.part"]
        result = await export_all_subscribers(
            client, 2, str(out), fmt=fmt, chunk_size=400, overwrite=True
        )
    assert (result.items, result.resumed_at) == (CUSTOMER_2, None)
    assert out.read_bytes() == full.read_bytes()
    assert sorted(os.listdir(tmp_path)) == sorted([full.name, out.name])


async def test_a_session_lost_mid_read_keeps_what_was_recorded(
    tmp_path: Path, gated_sandbox: tuple[Sandbox, PageGate]
) -> None:
    sandbox, gate = gated_sandbox
    out = tmp_path / "p.jsonl"
    await gate.open_to(3)
    async with Client(base_url=sandbox.url) as client:
        task = asyncio.create_task(
            export_all_subscribers(client, 2, str(out), chunk_size=100, checkpoint_interval=0)
        )
        # Chunk 3 (the read-ahead) passed the session check and is held.
        await gate.until_held(3)
        sandbox.expire_cursors()
        await gate.open_to(math.inf)
        with pytest.raises(CursorExpired) as info:
            await task
    assert (info.value.records_read, info.value.chunk, info.value.total) == (400, 4, CUSTOMER_2)
    ckpt = Checkpoint.load(str(out))
    assert ckpt is not None
    assert (ckpt.next, ckpt.items, ckpt.pages) == (4, 400, 4)
    assert read_back(out, "jsonl") == as_objects(expected_rows(2, 400))


async def test_a_checkpoint_of_another_read_is_refused(tmp_path: Path, client: Client) -> None:
    out = str(tmp_path / "p.jsonl")
    with pytest.raises(Interrupt):
        await export_subscribers(
            client, 2, out, page_size=100, progress=StopAfter(2), checkpoint_interval=0
        )
    before = Path(out).read_bytes()
    refusals = [
        export_all_subscribers(client, 2, out, resume=True),
        export_all_subscribers(client, 2, out, resume=True, details=True),
        export_subscribers(client, 4, out, resume=True),
        export_participants(client, 2, 1, out, resume=True),
    ]
    for refused in refusals:
        with pytest.raises(ExportError, match="belongs to another export"):
            await refused
    assert Path(out).read_bytes() == before
    result = await export_subscribers(client, 2, out, page_size=700, resume=True)
    # The paged export resumes with the page size it recorded.
    assert (result.resumed_at, result.items, result.pages) == (2, CUSTOMER_2, 25)
    assert read_back(Path(out), "jsonl") == as_objects(expected_rows(2, CUSTOMER_2))


async def test_a_cursor_checkpoint_without_a_position_is_refused(
    tmp_path: Path, client: Client
) -> None:
    out = tmp_path / "p.jsonl"
    with pytest.raises(Interrupt):
        await export_all_subscribers(
            client, 2, str(out), chunk_size=100, progress=StopAfter(2), checkpoint_interval=0
        )
    ckpt = Checkpoint.load(str(out))
    assert ckpt is not None
    msgspec.structs.replace(ckpt, cursor=None).save(str(out))
    with pytest.raises(ExportError, match="records no cursor position: cannot resume"):
        await export_all_subscribers(client, 2, str(out), resume=True)
    # Refused when the checkpoint is read, before anything is changed: the
    # third chunk, written after the checkpoint, is still there.
    assert len(out.read_text().splitlines()) == 300
    assert sorted(os.listdir(tmp_path)) == ["p.jsonl", "p.jsonl.flolive-checkpoint"]


async def test_arguments_the_sdk_refuses_leave_no_file(tmp_path: Path, client: Client) -> None:
    out = str(tmp_path / "p.csv")
    with pytest.raises(ValueError, match="page_size must be a positive int"):
        await export_subscribers(client, 2, out, fmt="csv", page_size=-5)
    with pytest.raises(ValueError, match="page_base must be 0 or 1"):
        await export_participants(client, 1, 1, out, page_base=7)
    with pytest.raises(ValueError, match="chunk_size must be at most 10,000"):
        await export_all_subscribers(client, 2, out, chunk_size=10_001)
    assert os.listdir(tmp_path) == []


def _inflated_totals(extra: int) -> Any:
    """A middleware claiming ``extra`` more records than a cursor serves."""

    @web.middleware
    async def inflate(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        if request.path.endswith("/subscriber-all") and response.status == 200:
            body = json.loads(response.body)
            body["totalRecordAmount"] += extra
            return web.json_response(body)
        return response  # type: ignore[no-any-return]

    return inflate


async def test_a_cursor_export_short_of_the_total_is_reported(
    tmp_path: Path, threaded_sandbox: Any
) -> None:
    server = threaded_sandbox(middlewares=[_inflated_totals(30)])
    out = tmp_path / "p.jsonl"
    async with Client(base_url=server.url) as client:
        with pytest.warns(ListIncompleteWarning, match="ended after 100 records"):
            result = await export_all_subscribers(client, 4, str(out), chunk_size=40)
    assert (result.items, result.expected, result.missing, result.pages) == (100, 130, 30, 3)
    assert read_back(out, "jsonl") == as_objects(expected_rows(4, 100))
    # The command says it in one line, and exits 8.
    out.unlink()
    args = ["export", "subscribers", "--base-url", server.url, "--customer", "4", "--cursor"]
    code, _, err = await arun(*args, "--chunk-size", "40", "-o", str(out), "-q")
    assert code == ExitCode.INCOMPLETE
    assert one_line(err) == (
        f"flolive: warning: {out}: the cursor ended after 100 records but the server "
        "reported totalRecordAmount 130; records may be missing (a chunk retried after its "
        "answer was lost, on a server that had already moved past it, is one cause)"
    )
    assert len(out.read_text().splitlines()) == 100


# -- the command ----------------------------------------------------------------


def subscribers_export(url: str, read: str, customer: int = 5) -> list[str]:
    """Arguments of a subscriber export (pages or chunks of 10) from a served sandbox."""
    size = ["--page-size", "10"] if read == "pages" else ["--cursor", "--chunk-size", "10"]
    return ["export", "subscribers", "--base-url", url, "--customer", str(customer), *size]


#: The SIMs of customer 5 in the kill tests: 33 pages or chunks of 10.
KILLED_SIMS = 330

# Kill points (see tests.support.kill.KillPoint), each followed by `--resume`.
KILL_POINTS: list[KillPoint] = [
    ("spawn",),
    ("checkpoint",),
    ("held", 0, 0.5),
    ("held", 4, 0.5),
    ("saved", 9),
    ("held", 14, 0.5),
    ("saved", 21),
]


@pytest.mark.parametrize("read", ["pages", "cursor"])
@pytest.mark.parametrize("fmt", FORMATS)
async def test_kill_9_at_any_moment_then_resume_gives_every_sim_exactly_once(
    tmp_path: Path, start_sandbox: StartSandbox, read: str, fmt: str
) -> None:
    need_parquet(fmt)
    counts = {5: KILLED_SIMS}
    plain = await start_sandbox(subscriber_counts=counts)
    gate = PageGate()
    gated = await start_sandbox(subscriber_counts=counts, before_page=gate, record=True)
    full = tmp_path / f"full.{fmt}"
    async with Client(base_url=plain.url) as client:
        if read == "pages":
            await export_subscribers(client, 5, str(full), fmt=fmt, page_size=10)
        else:
            await export_all_subscribers(client, 5, str(full), fmt=fmt, chunk_size=10)
    out = tmp_path / f"killed.{fmt}"
    args = [*subscribers_export(gated.url, read), "-o", str(out)]

    def parquet_stays_in_parts() -> None:
        if fmt == "parquet":
            assert not out.exists()

    await kill_at_each(KILL_POINTS, args, gate, out, parquet_stays_in_parts)
    await gate.open_to(math.inf)
    recorded = json.loads(checkpoint_of(out).read_bytes())["cursor"]
    gated.cursor_log.clear()
    code, _, err = await arun(*args, "--resume", "--checkpoint-interval", "0")
    assert code == 0, err
    if read == "cursor":
        # The last resume went on with the session it recorded: no new one.
        assert recorded["chunk"] == 21
        assert [pit_id for pit_id, _ in gated.cursor_log][:1] == [recorded["pit_id"]]
        assert len(gated.cursor_log) == 12
        assert all(pit_id for pit_id, _ in gated.cursor_log)
    else:
        assert (recorded, gated.cursor_log) == (None, [])
    unit = "pages" if read == "pages" else "chunks"
    line = one_line(err)
    assert line.startswith(f"flolive: wrote 120 items from 12 {unit} to {out} in ")
    assert line.endswith(
        f"resumed at 21; {out} now holds 330 items from 33 {unit}; 0 retries, 0 throttled answers"
    )
    rows = read_back(out, fmt)
    ids = [r["subscriberId"] for r in rows]
    assert len(ids) - len(set(ids)) == 0  # none duplicated
    assert len(set(ids)) == KILLED_SIMS  # none lost
    assert rows == expected_in(fmt, expected_rows(5, KILLED_SIMS))
    assert out.read_bytes() == full.read_bytes()
    assert sorted(os.listdir(tmp_path)) == sorted([full.name, out.name])


class FakeClock:
    """A monotonic clock the test moves by hand (the sandbox's sessions expire on it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
async def test_a_session_expired_between_kill_and_resume_exits_10_and_keeps_the_files(
    tmp_path: Path, start_sandbox: StartSandbox, fmt: str
) -> None:
    need_parquet(fmt)
    clock = FakeClock()
    gate = PageGate()
    sandbox = await start_sandbox(
        subscriber_counts={5: KILLED_SIMS}, before_page=gate, pit_ttl=60, clock=clock
    )
    out = tmp_path / f"p.{fmt}"
    args = [*subscribers_export(sandbox.url, "cursor"), "-o", str(out)]
    await gate.open_to(7)
    proc = await spawn(*args, "--checkpoint-interval", "0")
    await until(lambda: checkpoint_next(out) == 7, proc)
    await kill(proc)
    kept = files_of(tmp_path)
    assert checkpoint_of(out) in kept
    clock.now += 61  # past the session's life after its last call
    await gate.open_to(math.inf)
    for _ in range(2):  # the same answer each time: nothing was changed
        code, _, err = await arun(*args, "--resume")
        assert code == ExitCode.CURSOR_EXPIRED == 10
        assert one_line(err) == f"flolive: error: {CURSOR_EXPIRED_MESSAGE}"
        assert one_line(err) == (
            "flolive: error: the server's point-in-time session expired; the export must "
            "start over: run it again with --overwrite"
        )
        now = files_of(tmp_path)
        assert now == kept
    code, _, err = await arun(*args, "--overwrite")
    assert code == 0, err
    assert "wrote 330 items from 33 chunks" in one_line(err)
    assert read_back(out, fmt) == expected_in(fmt, expected_rows(5, KILLED_SIMS))
    assert os.listdir(tmp_path) == [out.name]


def test_sandbox_command_subscriber_counts_and_session_life(tmp_path: Path) -> None:
    def serve(*flags: str) -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [*FLOLIVE, "sandbox", "--port", "0", *flags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line, line
        return proc, line.split("listening on ")[1].split()[0]

    # Sessions that live a nanosecond: every call continuing one finds it gone.
    proc, url = serve("--subscriber-count", "5=7", "--subscriber-count", "6=0", "--pit-ttl", "1e-9")
    try:
        paged = run(*subscribers_export(url, "pages"), "-o", str(tmp_path / "a.jsonl"))
        assert paged.returncode == 0, paged.stderr
        assert "wrote 7 items from 1 page" in one_line(paged.stderr)
        assert read_back(tmp_path / "a.jsonl", "jsonl") == as_objects(expected_rows(5, 7))
        empty = run(*subscribers_export(url, "cursor", 6), "-o", str(tmp_path / "b.jsonl"))
        assert empty.returncode == 0, empty.stderr
        assert (tmp_path / "b.jsonl").read_bytes() == b""
        out = tmp_path / "c.csv"
        cut = run(
            *subscribers_export(url, "cursor"),
            *("--chunk-size", "3", "--checkpoint-interval", "0", "-o", str(out)),
        )
        assert cut.returncode == ExitCode.CURSOR_EXPIRED, cut.stderr
        assert one_line(cut.stderr) == f"flolive: error: {CURSOR_EXPIRED_MESSAGE}"
        # The first chunk was written and recorded: it stays for the user to see.
        assert len(out.read_text().splitlines()) == 1 + 3
        assert checkpoint_next(out) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
    # Without --pit-ttl, a session lives its pitKeepAlive minutes; the default counts hold.
    proc, url = serve()
    try:
        whole = run(
            *subscribers_export(url, "cursor", 4),
            *("--chunk-size", "3", "-o", str(tmp_path / "d.jsonl")),
        )
        assert whole.returncode == 0, whole.stderr
        assert "wrote 100 items from 34 chunks" in one_line(whole.stderr)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        (
            ["--details"],
            ExitCode.USAGE,
            "flolive: error: --details needs --cursor",
        ),
        (
            ["--chunk-size", "50", "--keep-alive", "3"],
            ExitCode.USAGE,
            "flolive: error: --chunk-size and --keep-alive need --cursor",
        ),
        (
            ["--cursor", "--page-size", "50"],
            ExitCode.USAGE,
            "flolive: error: --page-size and --page-base are for the paged list; with "
            "--cursor, use --chunk-size",
        ),
        (
            ["--cursor", "--chunk-size", "10001"],
            ExitCode.USAGE,
            "flolive export subscribers: error: argument --chunk-size: must be between 1 "
            "and 10000: 10001 (see flolive export subscribers --help)",
        ),
        (
            ["--cursor", "--keep-alive", "0"],
            ExitCode.USAGE,
            "flolive export subscribers: error: argument --keep-alive: must be between 1 "
            "and 30: 0 (see flolive export subscribers --help)",
        ),
        (
            ["--customer", "77"],
            ExitCode.NOT_FOUND,
            "flolive: error: CUSTOMER_1002: Customer does not exist "
            "(/api/v2/customer/77/subscriber)",
        ),
        (
            ["--customer", "77", "--cursor", "--details"],
            ExitCode.NOT_FOUND,
            "flolive: error: CUSTOMER_1002: Customer does not exist "
            "(/api/v2/customer/77/subscriber-all-details)",
        ),
    ],
    ids=[
        "details without cursor",
        "cursor options without cursor",
        "page size with cursor",
        "chunk size too large",
        "keep-alive 0",
        "unknown customer, paged",
        "unknown customer, cursor details",
    ],
)
def test_wrong_arguments_and_unknown_customers_are_one_line_and_leave_nothing(
    tmp_path: Path, args: list[str], code: int, line: str
) -> None:
    customer = [] if "--customer" in args else ["--customer", "4"]
    done = run(
        *("export", "subscribers", "--sandbox", *customer, *args),
        *("-o", str(tmp_path / "x.csv")),
    )
    assert done.returncode == code, done.stderr
    assert one_line(done.stderr) == line
    assert os.listdir(tmp_path) == []


def test_the_progress_bar_of_a_cursor_export_counts_items_and_chunks(tmp_path: Path) -> None:
    pytest.importorskip("rich")
    out = tmp_path / "s.jsonl"
    code, lines = on_terminal(
        ["export", "subscribers", "--sandbox", "--customer", "2", "--cursor", "-o", str(out)]
    )
    assert code == 0
    assert len(lines) == 3, lines
    bar, details, summary = lines
    assert re.fullmatch(r"subscribers ━+ 100% 2,500/2,500 items", bar)
    assert len(bar) == 80
    assert re.fullmatch(
        r"  3/3 chunks · [\d,]+ items/s · elapsed \d+:\d\d:\d\d · left 0:00:00", details
    )
    assert summary.startswith("flolive: wrote 2,500 items from 3 chunks to ")
