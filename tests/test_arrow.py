"""flolive.arrow: schemas, page -> RecordBatch, AsyncPager.arrow() and
AsyncCursor.arrow(), for every model."""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import json
import sys
import uuid
from pathlib import Path
from typing import Any, Literal

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import flolive.models
from flolive import (
    Campaign,
    Client,
    ImsiMsisdnPair,
    Label,
    Participant,
    Profile,
    RetryPolicy,
    ServerError,
    Subscriber,
    SubscriberDetails,
    SubscriberIdentifiers,
)
from flolive.arrow import (
    CAMPAIGN_SCHEMA,
    LABEL_SCHEMA,
    PARTICIPANT_SCHEMA,
    PROFILE_SCHEMA,
    SUBSCRIBER_DETAILS_SCHEMA,
    SUBSCRIBER_SCHEMA,
    schema_for,
    to_record_batch,
)
from flolive.pagination import AsyncPager
from flolive.sandbox import DataSet, Sandbox

from .support.readme import run_example

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


# -- nested models: the subscriber API ------------------------------------------

UUID_A = uuid.UUID("6f1c0b4e-3a1f-4c39-9a51-1f6f7a2e1a10")
UUID_B = uuid.UUID("0b6d9c1e-7f5a-4d1e-8f3a-2a9e0c4b5d6e")
PAIR = pa.struct(
    [
        pa.field("imsi", pa.string(), nullable=False),
        pa.field("msisdn", pa.string(), nullable=True),
        pa.field("is_last_active", pa.bool_(), nullable=False),
    ]
)
PAIRS = pa.list_(pa.field("item", PAIR, nullable=False))
IDENTIFIERS = pa.struct(
    [
        pa.field("subscriber_id", pa.string(), nullable=False),
        pa.field("imsi_msisdn_pairs", PAIRS, nullable=False),
        pa.field("iccid", pa.string(), nullable=False),
        pa.field("imei", pa.string(), nullable=True),
        pa.field("imeisv", pa.string(), nullable=True),
    ]
)


def test_schemas_of_the_subscriber_models() -> None:
    assert (
        pa.schema(
            [
                pa.field("subscriber_id", pa.string(), nullable=False),
                pa.field("imsi_msisdn_pairs", PAIRS, nullable=False),
                pa.field("iccid", pa.string(), nullable=False),
                pa.field("status", pa.string(), nullable=False),
                pa.field("imei", pa.string(), nullable=True),
                pa.field("imeisv", pa.string(), nullable=True),
                pa.field("customer_id", pa.string(), nullable=True),
                pa.field("customer_name", pa.string(), nullable=True),
            ]
        )
        == SUBSCRIBER_SCHEMA
    )
    assert (
        pa.schema(
            [
                pa.field("subscriber_identifiers", IDENTIFIERS, nullable=False),
                pa.field("customer_id", pa.string(), nullable=False),
                pa.field("customer_name", pa.string(), nullable=False),
                pa.field("subs_status", pa.string(), nullable=False),
                pa.field("tags", pa.string(), nullable=True),
                pa.field("system_labels", pa.string(), nullable=True),
                pa.field("user_labels", pa.string(), nullable=True),
                pa.field("alias", pa.string(), nullable=True),
                pa.field("last_known_location", pa.string(), nullable=True),
                pa.field("last_connected_network", pa.string(), nullable=True),
                pa.field("last_rat_type", pa.int64(), nullable=True),
                pa.field("last_rat_type_label", pa.string(), nullable=True),
                pa.field("last_data_rat_type", pa.string(), nullable=True),
                pa.field("last_data_rat_type_label", pa.string(), nullable=True),
            ]
        )
        == SUBSCRIBER_DETAILS_SCHEMA
    )
    assert (
        pa.schema(
            [
                pa.field("id", pa.string(), nullable=False),
                pa.field("name", pa.string(), nullable=False),
                pa.field("is_active", pa.bool_(), nullable=False),
                pa.field("subscriber_identifiers", IDENTIFIERS, nullable=False),
            ]
        )
        == PROFILE_SCHEMA
    )
    assert schema_for(ImsiMsisdnPair) == pa.schema(list(PAIR))
    assert schema_for(SubscriberIdentifiers) == pa.schema(list(IDENTIFIERS))
    assert schema_for(Subscriber) is SUBSCRIBER_SCHEMA


