"""flolive.dlt: real pipelines from the sandbox into DuckDB, in a temporary directory."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

dlt = pytest.importorskip("dlt")

from dlt.pipeline.exceptions import PipelineStepFailed  # noqa: E402

from flolive import AuthenticationError  # noqa: E402
from flolive.dlt import flolive_source  # noqa: E402
from flolive.sandbox import DataSet  # noqa: E402
from flolive.sandbox.data import Subscriber  # noqa: E402

from .support.readme import example  # noqa: E402

TOKEN = "tok-3f9a1c77e2-not-for-files"
SIZES = {1: 988, 2: 1010, 3: 0}


@pytest.fixture
def dlt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """dlt with every directory it writes (data, project, pipelines) under tmp_path,
    and no telemetry."""
    for name in ("DLT_DATA_DIR", "DLT_PROJECT_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.delenv("SOURCES__FLOLIVE__TOKEN", raising=False)
    return tmp_path


def _pipeline(home: Path, name: str = "flolive_test") -> Any:
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(home / "warehouse.duckdb")),
        dataset_name="flolive",
        pipelines_dir=str(home / "pipelines"),
    )


def _counts(pipeline: Any, *tables: str) -> dict[str, int]:
    with pipeline.sql_client() as sql:
        return {t: sql.execute_sql(f"select count(*) from {t}")[0][0] for t in tables}


def _files_holding(home: Path, secret: str) -> list[Path]:
    files = [f for f in home.rglob("*") if f.is_file()]
    assert files
    return [f for f in files if secret.encode() in f.read_bytes()]


def test_load_counts_are_exact_and_a_second_run_changes_nothing(
    threaded_sandbox: Callable[..., Any], dlt_home: Path
) -> None:
    server = threaded_sandbox(token=TOKEN, campaign_sizes=SIZES)
    pipeline = _pipeline(dlt_home)
    for _ in range(2):
        source = flolive_source(1, base_url=server.url, token=TOKEN, page_size=300)
        assert sorted(source.selected_resources) == ["campaigns", "participants"]
        pipeline.run(source)
        assert _counts(pipeline, "campaigns", "participants") == {
            "campaigns": 3,
            "participants": 988 + 1010,
        }
    with pipeline.sql_client() as sql:
        keys = sql.execute_sql(
            "select count(distinct (campaign_id, id)), min(id), max(id) from participants"
        )
        first = sql.execute_sql(
            "select customer_id, campaign_id, id, iccid, status, attempt, code, timestamp "
            "from participants where campaign_id = 2 order by id limit 1"
        )
        campaigns = sql.execute_sql("select id, name from campaigns order by id")
        tables = {r[0] for r in sql.execute_sql("select table_name from information_schema.tables")}
    wire = DataSet().participant(1, 2, 0)
    assert keys == [(1998, 1_030_247, 1_030_247 + 1009)]
    assert first[0][:7] == (1, 2, wire.id, wire.iccid, wire.status, wire.attempt, wire.code)
    assert str(first[0][7]) == wire.timestamp  # a naive TIMESTAMP, as the API sent it
    assert campaigns == [(1, "campaign-1-1"), (2, "campaign-1-2"), (3, "campaign-1-3")]
    assert "labels" not in tables
    written = {f.name for f in (dlt_home / "pipelines" / "flolive_test").rglob("*")}
    assert {"trace.pickle", "state.json", "flolive.schema.json"} <= written
    assert _files_holding(dlt_home, TOKEN) == []


def test_given_campaigns_with_labels_token_from_the_environment(
    threaded_sandbox: Callable[..., Any],
    dlt_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = threaded_sandbox(token=TOKEN, campaign_sizes=SIZES)
    monkeypatch.setenv("SOURCES__FLOLIVE__TOKEN", TOKEN)
    pipeline = _pipeline(dlt_home)
    source = flolive_source(1, [2], base_url=server.url).with_resources(
        "campaigns", "participants", "labels"
    )
    with caplog.at_level(logging.WARNING, logger="flolive.dlt"):
        pipeline.run(source)
    data = DataSet()
    # Subscriber 1008 of a campaign always fails with SUBSCRIBER_1029: skipped, logged.
    subs = [Subscriber(1, 2, i) for i in range(1010)]
    expected = sum(data.label_count(s) for s in subs if not data.labels_unavailable(s))
    assert _counts(pipeline, "campaigns", "participants", "labels") == {
        "campaigns": 1,
        "participants": 1010,
        "labels": expected,
    }
    unavailable = data.identifier("iccid", 1, 2, 1008)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        f"labels of iccid {unavailable} skipped"
    ]
    with pipeline.sql_client() as sql:
        many = sql.execute_sql(
            "select iccid, count(*), count(distinct id) from labels group by iccid "
            "having count(*) > 3"
        )
    assert many == [(data.identifier("iccid", 1, 2, 999), 45, 45)]  # paged: 45 labels
    assert _files_holding(dlt_home, TOKEN) == []


def test_a_wrong_token_fails_the_load_with_the_typed_error(
    threaded_sandbox: Callable[..., Any], dlt_home: Path
) -> None:
    server = threaded_sandbox(token=TOKEN, campaign_sizes=SIZES)
    pipeline = _pipeline(dlt_home)
    wrong = "tok-wrong-7d1e0b55"
    with pytest.raises(PipelineStepFailed) as info:
        pipeline.run(flolive_source(1, [1], base_url=server.url, token=wrong))
    causes = []
    exc: BaseException | None = info.value
    while exc is not None:
        causes.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert any(isinstance(c, AuthenticationError) for c in causes)
    assert _files_holding(dlt_home, wrong) == []


def test_without_dlt_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dlt", None)
    monkeypatch.delitem(sys.modules, "flolive.dlt")
    with pytest.raises(ImportError, match=r"pip install 'flolive-sdk\[dlt\]'"):
        importlib.import_module("flolive.dlt")


def test_the_docs_example_loads_campaigns_participants_and_labels(
    dlt_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__FLOLIVE__TOKEN", TOKEN)
    monkeypatch.chdir(dlt_home)  # destination="duckdb" writes beside the script
    # The docs' example runs its own sandbox, with the token it takes from dlt's secrets.
    namespace: dict[str, Any] = {}
    exec(example("dlt-duckdb"), namespace)
    assert namespace["counts"]["participants"] == 988 + 25
    data = DataSet()
    subs = [Subscriber(1, 1, i) for i in range(988)] + [Subscriber(1, 5, i) for i in range(25)]
    counts = _counts(namespace["pipeline"], "campaigns", "labels")
    assert counts == {"campaigns": 2, "labels": sum(map(data.label_count, subs))}
    assert (dlt_home / "flolive_to_duckdb.duckdb").is_file()
    assert _files_holding(dlt_home, TOKEN) == []
