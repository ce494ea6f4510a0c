"""Pipeline benchmarks: Arrow pages, the dlt source, and Dask scale-out.

The cases (``arrow``, ``dlt``, ``dask``) run from ``python -m benchmarks``.
Each measured run is its own subprocess: ``python -m benchmarks.pipelines
RUNNER URL TOTAL PAGE_SIZE CONCURRENCY`` prints one JSON line. One-off costs
(imports, and the pandas import pyarrow makes on its first conversion) run
before the clock starts and are reported apart. The ``dlt`` case serves
pre-encoded exact pages (``python -m benchmarks.pipelines serve TOTAL LATENCY
SIZE``), since merging on ``id`` needs unique ids and the sandbox would spend
more CPU generating pages than the fast pipeline spends loading them.

Runners:

- ``pages``: ``pager.pages()``, counting items (the reference of ``arrow``);
- ``arrow``: ``pager.arrow()``, one RecordBatch per page;
- ``dlt.flolive``: :func:`flolive.dlt.flolive_source` (participants) into DuckDB;
- ``dlt.restclient``: dlt's ``RESTClient`` + ``PageNumberPaginator``, the
  same resource (merge on ``id``) into DuckDB, default settings;
- ``parquet.sdk``: ``pager.arrow()`` into one Parquet file, no Dask;
- ``dask.local``: :func:`flolive.dask.read_participants` +
  :func:`flolive.dask.to_parquet` on Dask's synchronous scheduler (one process);
- ``dask.cluster``: the same on ``LocalCluster(n_workers=2, processes=True)``;
  CPU is the workers' plus this process's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from .processes import measured, serving
from .server import PATH

HERE = Path(__file__).resolve().parent
Server = Callable[..., AbstractContextManager[str]]


# -- runners (in a subprocess each) -------------------------------------------


async def _pages(url: str, total: int, size: int, conc: int) -> dict[str, float]:
    from flolive import Client

    n = pages = 0
    async with Client(base_url=url, max_concurrency=conc, page_size=size) as c:
        async for page in c.campaign_participants(1, 2).pages():
            n += len(page.items)
            pages += 1
    return {"items": n, "batches": pages}


async def _arrow(url: str, total: int, size: int, conc: int) -> dict[str, float]:
    from flolive import Client

    n = batches = 0
    async with Client(base_url=url, max_concurrency=conc, page_size=size) as c:
        async for batch in c.campaign_participants(1, 2).arrow():
            n += batch.num_rows
            batches += 1
    return {"items": n, "batches": batches}


def _dlt_env(tmp: str) -> Any:
    os.environ.update(
        DLT_DATA_DIR=f"{tmp}/data",
        DLT_PROJECT_DIR=f"{tmp}/project",
        RUNTIME__DLTHUB_TELEMETRY="false",
    )
    import dlt

    return dlt.pipeline(
        pipeline_name="bench",
        destination=dlt.destinations.duckdb(f"{tmp}/warehouse.duckdb"),
        dataset_name="bench",
        pipelines_dir=f"{tmp}/pipelines",
    )


def _dlt_count(pipeline: Any) -> int:
    with pipeline.sql_client() as sql:
        return int(sql.execute_sql("select count(*) from participants")[0][0])


def _dlt_flolive(url: str, total: int, size: int, conc: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = _dlt_env(tmp)
        from flolive.dlt import flolive_source

        source = flolive_source(
            1, [2], base_url=url, token="bench", page_size=size, max_concurrency=conc
        ).with_resources("participants")
        pipeline.run(source)
        return {"items": _dlt_count(pipeline)}


def _dlt_restclient(url: str, total: int, size: int, conc: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = _dlt_env(tmp)
        import dlt
        from dlt.sources.helpers.rest_client import RESTClient
        from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator

        client = RESTClient(
            base_url=url,
            paginator=PageNumberPaginator(
                base_page=0, page_param="page", total_path="pageable.totalPages"
            ),
            data_selector="content",
        )

        @dlt.resource(name="participants", write_disposition="merge", primary_key="id")
        def participants() -> Iterator[Any]:
            yield from client.paginate(PATH, params={"size": size})

        pipeline.run(participants())
        return {"items": _dlt_count(pipeline)}


def _parquet_sdk(url: str, total: int, size: int, conc: int) -> dict[str, float]:
    import pyarrow.parquet as pq

    from flolive import Client
    from flolive.arrow import PARTICIPANT_SCHEMA

    async def run(path: str) -> None:
        async with Client(base_url=url, max_concurrency=conc, page_size=size) as c:
            with pq.ParquetWriter(path, PARTICIPANT_SCHEMA) as writer:
                async for batch in c.campaign_participants(1, 2).arrow():
                    writer.write_batch(batch)

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(f"{tmp}/out.parquet"))
        return {"items": pq.read_metadata(f"{tmp}/out.parquet").num_rows}


def _dask_job(url: str, size: int, conc: int, tmp: str) -> int:
    import flolive.dask as fd

    pages_per_part = 20
    df = fd.read_participants(
        1, 2, base_url=url, page_size=size, pages_per_part=pages_per_part, max_concurrency=conc
    )
    return fd.to_parquet(df, f"{tmp}/out")


def _dask_local(url: str, total: int, size: int, conc: int) -> dict[str, float]:
    import dask

    with tempfile.TemporaryDirectory() as tmp, dask.config.set(scheduler="synchronous"):
        return {"items": _dask_job(url, size, conc, tmp)}


def _dask_cluster(url: str, total: int, size: int, conc: int) -> dict[str, float]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
        tempfile.TemporaryDirectory() as tmp,
    ):
        client.run(_warm_dask)  # imports are not the job
        cpu0 = sum(client.run(time.process_time).values())
        own0, wall0 = time.process_time(), time.perf_counter()
        items = _dask_job(url, size, conc, tmp)
        wall, own = time.perf_counter() - wall0, time.process_time() - own0
        cpu1 = sum(client.run(time.process_time).values())
        # What the idle cluster (heartbeats, the scheduler) burns per second,
        # charged for the job's duration: shown apart, still counted.
        own1, idle0 = time.process_time(), time.perf_counter()
        time.sleep(2.0)
        idle_rate = (
            sum(client.run(time.process_time).values()) - cpu1 + time.process_time() - own1
        ) / (time.perf_counter() - idle0)
    # Overrides the runner's own wall and CPU: cluster start-up is not the job.
    return {
        "items": items,
        "wall": wall,
        "cpu": cpu1 - cpu0 + own,
        "driver_cpu": own,
        "idle_cpu": idle_rate * wall,
    }


RUNNERS: dict[str, Callable[[str, int, int, int], dict[str, float]]] = {
    "pages": lambda *a: asyncio.run(_pages(*a)),
    "arrow": lambda *a: asyncio.run(_arrow(*a)),
    "dlt.flolive": _dlt_flolive,
    "dlt.restclient": _dlt_restclient,
    "parquet.sdk": _parquet_sdk,
    "dask.local": _dask_local,
    "dask.cluster": _dask_cluster,
}


def _warm_arrow() -> None:
    # pyarrow imports pandas (when installed) on its first conversion from
    # Python objects: a one-off cost per process, like importing pyarrow.
    from flolive import Participant
    from flolive.arrow import to_record_batch

    to_record_batch([], Participant)


def _warm_dask() -> None:
    import dask.dataframe
    import pyarrow.parquet

    import flolive.dask

    _warm_arrow()
    _ = (dask.dataframe, pyarrow.parquet, flolive.dask)


def _warm_cluster() -> None:
    import distributed

    _warm_dask()
    _ = distributed


def _warm_dlt() -> None:
    import dlt
    import duckdb
    from dlt.sources.helpers.rest_client import RESTClient

    import flolive.dlt

    _warm_arrow()
    _ = (dlt, duckdb, RESTClient, flolive.dlt)


#: Run before the clock starts, and timed apart: one-off costs per process
#: (imports), not costs per page. Cluster workers are warmed the same way.
PRELOAD: dict[str, Callable[[], None]] = {
    "arrow": _warm_arrow,
    "dlt.flolive": _warm_dlt,
    "dlt.restclient": _warm_dlt,
    "parquet.sdk": _warm_dask,
    "dask.local": _warm_dask,
    "dask.cluster": _warm_cluster,
}


def main() -> None:
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
        return
    name, url = sys.argv[1], sys.argv[2]
    total, size, conc = (int(a) for a in sys.argv[3:6])
    import_s = 0.0
    if name in PRELOAD:
        t0 = time.perf_counter()
        PRELOAD[name]()
        import_s = time.perf_counter() - t0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    out = RUNNERS[name](url, total, size, conc)
    measured = {"wall": time.perf_counter() - wall0, "cpu": time.process_time() - cpu0}
    print(json.dumps(measured | {"import_s": import_s} | out))


# -- an exact, pre-encoded server (unique ids, for merges) ----------------------


def serve(total: int, latency: float, size: int) -> None:
    """Serve ``total`` sandbox participants in pages of ``size``, every page
    encoded before the port is printed: the server costs next to no CPU per
    request, and, unlike ``benchmarks.server``, every id is unique."""
    import math

    import msgspec
    from aiohttp import web

    from flolive.sandbox import DataSet

    data = DataSet()
    n_pages = max(1, math.ceil(total / size))
    pages = [
        msgspec.json.encode(
            {
                "errorCode": "",
                "errorMessage": "",
                "content": data.participants(1, 2, i * size, min(total, (i + 1) * size)),
                "pageable": {
                    "page": i,
                    "size": size,
                    "totalPages": n_pages,
                    "totalElements": total,
                },
            }
        )
        for i in range(n_pages)
    ]

    async def participants(request: web.Request) -> web.Response:
        if latency:
            await asyncio.sleep(latency)
        page = int(request.query.get("page", "0"))
        if int(request.query.get("size", "20")) != size or not 0 <= page < n_pages:
            return web.Response(status=400, text=f"this server serves pages of {size} only")
        return web.Response(body=pages[page], content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_get(PATH, participants)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def exact_server(total: int, latency: float, size: int) -> AbstractContextManager[str]:
    return serving(["benchmarks.pipelines", "serve", str(total), str(latency), str(size)])


# -- cases (from python -m benchmarks) ------------------------------------------


def _measure(runner: str, url: str, total: int, size: int, conc: int) -> dict[str, float]:
    return measured(["benchmarks.pipelines", runner, url, str(total), str(size), str(conc)], total)


def _interleaved(
    runners: list[str], url: str, total: int, size: int, conc: int, runs: int
) -> dict[str, dict[str, float]]:
    samples: dict[str, list[dict[str, float]]] = {r: [] for r in runners}
    for i in range(runs):
        for r in runners[i % len(runners) :] + runners[: i % len(runners)]:
            samples[r].append(_measure(r, url, total, size, conc))
    return {
        r: {k: statistics.median(s[k] for s in ss) for k in ss[0]} | {"runs": len(ss)}
        for r, ss in samples.items()
    }


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def case_arrow(server: Server, args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    total = 20_000 if args.quick else 500_000
    size, conc = 1000, 16
    with server(total, 0.0) as url:
        res = _interleaved(["pages", "arrow"], url, total, size, conc, args.runs)
    lines = [
        f"### Arrow pages: {total:,} participants, pages of {size}, no latency, concurrency {conc}",
        "",
        "| reader | median wall (s) | items/s | batches (pages)/s | items per CPU s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r, label in (("pages", "`pager.pages()`"), ("arrow", "`pager.arrow()`")):
        m = res[r]
        lines.append(
            f"| {label} | {m['wall']:.3f} | {total / m['wall']:,.0f} | "
            f"{m['batches'] / m['wall']:,.0f} | {total / m['cpu']:,.0f} |"
        )
    ratio = res["pages"]["wall"] / res["arrow"]["wall"]
    cpu_ratio = res["pages"]["cpu"] / res["arrow"]["cpu"]
    # The CPU a batch costs on top of its page, per item: the conversion.
    extra_us = (res["arrow"]["cpu"] - res["pages"]["cpu"]) / total * 1e6
    lines += [
        "",
        f"Target Arrow >= 0.8x the items/s of `.pages()`: {ratio:.2f}x "
        f"({cpu_ratio:.2f}x per CPU second), {_verdict(ratio >= 0.8)}. Arrow costs "
        f"{extra_us:.2f} µs of CPU per item on top of `.pages()`. Importing pyarrow, "
        f"and the pandas it imports on its first conversion (once per process, "
        f"{res['arrow']['import_s']:.2f} s), is not counted.",
    ]
    report["arrow"] = {"params": [total, size, conc], "results": res}
    return lines


def case_dlt(server: Server, args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    total = 5_000 if args.quick else 100_000
    size, conc, latency = 1000, 8, 0.02
    runs = 1 if args.quick else 3
    with exact_server(total, latency, size) as url:
        res = _interleaved(["dlt.flolive", "dlt.restclient"], url, total, size, conc, runs)
    fl, rc = res["dlt.flolive"], res["dlt.restclient"]
    lines = [
        f"### dlt into DuckDB: {total:,} participants, pages of {size}, "
        f"{latency * 1000:.0f} ms per request, merge on the primary key (imports not timed)",
        "",
        "| pipeline | median wall (s) | items/s | pipeline CPU (s) |",
        "|---|---:|---:|---:|",
        f"| `flolive_source` (Arrow table per page, concurrency {conc}) | {fl['wall']:.2f} "
        f"| {total / fl['wall']:,.0f} | {fl['cpu']:.2f} |",
        f"| dlt `RESTClient` + `PageNumberPaginator` (dicts) | {rc['wall']:.2f} "
        f"| {total / rc['wall']:,.0f} | {rc['cpu']:.2f} |",
        "",
        f"Target >= 10x faster end to end: {rc['wall'] / fl['wall']:.1f}x, "
        f"{_verdict(rc['wall'] / fl['wall'] >= 10)}.",
    ]
    report["dlt"] = {"params": [total, size, conc, latency], "results": res}
    return lines


def case_dask(server: Server, args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    total = 20_000 if args.quick else 500_000
    size, conc = 1000, 4
    runs = 1 if args.quick else 3
    runners = ["parquet.sdk", "dask.local", "dask.cluster"]
    with server(total, 0.0) as url:
        res = _interleaved(runners, url, total, size, conc, runs)
    labels = {
        "parquet.sdk": "SDK alone: `pager.arrow()` -> one Parquet file",
        "dask.local": "Dask, 1 process (synchronous scheduler)",
        "dask.cluster": "Dask `LocalCluster`, 2 worker processes",
    }
    lines = [
        f"### Dask to Parquet: {total:,} participants, pages of {size}, 20 pages per part, "
        f"concurrency {conc} per task, no latency",
        "",
        "| run | median wall (s) | items/s | CPU s per million items (all processes) |",
        "|---|---:|---:|---:|",
    ]
    for r in runners:
        m = res[r]
        lines.append(
            f"| {labels[r]} | {m['wall']:.2f} | {total / m['wall']:,.0f} "
            f"| {m['cpu'] / total * 1e6:.2f} |"
        )
    cl = res["dask.cluster"]
    per_item = cl["cpu"] / res["dask.local"]["cpu"]
    lines += [
        "",
        f"Target cluster CPU per item within 1.2x of one process: {per_item:.2f}x, "
        f"{_verdict(per_item <= 1.2)}. Of the cluster's {cl['cpu']:.2f} CPU s, "
        f"{cl['idle_cpu']:.2f} s is what its processes burn idle (heartbeats, the "
        f"scheduler) over the job's {cl['wall']:.2f} s. Two cores are shared by the "
        "server and the workers here: the cluster is not expected to be faster.",
    ]
    report["dask"] = {"params": [total, size, conc], "results": res}
    return lines


CASES = {"arrow": case_arrow, "dlt": case_dlt, "dask": case_dask}


if __name__ == "__main__":
    main()
