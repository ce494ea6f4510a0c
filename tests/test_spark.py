"""flolive.spark: the schema, options, plan and reads without Spark, then on one
local session per module (``local[2,3]``: two cores, three attempts per task)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import json
import os
import pickle
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyspark", reason="flolive.spark needs the spark extra (pyspark 4)")

import pyarrow as pa
import pyarrow.parquet as pq
from aiohttp import web
from pyspark.sql import SparkSession
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import (
    ArrayType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from flolive import Client, ListChanged, ListChangedWarning
from flolive.arrow import to_record_batch
from flolive.models import Participant, Subscriber
from flolive.spark import (
    FloliveDataSource,
    FlolivePartition,
    TaskBudget,
    spark_schema,
    split_budget,
)

TOKEN = "tok-spark-7d41c0aa-never-shown"
PASSWORD = "pw-spark-93be0f12-never-shown"
# pyspark 4.3 warns at session start when pandas is 3.x; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    # A session starts in seconds on an idle machine, in a minute on a busy one.
    pytest.mark.timeout(900),
]


def _options(url: str, **extra: str) -> dict[str, str]:
    return {
        "base_url": url,
        "token": TOKEN,
        "resource": "participants",
        "customer_id": "1",
        "campaign_id": "2",
        "page_size": "100",
        **extra,
    }


def _reader(options: dict[str, str], schema: StructType | None = None) -> Any:
    source = FloliveDataSource(options)
    return source.reader(schema or source.schema())


def _expected(url: str, campaign: int = 2, resource: str = "participants") -> list[dict[str, Any]]:
    """The rows the plain pager reads, in Spark's Arrow form."""

    async def read() -> list[Any]:
        async with Client(base_url=url, token=TOKEN, page_size=100) as client:
            if resource == "all_subscribers":
                return await client.all_subscribers(2).collect()
            return await client.campaign_participants(1, campaign).collect()

    items = asyncio.run(read())
    item_type = Subscriber if resource == "all_subscribers" else Participant
    target = to_arrow_schema(spark_schema(item_type), timezone="UTC")
    rows: list[dict[str, Any]] = to_record_batch(items, item_type).cast(target).to_pylist()
    return rows


# -- no Spark needed ---------------------------------------------------------


@pytest.mark.parametrize(
    ("concurrency", "rate", "parts", "tasks", "budget"),
    [
        (8, None, 10, None, TaskBudget(1)),  # default: every partition may run at once
        (8, None, 10, 2, TaskBudget(4)),
        (8, 40.0, 10, 4, TaskBudget(2, 10.0)),
        (8, 10.0, 1, None, TaskBudget(8, 10.0)),  # one partition (a cursor) gets it all
        (3, None, 2, 8, TaskBudget(1)),  # never below one request in flight
        (16, 5.0, 3, 8, TaskBudget(5, 5.0 / 3)),  # no more tasks run than there are parts
    ],
)
def test_the_budget_is_split_across_the_tasks_that_run_at_once(
    concurrency: int, rate: float | None, parts: int, tasks: int | None, budget: TaskBudget
) -> None:
    assert split_budget(concurrency, rate, parts, tasks) == budget


def test_the_schema_comes_from_the_models() -> None:
    schema = spark_schema(Participant)
    assert schema["id"] == StructField("id", LongType(), nullable=False)
    assert schema["timestamp"] == StructField("timestamp", TimestampType(), nullable=False)
    assert schema.fieldNames() == [
        "id",
        "iccid",
        "status",
        "attempt",
        "code",
        "message",
        "timestamp",
    ]
    pairs = spark_schema(Subscriber)["imsi_msisdn_pairs"]
    assert not pairs.nullable
    assert isinstance(pairs.dataType, ArrayType)
    assert not pairs.dataType.containsNull
    assert pairs.dataType.elementType.simpleString() == (
        "struct<imsi:string,msisdn:string,is_last_active:boolean>"
    )
    assert [f.nullable for f in pairs.dataType.elementType.fields] == [False, True, False]


