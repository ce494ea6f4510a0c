"""flolive.dask: plans, parts, and exactly-once Parquet on a Dask cluster."""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import os
import pickle
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

dask = pytest.importorskip("dask")


import flolive.dask as fd  # noqa: E402
from flolive import CampaignNotFound, Client, ListChanged  # noqa: E402
from flolive.arrow import PARTICIPANT_SCHEMA  # noqa: E402
from flolive.sandbox import DataSet, Faults, Sandbox  # noqa: E402

from .support.events import wait_until  # noqa: E402
from .support.readme import example  # noqa: E402
from .support.servers import RequestGate  # noqa: E402

TOKEN = "tok-dask-5b0c9e21-never-pickled"
FIRST_ID = 1_030_247


def _ids(n: int, start: int = 0) -> list[int]:
    return list(range(FIRST_ID + start, FIRST_ID + n))


async def test_plan_reads_one_page_and_splits_the_list_into_page_ranges() -> None:
    sandbox = Sandbox(token=TOKEN, max_page_size=40, record=True, campaign_sizes={1: 988})
    async with sandbox as url, Client(base_url=url, token=TOKEN, page_size=100) as client:
        parts = await client.campaign_participants(1, 1).plan(pages_per_part=10)
    assert sandbox.log == [("GET", "/api/v2/customer/1/campaign/1/participants?page=0&size=100")]
    # The server capped the size at 40: 25 pages, in parts of 10, 10 and 5.
    assert [(p.index, p.first_page, p.last_page, p.pages) for p in parts] == [
        (0, 0, 9, 10),
        (1, 10, 19, 10),
        (2, 20, 24, 5),
    ]
    assert {(p.page_size, p.total_pages, p.total_elements) for p in parts} == {(40, 25, 988)}
    assert [p.expected_items for p in parts] == [400, 400, 188]
    assert parts[1].name == "pages-000010-000019"
    blob = pickle.dumps(parts)
    assert TOKEN.encode() not in blob
    assert pickle.loads(blob) == parts
    src = parts[0].source
    assert (src.base_url, src.path, src.params) == (
        url,
        "/api/v2/customer/1/campaign/1/participants",
        (),
    )
    assert dict(src.settings)["max_concurrency"] == 8


async def test_plan_honours_start_page_max_pages_and_an_empty_list() -> None:
    async with (
        Sandbox(page_base=1, campaign_sizes={1: 988, 4: 0}) as url,
        Client(base_url=url, page_base=1, page_size=100) as client,
    ):
        parts = await client.campaign_participants(1, 1, start_page=3, max_pages=5).plan(2)
        empty = await client.campaign_participants(1, 4).plan(2)
        with pytest.raises(ValueError, match="max_items"):
            await client.campaign_participants(1, 1, max_items=5).plan(2)
        with pytest.raises(ValueError, match="pages_per_part"):
            await client.campaign_participants(1, 1).plan(0)
    assert [(p.first_page, p.last_page) for p in parts] == [(3, 4), (5, 6), (7, 7)]
    assert [(p.first_page, p.last_page, p.expected_items) for p in empty] == [(1, 1, 0)]


def _plan(url: str, campaign: int = 1, pages_per_part: int = 3, **options: Any) -> list[fd.Part]:
    async def plan() -> list[fd.Part]:
        async with Client(base_url=url, token=TOKEN, page_size=100, **options) as client:
            return await client.campaign_participants(1, campaign).plan(pages_per_part)

    return asyncio.run(plan())


