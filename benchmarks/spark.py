"""Spark benchmark: ``spark.read.format("flolive")`` against the plain pager.

The case ``spark`` runs from ``python -m benchmarks`` (needs the ``spark``
extra and a Java runtime). Both readers run in a subprocess of their own
against the same server: ``pages`` (``pager.pages()`` in one process,
:mod:`benchmarks.pipelines`) and ``spark`` (``python -m benchmarks.spark URL
TOTAL PAGE_SIZE CONCURRENCY``: a ``local[2]`` session, one warm-up read, then
the timed read written to Spark's ``noop`` sink, which materialises every
row). Spark's CPU is the whole process tree's: this driver, the JVM and its
Python workers (read from ``/proc``, so Linux only). Session start-up and the
warm-up are reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from .pipelines import Server
from .processes import measured

HERE = Path(__file__).resolve().parent

PAGES_PER_PARTITION = 10
TASKS = 2  # local[2]


def _tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and every live descendant (and their reaped children)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        cpu[int(entry.name)] = sum(int(f) for f in fields[11:15]) / tick
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu.get(p, 0.0)
        todo += children.get(p, [])
    return total


def run(url: str, total: int, size: int, conc: int) -> dict[str, float]:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    t0 = time.perf_counter()
    from pyspark.sql import SparkSession

    from flolive.spark import FloliveDataSource

    spark = (
        SparkSession.builder.master(f"local[{TASKS}]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.dataSource.register(FloliveDataSource)
    options = {
        "base_url": url,
        "token": "bench",
        "customer_id": "1",
        "campaign_id": "2",
        "page_size": str(size),
        "pages_per_partition": str(PAGES_PER_PARTITION),
        "max_concurrency": str(conc),
        "concurrent_tasks": str(TASKS),
    }
    startup = time.perf_counter() - t0
    try:
        df = spark.read.format("flolive").options(**options).load()
        t0 = time.perf_counter()
        df.write.format("noop").mode("overwrite").save()  # workers started, imports done
        warmup = time.perf_counter() - t0
        cpu0, wall0 = _tree_cpu(os.getpid()), time.perf_counter()
        df = spark.read.format("flolive").options(**options).load()
        df.write.format("noop").mode("overwrite").save()
        wall, cpu = time.perf_counter() - wall0, _tree_cpu(os.getpid()) - cpu0
        items = df.count()
        partitions = df.rdd.getNumPartitions()
    finally:
        spark.stop()
    return {
        "items": items,
        "wall": wall,
        "cpu": cpu,
        "partitions": partitions,
        "startup_s": startup,
        "warmup_s": warmup,
    }


def _measure(runner: str, url: str, total: int, size: int, conc: int) -> dict[str, float]:
    # The plain pager is benchmarks.pipelines' runner "pages"; Spark is ours.
    module = ["benchmarks.spark"] if runner == "spark" else ["benchmarks.pipelines", runner]
    return measured([*module, url, str(total), str(size), str(conc)], total)


def case_spark(server: Server, args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    total = 20_000 if args.quick else 200_000
    size, conc = 1000, 16
    runs = 1 if args.quick else 3
    with server(total, 0.0) as url:
        samples: dict[str, list[dict[str, float]]] = {"pages": [], "spark": []}
        for i in range(runs):  # interleaved, the order rotating
            for r in ("pages", "spark")[i % 2 :] + ("pages", "spark")[: i % 2]:
                samples[r].append(_measure(r, url, total, size, conc))
    res = {r: {k: statistics.median(m[k] for m in ms) for k in ms[0]} for r, ms in samples.items()}
    pages, spark = res["pages"], res["spark"]
    lines = [
        f"### Spark: {total:,} participants, pages of {size}, no latency, concurrency {conc} "
        f"(Spark: split over {TASKS} tasks, {PAGES_PER_PARTITION} pages per partition)",
        "",
        "| reader | median wall (s) | rows/s | CPU µs per row |",
        "|---|---:|---:|---:|",
    ]
    for m, label in (
        (pages, "`pager.pages()`, one process"),
        (spark, f"`spark.read.format('flolive')`, local[{TASKS}], {spark['partitions']:.0f} parts"),
    ):
        lines.append(
            f"| {label} | {m['wall']:.2f} | {total / m['wall']:,.0f} | "
            f"{m['cpu'] / total * 1e6:.2f} |"
        )
    ratio = pages["wall"] / spark["wall"]
    lines += [
        "",
        f"Spark reads at {ratio:.2f}x the pager's rows/s for "
        f"{spark['cpu'] / pages['cpu']:.1f}x its CPU per row (driver, JVM and Python "
        f"workers); not timed: session start {spark['startup_s']:.1f} s, first read "
        f"{spark['warmup_s']:.1f} s.",
    ]
    report["spark"] = {"params": [total, size, conc], "results": res}
    return lines


CASES = {"spark": case_spark}


if __name__ == "__main__":
    a = sys.argv[1:]
    print(json.dumps(run(a[0], *(int(x) for x in a[1:4]))))