def test_every_public_model_has_a_schema_named_after_its_fields() -> None:
    models = [
        obj
        for name in flolive.models.__all__
        if isinstance(obj := getattr(flolive.models, name), type)
        and issubclass(obj, msgspec.Struct)
        and not getattr(obj, "__parameters__", ())  # envelopes of a type parameter
    ]
    assert {m.__name__ for m in models} >= {
        "Participant",
        "Label",
        "Campaign",
        "Subscriber",
        "ImsiMsisdnPair",
        "SubscriberIdentifiers",
        "SubscriberDetails",
        "Profile",
    }
    for model in models:
        assert schema_for(model).names == list(model.__struct_fields__), model
        assert to_record_batch([], model).schema == schema_for(model)


def test_a_subscriber_becomes_a_row_with_a_list_of_structs() -> None:
    sims = [
        Subscriber(
            subscriber_id=UUID_A,
            imsi_msisdn_pairs=(
                ImsiMsisdnPair("425019000000001", "972500000001", False),
                ImsiMsisdnPair("425019000000002", None, True),
            ),
            iccid="8935771600000000003",
            status="ACTIVE",
            imei="350000000000001",
            customer_id=UUID_B,
            customer_name="Acme",
        ),
        Subscriber(subscriber_id=UUID_B, imsi_msisdn_pairs=(), iccid="1", status="NEW"),
    ]
    batch = to_record_batch(sims, Subscriber)
    assert batch.schema == SUBSCRIBER_SCHEMA
    assert batch.to_pylist() == [
        {
            "subscriber_id": "6f1c0b4e-3a1f-4c39-9a51-1f6f7a2e1a10",
            "imsi_msisdn_pairs": [
                {"imsi": "425019000000001", "msisdn": "972500000001", "is_last_active": False},
                {"imsi": "425019000000002", "msisdn": None, "is_last_active": True},
            ],
            "iccid": "8935771600000000003",
            "status": "ACTIVE",
            "imei": "350000000000001",
            "imeisv": None,
            "customer_id": "0b6d9c1e-7f5a-4d1e-8f3a-2a9e0c4b5d6e",
            "customer_name": "Acme",
        },
        {
            "subscriber_id": "0b6d9c1e-7f5a-4d1e-8f3a-2a9e0c4b5d6e",
            "imsi_msisdn_pairs": [],
            "iccid": "1",
            "status": "NEW",
            "imei": None,
            "imeisv": None,
            "customer_id": None,
            "customer_name": None,
        },
    ]
    pairs = batch.column("imsi_msisdn_pairs")
    assert pairs.null_count == 0
    assert pairs.value_lengths().to_pylist() == [2, 0]


def test_details_keep_free_form_mappings_as_json_text() -> None:
    ids = SubscriberIdentifiers(
        subscriber_id=UUID_A,
        imsi_msisdn_pairs=(ImsiMsisdnPair("425019000000001", "972500000001", True),),
        iccid="8935771600000000003",
        imeisv="35000000000000101",
    )
    location = {"country": "Israel", "lastUpdate": "2022-02-11 14:21:53.120", "cell": {"lac": 1}}
    details = [
        SubscriberDetails(
            subscriber_identifiers=ids,
            customer_id=UUID_B,
            customer_name="Acme",
            subs_status="ACTIVE",
            user_labels="red,blue",
            last_known_location=location,
            last_rat_type=6,
            last_rat_type_label="4G",
        ),
        SubscriberDetails(
            subscriber_identifiers=ids,
            customer_id=UUID_B,
            customer_name="Acme",
            subs_status="TERMINATED",
            last_connected_network={},
        ),
    ]
    rows = to_record_batch(details, SubscriberDetails).to_pylist()
    identifiers = {
        "subscriber_id": "6f1c0b4e-3a1f-4c39-9a51-1f6f7a2e1a10",
        "imsi_msisdn_pairs": [
            {"imsi": "425019000000001", "msisdn": "972500000001", "is_last_active": True}
        ],
        "iccid": "8935771600000000003",
        "imei": None,
        "imeisv": "35000000000000101",
    }
    assert rows[0] == {
        "subscriber_identifiers": identifiers,
        "customer_id": "0b6d9c1e-7f5a-4d1e-8f3a-2a9e0c4b5d6e",
        "customer_name": "Acme",
        "subs_status": "ACTIVE",
        "tags": None,
        "system_labels": None,
        "user_labels": "red,blue",
        "alias": None,
        "last_known_location": (
            '{"country":"Israel","lastUpdate":"2022-02-11 14:21:53.120","cell":{"lac":1}}'
        ),
        "last_connected_network": None,
        "last_rat_type": 6,
        "last_rat_type_label": "4G",
        "last_data_rat_type": None,
        "last_data_rat_type_label": None,
    }
    assert json.loads(rows[0]["last_known_location"]) == location
    assert (rows[1]["last_known_location"], rows[1]["last_connected_network"]) == (None, "{}")


