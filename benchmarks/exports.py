"""One whole ``flolive export`` command, measured from outside.

``run_export(url, fmt, out)`` runs ``flolive export participants`` against a
benchmark server (campaign 2 of customer 1) into ``out`` in a new process and
returns its wall time (process start to exit, imports included), CPU time
(from ``wait4``), peak RSS, and the items in the output, counted afterwards.

The process is ``python -m benchmarks.exports PEAK_FILE ARGS...``: the CLI's
``main(ARGS)`` followed by one read of ``VmHWM`` into ``PEAK_FILE``. Linux
carries ``ru_maxrss`` across fork and exec, so ``wait4`` would report the
parent's peak when it is higher; ``VmHWM`` belongs to the new program alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def count_items(path: Path, fmt: str) -> int:
    """Items in an exported file (outside the timed run)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with open(path, "rb") as fh:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return lines - 1 if fmt == "csv" else lines  # the CSV header


def run_export(
    url: str, fmt: str, out: Path, page_size: int = 1000, concurrency: int = 16
) -> dict[str, float]:
    peak = out.with_name(out.name + ".peak")
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.exports",
        str(peak),
        "export",
        "participants",
        "--base-url",
        url,
        "--customer",
        "1",
        "--campaign",
        "2",
        "--page-size",
        str(page_size),
        "--concurrency",
        str(concurrency),
        "--format",
        fmt,
        "-o",
        str(out),
        "--overwrite",
        "-q",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOLIVE_")}
    with tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=HERE.parent,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err.read().decode()}")
    rss_kib = int(peak.read_text())
    peak.unlink()
    return {
        "items": count_items(out, fmt),
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": rss_kib / 1024,
        "mib": out.stat().st_size / 2**20,
    }


def _peak_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    from flolive.cli import main

    code = main(sys.argv[2:])
    Path(sys.argv[1]).write_text(str(_peak_kib()))
    sys.exit(code)
