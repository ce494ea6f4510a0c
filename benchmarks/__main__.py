"""Run the benchmarks: ``python -m benchmarks [--quick] [--runs N] [--cases ...]``.

Each case starts an API server in its own process, then runs every client in
its own subprocess, interleaved (the order rotates every round), and reports
medians. Timings are never asserted; targets are reported as met or missed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from .pipelines import CASES as PIPELINE_CASES
from .processes import serving
from .ratelimit_series import case_ratelimit_series
from .spark import CASES as SPARK_CASES

HERE = Path(__file__).resolve().parent
#: The client's default speculative first window (``Client(speculate=...)``).
SPECULATE = 3
RESULTS = HERE / "results"


def server(total: int, latency: float, sandbox: bool = False) -> AbstractContextManager[str]:
    args = ["benchmarks.server", "--total", str(total), "--latency", str(latency)]
    return serving([*args, "--sandbox"] if sandbox else args)


#: ``--baseline REV``: the SDK's sources at REV, extracted here; clients named
#: ``<client>@base`` run against them, side by side with the working tree's.
BASELINE: dict[str, str] = {}


def extract_baseline(rev: str, into: Path) -> str:
    """``sdk/`` as it was at git revision ``rev``, for clients ``...@base``."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", rev, "sdk"], capture_output=True, check=True, cwd=HERE.parent
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return str(into / "sdk")