class Inner(msgspec.Struct):
    a: int
    b: str | None = None


class Shapes(msgspec.Struct):
    inner: Inner | None
    inners: list[Inner] | None
    maybe_inners: tuple[Inner | None, ...]
    tags: list[str]
    counts: frozenset[int]
    scores: list[float | None]
    extra: dict[str, Any] | None = None


def test_nested_structs_lists_and_nulls_at_any_depth() -> None:
    assert schema_for(Shapes) == pa.schema(
        [
            pa.field("inner", INNER, nullable=True),
            pa.field("inners", pa.list_(pa.field("item", INNER, nullable=False)), nullable=True),
            pa.field(
                "maybe_inners", pa.list_(pa.field("item", INNER, nullable=True)), nullable=False
            ),
            pa.field("tags", pa.list_(pa.field("item", pa.string(), False)), nullable=False),
            pa.field("counts", pa.list_(pa.field("item", pa.int64(), False)), nullable=False),
            pa.field("scores", pa.list_(pa.field("item", pa.float64(), True)), nullable=False),
            pa.field("extra", pa.string(), nullable=True),
        ]
    )
    rows = [
        Shapes(None, None, (None, Inner(1)), ["x", "y"], frozenset([7]), [None, 0.5]),
        Shapes(Inner(2, "two"), [Inner(3), Inner(4, "four")], (), [], frozenset(), [], {"k": [1]}),
        Shapes(None, [], (Inner(5), None), ["z"], frozenset(), [1.0]),
    ]
    assert to_record_batch(rows, Shapes).to_pylist() == [
        {
            "inner": None,
            "inners": None,
            "maybe_inners": [None, {"a": 1, "b": None}],
            "tags": ["x", "y"],
            "counts": [7],
            "scores": [None, 0.5],
            "extra": None,
        },
        {
            "inner": {"a": 2, "b": "two"},
            "inners": [{"a": 3, "b": None}, {"a": 4, "b": "four"}],
            "maybe_inners": [],
            "tags": [],
            "counts": [],
            "scores": [],
            "extra": '{"k":[1]}',
        },
        {
            "inner": None,
            "inners": [],
            "maybe_inners": [{"a": 5, "b": None}, None],
            "tags": ["z"],
            "counts": [],
            "scores": [1.0],
            "extra": None,
        },
    ]


INNER = pa.struct([pa.field("a", pa.int64(), False), pa.field("b", pa.string(), True)])


class Stamps(msgspec.Struct):
    id: uuid.UUID | None
    at: dt.datetime | None


