"""flolive.arrow: schemas, page -> RecordBatch, and AsyncPager.arrow()."""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import sys
import uuid
from typing import Literal

import msgspec
import pyarrow as pa
import pytest

from flolive import Campaign, Client, Label, Participant, RetryPolicy, ServerError
from flolive.arrow import (
    CAMPAIGN_SCHEMA,
    LABEL_SCHEMA,
    PARTICIPANT_SCHEMA,
    schema_for,
    to_record_batch,
)
from flolive.pagination import AsyncPager
from flolive.sandbox import DataSet, Sandbox

MS = pa.timestamp("ms")


def _participants(campaign: int, start: int, stop: int) -> list[Participant]:
    wire = DataSet().participants(1, campaign, start, stop)
    return msgspec.json.decode(msgspec.json.encode(wire), type=list[Participant])


def test_schemas_of_the_models() -> None:
    assert (
        pa.schema(
            [
                pa.field("id", pa.int64(), nullable=False),
                pa.field("iccid", pa.string(), nullable=False),
                pa.field("status", pa.string(), nullable=False),
                pa.field("attempt", pa.int64(), nullable=False),
                pa.field("code", pa.string(), nullable=False),
                pa.field("message", pa.string(), nullable=False),
                pa.field("timestamp", MS, nullable=False),
            ]
        )
        == PARTICIPANT_SCHEMA
    )
    assert (
        pa.schema(
            [
                pa.field("id", pa.string(), nullable=False),
                pa.field("name", pa.string(), nullable=False),
                pa.field("creation_time", MS, nullable=False),
            ]
        )
        == LABEL_SCHEMA
    )
    assert (
        pa.schema(
            [
                pa.field("id", pa.int64(), nullable=False),
                pa.field("name", pa.string(), nullable=False),
                pa.field("template_id", pa.int64(), nullable=False),
                pa.field("status", pa.string(), nullable=False),
                pa.field("timestamp", MS, nullable=False),
                pa.field("effective_start", pa.string(), nullable=False),
                pa.field("effective_end", pa.string(), nullable=False),
                pa.field("max_retries", pa.int64(), nullable=False),
                pa.field("description", pa.string(), nullable=True),
            ]
        )
        == CAMPAIGN_SCHEMA
    )
    assert schema_for(Participant) is PARTICIPANT_SCHEMA  # cached per type


def test_participants_become_columns_with_every_value() -> None:
    items = _participants(1, 0, 5)
    batch = to_record_batch(items, Participant)
    assert batch.schema == PARTICIPANT_SCHEMA
    assert batch.to_pylist() == [msgspec.structs.asdict(p) for p in items]
    assert batch.column("timestamp").to_pylist()[0] == items[0].timestamp


def test_labels_and_campaigns_uuids_as_strings_and_null_descriptions() -> None:
    label = Label(
        id=uuid.UUID("0d3b5e4c-9a0e-4d4b-8b54-0f6c8e7a1f20"),
        name="blue",
        creation_time=dt.datetime(2022, 2, 11, 14, 21, 53),
    )
    assert to_record_batch([label], Label).to_pylist() == [
        {
            "id": "0d3b5e4c-9a0e-4d4b-8b54-0f6c8e7a1f20",
            "name": "blue",
            "creation_time": dt.datetime(2022, 2, 11, 14, 21, 53),
        }
    ]
    camp = Campaign(
        id=7,
        name="c",
        template_id=101,
        status="NEW_VENDOR_STATUS",
        timestamp=dt.datetime(2022, 2, 11),
        effective_start="2022-02-11",
        effective_end="2022-03-11",
        max_retries=3,
    )
    batch = to_record_batch([camp], Campaign)
    assert batch.column("description").to_pylist() == [None]
    assert batch.column("status").to_pylist() == ["NEW_VENDOR_STATUS"]