def test_read_part_takes_credentials_from_the_environment(
    threaded_sandbox: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = threaded_sandbox(token=TOKEN, campaign_sizes={1: 988})
    parts = _plan(server.url)
    monkeypatch.setenv("FLOLIVE_TOKEN", TOKEN)
    tables = [fd.read_part(p) for p in parts]
    assert [t.num_rows for t in tables] == [300, 300, 300, 88]
    assert all(t.schema == PARTICIPANT_SCHEMA for t in tables)
    assert pa.concat_tables(tables).column("id").to_pylist() == _ids(988)


async def _provide_token() -> str:
    return TOKEN


def test_read_part_with_a_token_provider_and_retried_transient_errors(
    threaded_sandbox: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = Faults(server_error=0.3, retry_after=0)
    server = threaded_sandbox(token=TOKEN, campaign_sizes={1: 988}, faults=faults, seed=5)
    parts = _plan(server.url, pages_per_part=10)
    monkeypatch.delenv("FLOLIVE_TOKEN", raising=False)
    from flolive import RetryPolicy

    table = fd.read_part(
        parts[0], token_provider=_provide_token, retry=RetryPolicy(max_retries=8, base_delay=0)
    )
    assert table.column("id").to_pylist() == _ids(1000)[:988]
    assert server.call(lambda: server.sandbox.stats.faults["server_error"]) > 0


def test_a_list_changed_since_the_plan_fails_the_part(
    threaded_sandbox: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = threaded_sandbox(token=TOKEN, campaign_sizes={1: 988}, drift=1)
    parts = _plan(server.url)
    monkeypatch.setenv("FLOLIVE_TOKEN", TOKEN)
    with pytest.raises(ListChanged, match="pages-000009-000009: the plan saw 988 items") as info:
        fd.read_part(parts[3])
    assert info.value.before == 988
    assert info.value.after > 988
    assert pickle.loads(pickle.dumps(info.value)).after == info.value.after  # back to the driver


def test_permanent_api_errors_are_raised_not_retried(
    threaded_sandbox: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = threaded_sandbox(token=TOKEN, campaign_sizes={1: 988}, record=True)
    part = _plan(server.url)[0]
    gone = fd.Part(
        **{
            **{f: getattr(part, f) for f in part.__dataclass_fields__},
            "source": type(part.source)(
                **{
                    **{f: getattr(part.source, f) for f in part.source.__dataclass_fields__},
                    "path": "/api/v2/customer/1/campaign/77/participants",
                }
            ),
        }
    )
    monkeypatch.setenv("FLOLIVE_TOKEN", TOKEN)
    before = server.call(lambda: len(server.sandbox.log))
    with pytest.raises(CampaignNotFound):
        fd.read_part(gone)
    requested = server.call(lambda: [qs for _, qs in server.sandbox.log[before:]])
    # Each page asked at most once (pages after the first may be asked
    # speculatively): a 404 is not retried.
    assert "/api/v2/customer/1/campaign/77/participants?page=0&size=100" in requested
    assert len(requested) == len(set(requested)) <= part.pages


def test_secrets_are_refused_for_workers() -> None:
    for key in ("token", "password", "username"):
        with pytest.raises(ValueError, match="cannot be sent to workers"):
            fd.read_participants(1, 1, base_url="http://127.0.0.1:9", **{key: "x"})


def test_to_parquet_one_file_per_part_in_order(
    threaded_sandbox: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = threaded_sandbox(token=TOKEN, campaign_sizes={1: 988})
    monkeypatch.setenv("FLOLIVE_TOKEN", TOKEN)
    df = fd.read_participants(1, 1, base_url=server.url, page_size=100, pages_per_part=3)
    assert df.npartitions == 4
    out = tmp_path / "out"
    with dask.config.set(scheduler="synchronous"):
        assert fd.to_parquet(df, str(out)) == 988
        names = sorted(os.listdir(out))
        assert names == [f"part.{i:06d}.parquet" for i in range(4)]
        assert pq.read_schema(out / names[0]) == PARTICIPANT_SCHEMA
        table = pq.read_table(out)
        assert table.column("id").to_pylist() == _ids(988)
        with pytest.raises(FileExistsError):
            fd.to_parquet(df, str(out))
        assert fd.to_parquet(df.partitions[:2], str(out), overwrite=True) == 600
    assert sorted(os.listdir(out)) == [f"part.{i:06d}.parquet" for i in range(2)]


def test_a_worker_killed_mid_job_still_gives_every_id_exactly_once(
    threaded_sandbox: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    total, size, per_part = 24_000, 400, 5  # 60 pages, 12 parts
    gate = RequestGate.after(1 + 2 * per_part + 2)  # the plan, about two parts, then hold
    server = threaded_sandbox(middlewares=[gate.middleware], token=TOKEN, campaign_sizes={2: total})
    monkeypatch.setenv("FLOLIVE_TOKEN", TOKEN)  # the workers' credentials
    out = tmp_path / "out"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        df = fd.read_participants(
            1, 2, base_url=server.url, page_size=size, pages_per_part=per_part, max_concurrency=4
        )
        job = pool.submit(fd.to_parquet, df, str(out))
        gate.wait_until(lambda g: g.held > 0)  # the job got as far as the gate
        # The scheduler learns which worker holds a task a moment after the
        # gate sees its request: wait for that condition, not for a time.
        busy: list[str] = []

        def some_worker_busy() -> bool:
            busy[:] = [w for w, tasks in client.processing().items() if tasks]
            return bool(busy)

        wait_until(some_worker_busy, timeout=60, what="no worker holds a part")
        pids = client.run(os.getpid)
        os.kill(pids[busy[0]], signal.SIGKILL)
        gate.open()
        assert job.result(timeout=120) == total
    names = sorted(os.listdir(out))
    assert names == [f"part.{i:06d}.parquet" for i in range(12)]  # no temporaries left
    ids = pq.read_table(out).column("id").to_pylist()
    assert ids == _ids(total)  # every id once, in list order
    assert gate.seen > 1 + total // size  # pages were read again


def test_the_readme_examples_write_parquet_and_duckdb_reads_it(
    threaded_sandbox: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = threaded_sandbox(token=TOKEN)
    monkeypatch.setenv("FLOLIVE_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"BASE_URL": server.url}
    exec(example("dask-parquet"), namespace)
    assert namespace["rows"] == 988
    assert sorted(os.listdir(tmp_path / "participants")) == [
        f"part.{i:06d}.parquet" for i in range(4)
    ]
    pytest.importorskip("duckdb")
    exec(example("duckdb-parquet"), namespace)
    statuses = [p.status for p in DataSet().participants(1, 1, 0, 988)]
    assert namespace["by_status"] == sorted((s, statuses.count(s)) for s in set(statuses))


def test_without_dask_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)
    with pytest.raises(ImportError, match=r"pip install 'flolive-sdk\[dask\]'"):
        fd.read_participants(1, 1, base_url="http://127.0.0.1:9")
    assert importlib.import_module("flolive.dask") is fd  # plan and read_part need no dask