def measure(
    client: str, url: str, page_size: int, concurrency: int, env: dict[str, str] | None = None
) -> dict[str, float]:
    """One run of ``client`` in a worker subprocess (``env``: added variables)."""
    env = {**os.environ, **env} if env else None
    name, _, where = client.partition("@")
    if where == "base":
        env = {**(env or os.environ), "PYTHONPATH": BASELINE["sdk"]}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", name, url, str(page_size), str(concurrency)],
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE.parent,
        timeout=900,
        env=env,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def interleaved(
    clients: list[str], url: str, page_size: int, concurrency: int, runs: int, expect: int
) -> dict[str, dict[str, float]]:
    samples: dict[str, list[dict[str, float]]] = {c: [] for c in clients}
    for r in range(runs):
        order = clients[r % len(clients) :] + clients[: r % len(clients)]
        for c in order:
            m = measure(c, url, page_size, concurrency)
            if m["items"] != expect:
                raise RuntimeError(f"{c} read {m['items']} items, expected {expect}")
            samples[c].append(m)
    return {
        c: {k: statistics.median(s[k] for s in ss) for k in ss[0]} | {"runs": len(ss)}
        for c, ss in samples.items()
    }


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def case_latency(args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    total, size, latency, conc = 988, 10, args.latency, 16
    clients = ["sdk", "sdk.pages", "ideal", "aiohttp+json seq", "httpx+pydantic seq"]
    with server(total, latency) as url:
        res = interleaved(clients, url, size, conc, args.runs, total)
    ideal = res["ideal"]["wall"]
    sdk = res["sdk"]["wall"]
    lines = [
        f"### 1. Latency-bound: {total} participants, pages of {size}, "
        f"{latency * 1000:.0f} ms per request, concurrency {conc}",
        "",
        "| client | median wall (s) | vs ideal | SDK speed-up |",
        "|---|---:|---:|---:|",
    ]
    for c in clients:
        w = res[c]["wall"]
        lines.append(f"| {c} | {w:.3f} | {w / ideal:.2f}x | {w / sdk:.1f}x |")
    seq = min(res["aiohttp+json seq"]["wall"], res["httpx+pydantic seq"]["wall"])
    lines += [
        "",
        f"Target SDK <= 0.92x ideal (a speculative first window saves a round trip): "
        f"{sdk / ideal:.3f}x, {verdict(sdk / ideal <= 0.92)}. "
        f"Target >= 10x faster than both sequential clients: {seq / sdk:.1f}x, "
        f"{verdict(seq / sdk >= 10)}.",
    ]
    report["latency"] = {"params": [total, size, latency, conc], "results": res}
    return lines


def case_cpu(args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    total, size, conc = args.cpu_total, 1000, 16
    clients = ["sdk", "sdk.pages", "ideal", "aiohttp+json seq", "httpx+pydantic seq"]
    if BASELINE:
        clients += ["sdk@base", "sdk.pages@base"]
    with server(total, 0.0) as url:
        res = interleaved(clients, url, size, conc, args.runs, total)
    with server(total, 0.0, sandbox=True) as url:
        sbx = interleaved(["sdk.pages"], url, size, conc, 1, total)
    rate = {c: total / res[c]["cpu"] for c in clients}
    lines = [
        f"### 2. CPU-bound: {total:,} participants, pages of {size}, no latency",
        "",
        "| client | median client CPU (s) | items per CPU s | vs ideal | median wall (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {c} | {res[c]['cpu']:.3f} | {rate[c]:,.0f} | {rate[c] / rate['ideal']:.2f}x "
        f"| {res[c]['wall']:.3f} |"
        for c in clients
    )
    r_ideal = rate["sdk"] / rate["ideal"]
    r_httpx = rate["sdk"] / rate["httpx+pydantic seq"]
    if BASELINE:
        lines += [
            "",
            f"Against the baseline {BASELINE['rev']} (same server, interleaved): CPU per item "
            f"{res['sdk']['cpu'] / total * 1e6:.3f} µs vs "
            f"{res['sdk@base']['cpu'] / total * 1e6:.3f} µs "
            f"({res['sdk']['cpu'] / res['sdk@base']['cpu']:.3f}x) for items; "
            f"{res['sdk.pages']['cpu'] / total * 1e6:.3f} µs vs "
            f"{res['sdk.pages@base']['cpu'] / total * 1e6:.3f} µs "
            f"({res['sdk.pages']['cpu'] / res['sdk.pages@base']['cpu']:.3f}x) for pages.",
        ]
    lines += [
        "",
        f"Target SDK >= 0.85x ideal items per CPU second: {r_ideal:.2f}x, "
        f"{verdict(r_ideal >= 0.85)}. Target >= 3x httpx+pydantic: {r_httpx:.1f}x, "
        f"{verdict(r_httpx >= 3)}.",
        "",
        f"Server check: the SDK read the list in {res['sdk.pages']['wall']:.2f} s from the "
        f"pre-encoded server and in {sbx['sdk.pages']['wall']:.2f} s from the sandbox, "
        "which generates every page: the sandbox would be the bottleneck here, so this "
        "case uses the pre-encoded server.",
    ]
    report["cpu"] = {"params": [total, size, conc], "results": res, "sandbox": sbx}
    return lines


def case_memory(args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    lengths = args.mem_lengths
    small, big = lengths[0], lengths[-1]
    size, conc = 1000, 16
    res: dict[str, dict[str, dict[str, float]]] = {}
    for total in lengths:
        with server(total, 0.0) as url:
            res[str(total)] = interleaved(
                ["sdk", "sdk.collect"], url, size, conc, max(1, args.runs // 2), total
            )
    s, b = res[str(small)]["sdk"]["rss_mib"], res[str(big)]["sdk"]["rss_mib"]
    lines = [
        "### 3. Memory: peak RSS of a process reading the list",
        "",
        "| participants | streaming with `async for` (MiB) | `.collect()` (MiB) |",
        "|---:|---:|---:|",
    ]
    for total in lengths:
        r = res[str(total)]
        lines.append(
            f"| {total:,} | {r['sdk']['rss_mib']:.1f} | {r['sdk.collect']['rss_mib']:.1f} |"
        )
    lines += [
        "",
        f"Target streaming {big:,} within 10% of {small:,}: {b / s:.3f}x, "
        f"{verdict(b / s <= 1.10)}.",
    ]
    report["memory"] = {"params": [*lengths, size, conc], "results": res}
    return lines


def case_scaling(args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    total, size, latency = 988, 10, args.latency
    pages = math.ceil(total / size)
    lines = [
        f"### 4. Concurrency scaling: case 1 ({pages} pages, {latency * 1000:.0f} ms) "
        "against the round-trip model of the SDK, whose first round trip carries "
        f"min(C, {1 + SPECULATE}) pages: "
        f"(1 + ceil((pages - min(C, {1 + SPECULATE})) / C)) x latency",
        "",
        "| C | SDK wall (s) | ideal wall (s) | model (s) | SDK / model |",
        "|---:|---:|---:|---:|---:|",
    ]
    res: dict[str, Any] = {}
    with server(total, latency) as url:
        for conc in args.scaling:
            r = interleaved(["sdk", "ideal"], url, size, conc, max(1, args.runs // 2), total)
            model = (1 + math.ceil((pages - min(conc, 1 + SPECULATE)) / conc)) * latency
            res[str(conc)] = r | {"model": model}
            lines.append(
                f"| {conc} | {r['sdk']['wall']:.3f} | {r['ideal']['wall']:.3f} | {model:.3f} "
                f"| {r['sdk']['wall'] / model:.2f} |"
            )
    report["scaling"] = res
    return lines


def case_requests(args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    """What a short list costs in requests, first pass and second pass."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.requests"],
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE.parent,
        timeout=300,
    )
    res: dict[str, dict[str, int]] = json.loads(out.stdout)
    lines = [
        f"### 5. Requests per listing (default `speculate={SPECULATE}`, against the sandbox)",
        "",
        "| list | pages | requests, first pass | wasted | requests, second pass |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in res.items():
        lines.append(
            f"| {name} | {r['pages']} | {r['first']} | {r['first'] - r['pages']} | {r['second']} |"
        )
    report["requests"] = res
    return lines


def case_import(args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    """Cold start: ``python -X importtime -c 'import flolive'``, median of runs."""
    totals: list[float] = []
    aiohttp_ms: list[float] = []
    loaded: dict[str, bool] = {}
    for _ in range(max(5, args.runs)):
        out = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                "-c",
                "import sys, flolive; "
                "print(*(m in sys.modules for m in ('anyio', 'aiohttp.web', 'pyarrow')))",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=HERE.parent,
        )
        for line in out.stderr.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and parts[2] == "flolive":
                totals.append(int(parts[1]) / 1000)
            elif len(parts) == 3 and parts[2] == "aiohttp":
                aiohttp_ms.append(int(parts[1]) / 1000)
        flags = out.stdout.split()
        loaded = dict(
            zip(("anyio", "aiohttp.web", "pyarrow"), (f == "True" for f in flags), strict=True)
        )
    median = statistics.median(totals)
    not_loaded = ", ".join(m for m, was in loaded.items() if not was)
    lines = [
        "### 6. Cold start: `python -X importtime -c 'import flolive'`",
        "",
        f"`import flolive`: {median:.0f} ms (median of {len(totals)} runs), of which "
        f"importing aiohttp is {statistics.median(aiohttp_ms):.0f} ms. "
        f"Not loaded by it: {not_loaded or 'none of anyio, aiohttp.web, pyarrow'}.",
    ]
    report["import"] = {
        "ms": median,
        "aiohttp_ms": statistics.median(aiohttp_ms),
        "runs": totals,
        "loaded": loaded,
    }
    return lines


EXPORT_FORMATS = ("jsonl", "csv", "parquet")


def case_export(args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    """Whole ``flolive export`` commands per format, and their peak RSS."""
    import tempfile

    from .exports import run_export

    total, size, conc = args.cpu_total, 1000, 16
    samples: dict[str, list[dict[str, float]]] = {f: [] for f in EXPORT_FORMATS}
    with server(total, 0.0) as url, tempfile.TemporaryDirectory() as tmp:
        for r in range(args.runs):
            order = EXPORT_FORMATS[r % 3 :] + EXPORT_FORMATS[: r % 3]
            for fmt in order:
                m = run_export(url, fmt, Path(tmp) / f"out.{fmt}", size, conc)
                if m["items"] != total:
                    raise RuntimeError(f"{fmt} export wrote {m['items']} items, expected {total}")
                samples[fmt].append(m)
    res = {
        f: {k: statistics.median(s[k] for s in ss) for k in ss[0]} | {"runs": len(ss)}
        for f, ss in samples.items()
    }
    rate = {f: total / res[f]["wall"] for f in EXPORT_FORMATS}
    lines = [
        f"### 7. Export: whole `flolive export participants` commands, {total:,} participants, "
        f"pages of {size}, concurrency {conc}, pre-encoded server, no latency",
        "",
        "| format | median wall (s) | items/s | vs JSONL | CPU per item (µs) | peak RSS (MiB) "
        "| file (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {f} | {res[f]['wall']:.3f} | {rate[f]:,.0f} | {rate[f] / rate['jsonl']:.2f}x "
        f"| {res[f]['cpu'] / total * 1e6:.2f} | {res[f]['rss_mib']:.1f} | {res[f]['mib']:.1f} |"
        for f in EXPORT_FORMATS
    )
    ratio = rate["csv"] / rate["jsonl"]
    lines += [
        "",
        "Wall time runs from process start to exit (interpreter start and imports "
        f"included). Target CSV >= 0.6x JSONL items/s: {ratio:.2f}x, {verdict(ratio >= 0.6)}.",
        "",
    ]
    small, big = args.mem_sizes
    mem: dict[str, dict[str, float]] = {}
    for n in (small, big):
        with server(n, 0.0) as url, tempfile.TemporaryDirectory() as tmp:
            for fmt in EXPORT_FORMATS:
                m = run_export(url, fmt, Path(tmp) / f"out.{fmt}", size, conc)
                if m["items"] != n:
                    raise RuntimeError(f"{fmt} export wrote {m['items']} items, expected {n}")
                mem.setdefault(fmt, {})[str(n)] = m["rss_mib"]
    lines += [
        "| format | peak RSS, " + f"{small:,} (MiB) | peak RSS, {big:,} (MiB) | ratio |",
        "|---|---:|---:|---:|",
    ]
    lines.extend(
        f"| {f} | {mem[f][str(small)]:.1f} | {mem[f][str(big)]:.1f} "
        f"| {mem[f][str(big)] / mem[f][str(small)]:.3f}x |"
        for f in EXPORT_FORMATS
    )
    flat = max(mem[f][str(big)] / mem[f][str(small)] for f in EXPORT_FORMATS)
    # Short lists end before the pipeline (pages in flight, a Parquet part of
    # 65,536 rows) is full: a quick run's lengths say nothing about flatness.
    judged = "not judged in a quick run" if args.quick else verdict(flat <= 1.10)
    lines += [
        "",
        f"Target every format's peak RSS for {big:,} within 10% of {small:,}: "
        f"{flat:.3f}x at most, {judged}.",
    ]
    report["export"] = {"params": [total, size, conc], "results": res, "memory": mem}
    return lines


def _sync_startup_ms(rounds: int = 20) -> float:
    """Median time to open and close a sync client (its loop thread), no request."""
    from flolive import sync

    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        sync.Client(base_url="http://127.0.0.1:9").close()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def case_sync(args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    total, size, conc = args.sync_total, 10, 16
    pages = math.ceil(total / size)
    clients = ["sdk", "sync", "sdk.pages", "sync.pages"]
    with server(total, 0.0) as url:
        res = interleaved(clients, url, size, conc, args.runs, total)
    startup = _sync_startup_ms()

    def per_page(a: str, b: str, key: str) -> float:
        return (res[b][key] - res[a][key]) / pages * 1e6

    lines = [
        f"### 8. Sync client (`flolive.sync`) against the async client: {total:,} participants, "
        f"pages of {size} ({pages:,} pages), no latency, concurrency {conc}",
        "",
        "| client | median wall (s) | median CPU (s) | sync overhead per page, wall (us) "
        "| sync overhead per page, CPU (us) |",
        "|---|---:|---:|---:|---:|",
    ]
    for a, b in (("sdk", "sync"), ("sdk.pages", "sync.pages")):
        lines.append(f"| {a} | {res[a]['wall']:.3f} | {res[a]['cpu']:.3f} | | |")
        lines.append(
            f"| {b} | {res[b]['wall']:.3f} | {res[b]['cpu']:.3f} "
            f"| {per_page(a, b, 'wall'):.1f} | {per_page(a, b, 'cpu'):.1f} |"
        )
    lines += [
        "",
        f"Opening and closing a sync client (starting and joining its loop thread) takes "
        f"{startup:.1f} ms (median of 20), included in its times above.",
    ]
    report["sync"] = {"params": [total, size, conc], "results": res, "startup_ms": startup}
    return lines


def case_ratelimit(args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    """Listings behind a rate-limiting gateway (benchmarks/ratelimit.py)."""
    from . import ratelimit

    lines = ratelimit.main(["--runs", "1" if args.quick else "3"])
    report["ratelimit"] = lines
    return lines


CASES = {
    "latency": case_latency,
    "cpu": case_cpu,
    "memory": case_memory,
    "scaling": case_scaling,
    "requests": case_requests,
    "import": case_import,
    "export": case_export,
    "sync": case_sync,
    "ratelimit": case_ratelimit,
    "ratelimit-series": case_ratelimit_series,
}
# Arrow, dlt and Dask cases (they need the arrow, dlt and dask extras).
CASES.update({name: functools.partial(case, server) for name, case in PIPELINE_CASES.items()})
# Spark (the spark extra and a Java runtime).
CASES.update({name: functools.partial(case, server) for name, case in SPARK_CASES.items()})


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="a short smoke run (CI)")
    p.add_argument("--runs", type=int, default=7, help="interleaved rounds per case (7)")
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ",".join(CASES))
    p.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    p.add_argument(
        "--baseline",
        metavar="REV",
        help="also run the SDK as it was at git revision REV (cpu case), side by side",
    )
    p.add_argument("--plot", metavar="DIR", type=Path, help="draw the figures into DIR (PNG)")
    p.add_argument(
        "--from-json",
        metavar="FILE",
        type=Path,
        help="with --plot: draw from a report written before, without running anything",
    )
    args = p.parse_args()
    if args.from_json:
        from .plot import plot

        for path in plot(json.loads(args.from_json.read_text()), args.plot or Path(".")):
            print(path)
        return
    if args.baseline:
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix="flolive-baseline-"))
        BASELINE.update(sdk=extract_baseline(args.baseline, tmp), rev=args.baseline)
    args.latency = 0.05
    args.cpu_total = 500_000
    args.mem_sizes = (100_000, 1_000_000)
    args.mem_lengths = (100_000, 300_000, 1_000_000)
    args.scaling = (1, 2, 4, 8, 16, 32)
    args.sync_total = 20_000
    args.series_total, args.series_rate = 3_000, (50.0, 10)
    if args.quick:
        args.runs = 1
        args.latency = 0.01
        args.cpu_total = 20_000
        args.mem_sizes = (10_000, 50_000)
        args.mem_lengths = args.mem_sizes
        args.scaling = (1, 4, 16)
        args.sync_total = 4_000
        args.series_total = 600
    report: dict[str, Any] = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "runs": args.runs,
        "quick": args.quick,
    }
    lines = [f"Machine: {report['machine']}. Medians of {args.runs} interleaved runs.", ""]
    for name in args.cases.split(","):
        lines += CASES[name](args, report)
        lines.append("")
    print("\n".join(lines), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print(f"raw figures: {args.out}", file=sys.stderr)
    if args.plot:
        from .plot import plot

        for path in plot(report, args.plot):
            print(f"figure: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