def test_options_are_checked_at_load_and_secrets_never_echoed() -> None:
    with pytest.raises(ValueError, match="unknown flolive option pagesize; valid options"):
        FloliveDataSource(_options("http://127.0.0.1:9", pagesize="10"))
    with pytest.raises(ValueError, match=r"option page_size must be an integer >= 1, got 'x'"):
        FloliveDataSource(_options("http://127.0.0.1:9", page_size="x"))
    with pytest.raises(ValueError, match="resource participants needs option campaign_id"):
        FloliveDataSource({"resource": "participants", "customer_id": "1"})
    with pytest.raises(ValueError, match="option resource must be one of participants, "):
        FloliveDataSource({"resource": "nope"})
    with pytest.raises(ValueError, match="only one of the options token, or username") as info:
        FloliveDataSource(_options("http://127.0.0.1:9", username="u", password=PASSWORD))
    assert PASSWORD not in str(info.value)
    login = {k: v for k, v in _options("http://127.0.0.1:9").items() if k != "token"}
    for options in (
        _options("http://127.0.0.1:9"),
        login | {"username": "u", "Password": PASSWORD},
    ):
        source = FloliveDataSource(options)
        reader = source.reader(source.schema())
        assert "*********(redacted)" in source.options.values()
        for shown in (repr(vars(source)), repr(vars(reader)), repr(reader.settings)):
            assert TOKEN not in shown
            assert PASSWORD not in shown


def test_a_given_schema_may_allow_nulls_but_not_differ() -> None:
    ours = spark_schema(Participant)
    relaxed = StructType([StructField(f.name, f.dataType, True) for f in ours.fields])
    reader = _reader(_options("http://127.0.0.1:9"), relaxed)
    assert reader.arrow_schema == to_arrow_schema(relaxed, timezone="UTC")
    renamed = StructType([StructField("ID", LongType(), False), *ours.fields[1:]])
    for wrong in (
        StructType(ours.fields[:3]),
        renamed,
        StructType([*ours.fields[:6]]).add("timestamp", StringType()),
    ):
        with pytest.raises(
            ValueError, match="does not match resource participants's; use struct<id:bigint,"
        ):
            _reader(_options("http://127.0.0.1:9"), wrong)


def test_plan_and_read_without_spark(threaded_sandbox: Callable[..., Any]) -> None:
    server = threaded_sandbox(token=TOKEN, campaign_sizes={2: 988}, record=True)
    reader = _reader(
        _options(server.url, pages_per_partition="3", max_concurrency="6", concurrent_tasks="2")
    )
    partitions = reader.partitions()
    # 10 pages in ranges of 3: 4 partitions; 6 requests in flight shared by 2 tasks.
    assert [(p.index, p.part.first_page, p.part.last_page) for p in partitions] == [
        (0, 0, 2),
        (1, 3, 5),
        (2, 6, 8),
        (3, 9, 9),
    ]
    assert {p.budget for p in partitions} == {TaskBudget(3)}
    assert TOKEN.encode() not in pickle.dumps(partitions)
    assert server.call(lambda: server.sandbox.log) == [
        ("GET", "/api/v2/customer/1/campaign/2/participants?page=0&size=100")
    ]
    batches = [b for p in partitions for b in reader.read(p)]
    assert [b.num_rows for b in batches] == [100] * 9 + [88]
    assert {b.schema for b in batches} == {reader.arrow_schema}
    assert str(reader.arrow_schema.field("timestamp").type) == "timestamp[us, tz=UTC]"
    assert pa.Table.from_batches(batches).to_pylist() == _expected(server.url)


def test_cursor_resources_are_one_partition(threaded_sandbox: Callable[..., Any]) -> None:
    server = threaded_sandbox(token=TOKEN, record=True)
    reader = _reader(
        _options(server.url, resource="all_subscribers", customer_id="2", chunk_size="1000")
    )
    partitions = reader.partitions()
    assert partitions == [FlolivePartition(0, TaskBudget(8))]
    assert server.call(lambda: server.sandbox.log) == []  # no request to plan a cursor read
    batches = list(reader.read(partitions[0]))
    assert [b.num_rows for b in batches] == [1000, 1000, 500]
    assert pa.Table.from_batches(batches).to_pylist() == _expected(
        server.url, resource="all_subscribers"
    )


