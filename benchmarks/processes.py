"""The processes a benchmark starts: a server that prints its port, and a
measured run that prints one JSON line."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def serving(module_args: Sequence[str], what: str = "benchmark server") -> Iterator[str]:
    """``python -m <module_args>`` as a server: its base URL while it runs
    (it prints its port on its first line), stopped by its PID after."""
    cmd = [sys.executable, "-m", *module_args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        if not port:
            raise RuntimeError(f"{what} did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def measured(module_args: Sequence[str], total: int, timeout: float = 1800) -> dict[str, float]:
    """The last JSON line of ``python -m <module_args>``; it must have read ``total`` items."""
    out = subprocess.run(
        [sys.executable, "-m", *module_args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=timeout,
    )
    m: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    if m["items"] != total:
        raise RuntimeError(f"{' '.join(module_args[:2])} gave {m['items']} items, expected {total}")
    return m