@pytest.mark.parametrize(
    "values",
    [
        [(UUID_A, dt.datetime(2022, 2, 11, 14, 21, 53))],
        [(None, None)],
        [(UUID_A, None), (None, dt.datetime(2022, 2, 11))],
        [(None, None), (UUID_A, dt.datetime(2022, 2, 11)), (None, None)],
        [(UUID_A, dt.datetime(2022, 2, 11)), (None, None), (UUID_B, dt.datetime(2022, 3, 1))],
        [
            (UUID_A, dt.datetime(2022, 2, 11, 14, 21, 53, 120_000)),
            (UUID_B, dt.datetime(2022, 2, 11)),
        ],
        [(UUID_A, dt.datetime(1969, 12, 31, 23, 59, 59, 999_600)), (None, None)],
        [(UUID_B, dt.datetime(2022, 2, 11, 14, tzinfo=dt.timezone(dt.timedelta(hours=-3))))],
    ],
)
def test_uuids_and_date_times_with_nulls_fractions_and_zones(
    values: list[tuple[uuid.UUID | None, dt.datetime | None]],
) -> None:
    def ms(t: dt.datetime | None) -> dt.datetime | None:
        if t is None:
            return None
        if t.tzinfo is not None:
            t = t.astimezone(dt.UTC).replace(tzinfo=None)
        return t.replace(microsecond=t.microsecond // 1000 * 1000)

    batch = to_record_batch([Stamps(u, t) for u, t in values], Stamps)
    assert batch.to_pylist() == [
        {"id": None if u is None else str(u), "at": ms(t)} for u, t in values
    ]
    assert batch.column("at").type == MS


class Node(msgspec.Struct):
    id: int
    child: Node | None = None


class Loose(msgspec.Struct):
    id: int
    anything: Any


class Either(msgspec.Struct):
    id: int
    value: int | str


class Pair(msgspec.Struct):
    id: int
    both: tuple[int, str]


def test_fields_without_a_column_type_are_refused_by_name() -> None:
    with pytest.raises(TypeError, match=r"Loose\.anything: no Arrow column type"):
        schema_for(Loose)
    with pytest.raises(TypeError, match=r"Either\.value: no Arrow column type"):
        schema_for(Either)
    with pytest.raises(TypeError, match=r"Pair\.both: no Arrow column type"):
        schema_for(Pair)
    with pytest.raises(TypeError, match=r"Node\.child: Node contains itself"):
        schema_for(Node)
    with pytest.raises(TypeError, match=r"msgspec\.Struct item type"):
        schema_for(dict)


# A keyword, and a name the parser would NFKC-normalise ("\ufb01" is "fi").
Odd = msgspec.defstruct("Odd", [("id", int), ("class", str), ("\ufb01eld", str), ("field", str)])


def test_field_names_no_code_can_spell_are_read_too() -> None:
    row = Odd(1, "c", "ligature", "plain")
    assert to_record_batch([row], Odd).to_pylist() == [
        {"id": 1, "class": "c", "\ufb01eld": "ligature", "field": "plain"}
    ]


# -- against the sandbox: every model, paged and by cursor ----------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _wire(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(k): _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


def _back(table: pa.Table, model: type[Any], json_columns: tuple[str, ...] = ()) -> list[Any]:
    """The rows of ``table`` decoded back into ``model`` (JSON text columns parsed)."""
    out = []
    for row in table.to_pylist():
        for name in json_columns:
            if row[name] is not None:
                row[name] = json.loads(row[name])
        out.append(msgspec.convert(_wire(row), model))
    return out


async def test_25000_subscribers_paged_round_trip_through_arrow() -> None:
    async with Sandbox() as url, Client(base_url=url, max_concurrency=8) as client:
        pager = client.subscribers(1, page_size=1000)
        batches = [b async for b in pager.arrow()]
        assert client.stats.requests == 25
        expected = await pager.collect()
    assert [b.num_rows for b in batches] == [1000] * 25
    assert all(b.schema == SUBSCRIBER_SCHEMA for b in batches)
    table = pa.Table.from_batches(batches)
    assert table.num_rows == len(expected) == 25_000
    assert _back(table, Subscriber) == expected
    # The sandbox's SIMs have one or two pairs, and nulls in every nullable column.
    lengths = pa.compute.list_value_length(table.column("imsi_msisdn_pairs"))
    assert set(lengths.to_pylist()) == {1, 2}
    assert table.column("imei").null_count > 0


async def test_cursor_arrow_reads_every_subscriber_in_chunks() -> None:
    async with Sandbox() as url, Client(base_url=url) as client:
        cursor = client.all_subscribers(1, chunk_size=5000)
        batches = [b async for b in cursor.arrow()]
        assert client.stats.requests == 5
        paged = await client.subscribers(1, page_size=1000).collect()
    assert [b.num_rows for b in batches] == [5000] * 5
    assert all(b.schema == SUBSCRIBER_SCHEMA for b in batches)
    assert _back(pa.Table.from_batches(batches), Subscriber) == paged


async def test_details_by_cursor_round_trip_with_json_mappings() -> None:
    async with Sandbox() as url, Client(base_url=url) as client:
        cursor = client.all_subscriber_details(2, chunk_size=1000)
        batches = [b async for b in cursor.arrow(SubscriberDetails)]
        expected = await cursor.collect()
    assert [b.num_rows for b in batches] == [1000, 1000, 500]
    assert all(b.schema == SUBSCRIBER_DETAILS_SCHEMA for b in batches)
    table = pa.Table.from_batches(batches)
    got = _back(table, SubscriberDetails, ("last_known_location", "last_connected_network"))
    assert got == expected
    located = table.column("last_known_location")
    assert 0 < located.null_count < len(located)


async def test_profiles_campaigns_and_labels_round_trip_through_arrow() -> None:
    data = DataSet()
    async with Sandbox() as url, Client(base_url=url) as client:
        esim = next(i for i in range(0, 500, 5) if data.profile_count(data.sim(1, i)) == 3)
        profiles = client.subscriber_profiles(data.eid(1, esim), page_size=2)
        profile_batches = [b async for b in profiles.arrow()]
        campaigns = client.campaigns(1, page_size=2)
        campaign_batches = [b async for b in campaigns.arrow()]
        iccid = data.identifier("iccid", 1, 2, 999)  # a subscriber with 45 labels
        labels = client.subscriber_labels("iccid", iccid, page_size=20)
        label_batches = [b async for b in labels.arrow()]
        expected = (await profiles.collect(), await campaigns.collect(), await labels.collect())
    assert [b.num_rows for b in profile_batches] == [2, 1]
    assert [b.num_rows for b in label_batches] == [20, 20, 5]
    assert _back(pa.Table.from_batches(profile_batches), Profile) == expected[0]
    assert _back(pa.Table.from_batches(campaign_batches), Campaign) == expected[1]
    assert len(expected[1]) > 2
    assert _back(pa.Table.from_batches(label_batches), Label) == expected[2]


@pytest.mark.usefixtures("no_leaks")
async def test_cursor_arrow_break_cancels_the_read_ahead_and_an_empty_read_is_no_batch() -> None:
    sandbox = Sandbox(record=True)
    async with sandbox as url, Client(base_url=url) as client:
        cursor = client.all_subscribers(1, chunk_size=1000)
        async with cursor:
            async for batch in cursor.arrow():
                assert batch.column("iccid")[0].as_py() == data_iccid(0)
                break
        assert len(sandbox.cursor_log) <= 2  # the chunk, and at most the read-ahead
        assert [b async for b in client.all_subscribers(3).arrow()] == []
        assert [b async for b in client.all_subscribers(3).arrow(Subscriber)] == []


def data_iccid(index: int) -> str:
    return DataSet().identifier("iccid", 1, 0, index)


async def test_the_docs_arrow_example_writes_parquet(tmp_path: Path) -> None:
    done = run_example("arrow", tmp_path)  # docs/pipelines.md, as a program
    assert done.stdout.split() == ["988", "25000"]
    async with Sandbox() as url, Client(base_url=url) as client:
        participants = await client.campaign_participants(1, 1).collect()
        sims = await client.subscribers(1, page_size=1000).collect()
    written = pq.read_table(tmp_path / "participants.parquet")
    assert written.schema == PARTICIPANT_SCHEMA
    assert written.to_pylist() == [msgspec.structs.asdict(p) for p in participants]
    written = pq.read_table(tmp_path / "sims.parquet")
    assert written.schema == SUBSCRIBER_SCHEMA
    assert _back(written, Subscriber) == sims