@pytest.mark.parametrize("policy", ["raise", "warn", "ignore"])
def test_a_list_changed_since_the_plan_is_reported_per_on_list_change(
    threaded_sandbox: Callable[..., Any], policy: str
) -> None:
    server = threaded_sandbox(token=TOKEN, campaign_sizes={2: 988})
    reader = _reader(_options(server.url, pages_per_partition="5", on_list_change=policy))
    partitions = reader.partitions()
    server.call(server.sandbox.data.campaign_sizes.__setitem__, 2, 1000)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        if policy == "raise":
            with pytest.raises(
                ListChanged, match=r"partition 1 \(pages-000005-000009\): planned with 988 items"
            ) as info:
                list(reader.read(partitions[1]))
            assert (info.value.before, info.value.after) == (988, 1000)
        else:
            rows = sum(b.num_rows for b in reader.read(partitions[1]))
            assert rows == 500
    changed = [w for w in seen if issubclass(w.category, ListChangedWarning)]
    assert [str(w.message) for w in changed] == (
        [
            "partition 1 (pages-000005-000009): planned with 988 items in pages of 100, page 5 "
            "says 1000 in pages of 100; the list changed since the plan: run the query again "
            "(GET /api/v2/customer/1/campaign/2/participants, page 5)"
        ]
        if policy == "warn"
        else []
    )


# -- on a local Spark session ------------------------------------------------