def test_date_times_truncate_to_ms_and_aware_ones_go_to_utc() -> None:
    naive = dt.datetime(2022, 2, 11, 14, 21, 53, 123456)
    aware = dt.datetime(2022, 2, 11, 14, 21, 53, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    items = [
        msgspec.structs.replace(p, timestamp=t)
        for p, t in zip(_participants(1, 0, 2), [naive, aware], strict=True)
    ]
    got = to_record_batch(items, Participant).column("timestamp").to_pylist()
    assert got == [
        dt.datetime(2022, 2, 11, 14, 21, 53, 123000),
        dt.datetime(2022, 2, 11, 12, 21, 53),
    ]


def test_an_empty_page_is_an_empty_batch_with_the_schema() -> None:
    batch = to_record_batch([], Participant)
    assert batch.num_rows == 0
    assert batch.schema == PARTICIPANT_SCHEMA


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Custom(msgspec.Struct):
    n: int
    x: float
    ok: bool
    day: dt.date
    raw: bytes
    colour: Colour
    level: Level
    kind: Literal["a", "b"]
    note: str | None = None


def test_any_struct_of_scalars_gets_a_schema() -> None:
    assert schema_for(Custom) == pa.schema(
        [
            pa.field("n", pa.int64(), nullable=False),
            pa.field("x", pa.float64(), nullable=False),
            pa.field("ok", pa.bool_(), nullable=False),
            pa.field("day", pa.date32(), nullable=False),
            pa.field("raw", pa.binary(), nullable=False),
            pa.field("colour", pa.string(), nullable=False),
            pa.field("level", pa.int64(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("note", pa.string(), nullable=True),
        ]
    )
    row = Custom(1, 0.5, True, dt.date(2022, 2, 11), b"\x00", Colour.BLUE, Level.HIGH, "b")
    assert to_record_batch([row], Custom).to_pylist() == [
        {
            "n": 1,
            "x": 0.5,
            "ok": True,
            "day": dt.date(2022, 2, 11),
            "raw": b"\x00",
            "colour": "blue",
            "level": 2,
            "kind": "b",
            "note": None,
        }
    ]


class Nested(msgspec.Struct):
    id: int
    tags: list[str]


def test_fields_without_a_column_type_are_refused_by_name() -> None:
    with pytest.raises(TypeError, match=r"Nested\.tags: no Arrow column type"):
        schema_for(Nested)
    with pytest.raises(TypeError, match=r"msgspec\.Struct item type"):
        schema_for(dict)


async def test_pager_arrow_gives_one_batch_per_page_in_order() -> None:
    async with Sandbox() as url, Client(base_url=url, page_size=100) as client:
        pager = client.campaign_participants(1, 1)
        batches = [b async for b in pager.arrow()]
        expected = await pager.collect()
    assert [b.num_rows for b in batches] == [100] * 9 + [88]
    assert all(b.schema == PARTICIPANT_SCHEMA for b in batches)
    table = pa.Table.from_batches(batches)
    assert table.to_pylist() == [msgspec.structs.asdict(p) for p in expected]


async def test_arrow_resumes_at_a_page_and_ends_with_an_empty_list() -> None:
    sandbox = Sandbox(campaign_sizes={1: 988, 4: 0})
    async with sandbox as url, Client(base_url=url, page_size=100) as client:
        tail = [b async for b in client.campaign_participants(1, 1).arrow(start_page=8)]
        empty = [b async for b in client.campaign_participants(1, 4).arrow()]
    assert [b.num_rows for b in tail] == [100, 88]
    assert tail[0].column("id")[0].as_py() == 1_030_247 + 800
    assert [b.num_rows for b in empty] == [0]
    assert empty[0].schema == PARTICIPANT_SCHEMA


@pytest.mark.usefixtures("no_leaks")
async def test_break_and_page_errors_clean_up_and_keep_the_resume_page() -> None:
    sandbox = Sandbox(fail_pages={4: 500}, latency=0.002)
    async with (
        sandbox as url,
        Client(base_url=url, page_size=10, max_concurrency=4) as client,
    ):
        pager = client.campaign_participants(1, 1, retry=RetryPolicy.disabled())
        async with pager:
            async for batch in pager.arrow():
                assert batch.num_rows == 10
                break
        got = []
        with pytest.raises(ServerError) as info:
            async for batch in pager.arrow():
                got.append(batch.column("id")[0].as_py())
        assert got == [1_030_247, 1_030_257, 1_030_267, 1_030_277]
        assert info.value.resume is not None
        assert info.value.resume.page == 4


def test_arrow_needs_a_pager_with_a_source() -> None:
    async def fetch(number: int, size: int, deadline: float | None) -> object:
        raise AssertionError("never fetched")

    pager: AsyncPager[Participant] = AsyncPager(
        fetch,  # type: ignore[arg-type]
        path="/x",
        page_size=10,
        page_base=0,
        prefetch=2,
    )
    with pytest.raises(ValueError, match="needs the item type"):
        pager.arrow()


async def test_without_pyarrow_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.delitem(sys.modules, "flolive.arrow")
    with pytest.raises(ImportError, match=r"pip install 'flolive-sdk\[arrow\]'"):
        importlib.import_module("flolive.arrow")
    async with Client(base_url="http://127.0.0.1:9") as client:
        pager = client.campaign_participants(1, 1)
        with pytest.raises(ImportError, match=r"pip install 'flolive-sdk\[arrow\]'"):
            pager.arrow()
