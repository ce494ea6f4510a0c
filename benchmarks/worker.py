"""One measured run: ``python -m benchmarks.worker CLIENT URL PAGE_SIZE CONCURRENCY``.

Prints one JSON line: items, wall seconds, client CPU seconds, peak RSS in MiB.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

from .clients import CLIENTS


def main() -> None:
    name, url, page_size, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    run = CLIENTS[name]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = run(url, page_size, concurrency)
    # Sync clients (flolive.sync) return the count; async ones a coroutine.
    items = result if isinstance(result, int) else asyncio.run(result)  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "items": items,
                "wall": wall,
                "cpu": cpu,
                "rss_mib": rss / 1024,
                "rss_before_mib": rss_before / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