class SparkRun:
    """The shared session and where it writes: its event log, local dir, and the
    JVM's stderr (Spark's log and its Python workers' output)."""

    def __init__(self, session: SparkSession, root: Path) -> None:
        self.session = session
        self.root = root
        self.events = root / "events"
        self.jvm_log = root / "jvm-stderr.log"

    def wait_for_jobs(self, group: str, timeout: float = 120) -> list[dict[str, Any]]:
        """The event log's records, once every job of ``group`` has its end
        written there (the listener bus writes them after the action returns)."""
        deadline = time.monotonic() + timeout
        while True:
            records = []
            # Spark 4 rolls its event log: a directory of events_N_... files.
            for f in sorted(p for p in self.events.rglob("*") if p.is_file()):
                for line in f.read_text(encoding="utf-8").splitlines():
                    with contextlib.suppress(json.JSONDecodeError):  # a line being written
                        records.append(json.loads(line))
            started = {
                r["Job ID"]
                for r in records
                if r["Event"] == "SparkListenerJobStart"
                and r.get("Properties", {}).get("spark.jobGroup.id") == group
            }
            ended = {r["Job ID"] for r in records if r["Event"] == "SparkListenerJobEnd"}
            if started and started <= ended:
                return records
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs of {group} not all ended in the event log")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkRun]:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip(
            "Spark needs a Java runtime (17 or 21): apt-get install openjdk-17-jre-headless"
        )
    root = tmp_path_factory.mktemp("spark")
    (root / "events").mkdir()
    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers import this flolive
    # The JVM inherits fd 2: Spark's log4j console and the Python workers'
    # stderr land in one file the secret tests search.
    saved = os.dup(2)
    log_fd = os.open(root / "jvm-stderr.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log_fd, 2)
    try:
        session = (
            SparkSession.builder.master("local[2,3]")
            .appName("flolive-tests")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.eventLog.enabled", "true")
            .config("spark.eventLog.dir", str(root / "events"))
            # Plain text, so that a search for a secret can find it.
            .config("spark.eventLog.compress", "false")
            .config("spark.local.dir", str(root / "local"))
            .config("spark.sql.warehouse.dir", str(root / "warehouse"))
            .getOrCreate()
        )
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(log_fd)
    session.dataSource.register(FloliveDataSource)
    yield SparkRun(session, root)
    session.stop()
    os.environ.pop("PYSPARK_PYTHON", None)


def _load(spark: SparkRun, options: dict[str, str]) -> Any:
    return spark.session.read.format("flolive").options(**options).load()


def test_spark_reads_every_item_once_in_page_ranges(
    spark: SparkRun, threaded_sandbox: Callable[..., Any]
) -> None:
    server = threaded_sandbox(token=TOKEN, campaign_sizes={2: 2000})
    df = _load(spark, _options(server.url, pages_per_partition="4"))
    assert df.schema == spark_schema(Participant)
    rows = df.toArrow().to_pylist()
    assert rows == _expected(server.url)


def test_a_failed_task_attempt_is_read_again_exactly_once(
    spark: SparkRun, threaded_sandbox: Callable[..., Any], tmp_path: Path
) -> None:
    failures = collections.Counter[int]()

    async def fail_page_13_twice(path: str, page: int) -> None:
        if page == 13 and failures[page] < 2:  # one SDK retry, then the task fails
            failures[page] += 1
            raise web.HTTPServiceUnavailable()

    server = threaded_sandbox(
        token=TOKEN, campaign_sizes={2: 4000}, record=True, before_page=fail_page_13_twice
    )
    group = "flolive-task-retry"
    spark.session.sparkContext.setJobGroup(group, "task retry")
    try:
        df = _load(
            spark, _options(server.url, max_retries="1", max_concurrency="8", concurrent_tasks="2")
        )
        df.write.parquet(str(tmp_path / "out"))
    finally:
        spark.session.sparkContext.setJobGroup("", "")
    table = pq.read_table(tmp_path / "out").cast(
        to_arrow_schema(spark_schema(Participant), timezone="UTC")
    )
    requests = server.call(lambda: list(server.sandbox.log))
    pages = collections.Counter(int(re.search(r"page=(\d+)", qs).group(1)) for _, qs in requests)
    assert table.num_rows == 4000
    assert table.to_pylist() == _expected(server.url)  # in order, every item once
    assert pages[13] == 3  # two failures (first attempt), one success (second attempt)
    assert pages[0] == 2  # the plan, then partition 0
    assert all(n == 1 for p, n in pages.items() if not 0 <= p < 20)
    assert all(1 <= pages[p] <= 2 for p in range(10, 20) if p != 13)  # partition 1
    tasks = [
        (r["Task Info"]["Index"], r["Task Info"]["Attempt"], r["Task End Reason"]["Reason"])
        for r in spark.wait_for_jobs(group)
        if r["Event"] == "SparkListenerTaskEnd"
        and r["Task Info"]["Index"] == 1
        and r["Stage ID"] in _stages(spark, group)
    ]
    assert sorted(tasks)[:2] == [(1, 0, "ExceptionFailure"), (1, 1, "Success")]
    print(
        f"\ntask retry: {sum(pages.values())} requests for 40 pages; partition 1 attempts {tasks}"
    )


def _stages(spark: SparkRun, group: str) -> set[int]:
    records = spark.wait_for_jobs(group)
    return {
        s
        for r in records
        if r["Event"] == "SparkListenerJobStart"
        and r.get("Properties", {}).get("spark.jobGroup.id") == group
        for s in r["Stage IDs"]
    }


def _files_holding(root: Path, secret: str) -> list[str]:
    return [
        str(f.relative_to(root))
        for f in root.rglob("*")
        if f.is_file() and secret.encode() in f.read_bytes()
    ]


def test_secrets_stay_out_of_plans_logs_event_log_errors_and_files(
    spark: SparkRun,
    threaded_sandbox: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = threaded_sandbox(token=TOKEN, users={"etl": PASSWORD}, campaign_sizes={2: 500})
    login = {k: v for k, v in _options(server.url).items() if k != "token"}
    group = "flolive-secrets"
    sc = spark.session.sparkContext
    sc.setLogLevel("INFO")  # more of Spark's log to search
    sc.setJobGroup(group, "secrets")
    try:
        by_password = _load(spark, login | {"username": "etl", "password": PASSWORD})
        by_password.explain(True)
        by_password.write.parquet(str(tmp_path / "out"))
        unknown = _load(
            spark, login | {"username": "etl", "password": PASSWORD, "campaign_id": "77"}
        )
        with pytest.raises(Exception, match="CUSTOMER_1037") as info:
            unknown.count()
    finally:
        sc.setJobGroup("", "")
        sc.setLogLevel("WARN")
    plan = capsys.readouterr().out
    assert "BatchScan flolive" in plan
    assert "CampaignNotFound: CUSTOMER_1037: Campaign does not exist" in str(info.value)
    assert pq.read_table(tmp_path / "out").num_rows == 500
    spark.wait_for_jobs(group)
    for secret in (PASSWORD, TOKEN):
        assert secret not in plan
        assert secret not in str(info.value)
        assert _files_holding(spark.root, secret) == []  # event log, JVM log, local dir
        assert _files_holding(tmp_path, secret) == []  # the output
    assert spark.jvm_log.stat().st_size > 0  # the log searched is the one Spark writes


def test_an_api_error_in_a_task_reaches_the_user_typed(
    spark: SparkRun, threaded_sandbox: Callable[..., Any]
) -> None:
    server = threaded_sandbox(
        token=TOKEN, campaign_sizes={2: 1000}, fail_pages={7: "CUSTOMER_1037"}
    )
    df = _load(spark, _options(server.url, pages_per_partition="5"))
    with pytest.raises(Exception, match="CampaignNotFound") as info:
        df.count()
    message = str(info.value)
    assert "CUSTOMER_1037: Campaign does not exist" in message
    assert "GET /api/v2/customer/1/campaign/2/participants, page 7" in message
    assert TOKEN not in message


def _docs_example(name: str) -> str:
    text = (Path(__file__).resolve().parent.parent / "docs" / "spark.md").read_text("utf-8")
    for m in re.finditer(r"```python\n# example: ([\w-]+)\n(.*?)```", text, re.S):
        if m.group(1) == name:
            return m.group(2)
    raise LookupError(name)


def test_zz_the_docs_example_runs(spark: SparkRun, capsys: pytest.CaptureFixture[str]) -> None:
    # Last in the module: the example ends with spark.stop(), and getOrCreate()
    # hands it this module's session.
    exec(compile(_docs_example("spark-sandbox"), "docs/spark.md", "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert "partitions: 2 rows: 5000" in out
    statuses = re.findall(r"^\|\s*(\w+)\|\s*(\d+)\|$", out, re.M)
    assert sum(int(n) for _, n in statuses) == 5000


def test_max_rate_is_split_and_passed_only_when_given(
    threaded_sandbox: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import flolive.spark

    made: list[float | None] = []

    class RatedClient(Client):  # stands in for a core whose Client takes max_rate
        def __init__(self, *args: Any, max_rate: float | None = None, **kwargs: Any) -> None:
            made.append(max_rate)
            super().__init__(*args, **kwargs)

    server = threaded_sandbox(token=TOKEN, campaign_sizes={2: 988})
    options = _options(server.url, pages_per_partition="5", concurrent_tasks="2")
    if "max_rate" not in inspect.signature(Client).parameters:
        with pytest.raises(ValueError, match="option max_rate needs a flolive-sdk whose Client"):
            FloliveDataSource(options | {"max_rate": "10"})
    monkeypatch.setattr(flolive.spark, "Client", RatedClient)
    reader = _reader(options | {"max_rate": "10"})
    partitions = reader.partitions()
    assert {p.budget for p in partitions} == {TaskBudget(4, 5.0)}
    assert sum(b.num_rows for p in partitions for b in reader.read(p)) == 988
    assert made == [10.0, 5.0, 5.0]  # the plan's client, then one per task
    made.clear()
    reader = _reader(options)
    list(reader.read(reader.partitions()[0]))
    assert made == [None, None]  # not given: not passed
