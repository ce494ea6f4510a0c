"""One oversized-body case, run in a process of its own so that its peak RSS
can be measured: ``python -m tests.oversize_case CASE`` prints one JSON line.

The hostile server runs in the same process (in its thread), so the peak
counts both sides; the server streams its bodies and holds at most one 10 MB
compressed bomb, so the client's share dominates any failure.

Bombs are built by repeating one compressed block of 1 MiB of zeros, flushed
so that every block stands alone: 10 MB of gzip or deflate is 9.4 GiB of
zeros, 10 MB of brotli far more. The trailer (CRC, length) is never reached:
a client must stop long before.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import resource
import sys
import time
import zlib
from collections.abc import Iterator

import brotli

from flolive import Campaign, Client, FloliveError, RetryPolicy

from .support.hostile import HostileServer, Stream

MiB = 1 << 20
BOMB_SIZE = 10_000_000
CHUNK = 64 * 1024
PATH = "/api/v2/customer/1/campaign"
# A broken client must fail here, not take the machine's memory with it.
ADDRESS_SPACE_CAP = 2 << 30


def _repeat_block(head: bytes, block: bytes, size: int) -> bytes:
    return head + block * ((size - len(head)) // len(block))


def zlib_bomb(wbits: int, size: int = BOMB_SIZE) -> bytes:
    """``wbits`` 31: gzip; 15: zlib (HTTP's ``deflate``)."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(MiB)
    head = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    return _repeat_block(head, block, size)


def brotli_bomb(size: int = BOMB_SIZE) -> bytes:
    c = brotli.Compressor(quality=5)
    zeros = bytes(MiB)
    head = c.process(zeros) + c.flush()
    block = c.process(zeros) + c.flush()
    return _repeat_block(head, block, size)


def slices(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for i in range(0, len(view), CHUNK):
        yield bytes(view[i : i + CHUNK])


def endless() -> Iterator[bytes]:
    # Valid JSON so far, and never finished: nothing but the size can stop it.
    yield b'{"errorCode": "", "content": [' + b" " * (CHUNK - 30)
    yield from itertools.repeat(b" " * CHUNK)


def answer_for(case: str) -> Stream:
    if case == "content-length-2gb":
        return Stream(lambda: itertools.repeat(bytes(CHUNK)), content_length=2 * 10**9)
    if case == "chunked-endless":
        return Stream(endless)
    if case == "chunked-endless-503":
        return Stream(endless, status=503)
    if case in ("gzip-bomb", "deflate-bomb"):
        bomb = zlib_bomb(31 if case == "gzip-bomb" else 15)
        encoding = "gzip" if case == "gzip-bomb" else "deflate"
        return Stream(
            lambda: slices(bomb),
            headers={"Content-Encoding": encoding, "Content-Type": "application/json"},
            content_length=len(bomb),
        )
    if case == "br-bomb":
        bomb = brotli_bomb()
        return Stream(
            lambda: slices(bomb),
            headers={"Content-Encoding": "br", "Content-Type": "application/json"},
            content_length=len(bomb),
        )
    raise SystemExit(f"unknown case {case!r}")


CASES = (
    "content-length-2gb",
    "chunked-endless",
    "chunked-endless-503",
    "gzip-bomb",
    "deflate-bomb",
    "br-bomb",
)


async def run(case: str, call: str) -> dict[str, object]:
    answer = answer_for(case)
    report: dict[str, object] = {"case": case, "call": call}
    server = HostileServer(lambda _seen: answer).start()
    try:
        # Quick retries: a wrong retry of a too-large answer shows in the
        # request count without slowing the case down.
        retry = RetryPolicy(base_delay=0.01, max_delay=0.01)
        started = time.perf_counter()
        # No speculative pages: one body at a time, so that the peak is one
        # body's and the request count shows retries alone. (A first window of
        # n pages that are all bombs holds n bodies at once, each under the limit.)
        async with Client(
            base_url=server.url, token="t0k", retry=retry, timeout=60, speculate=0
        ) as client:
            try:
                async with asyncio.timeout(100):
                    if call == "listing":
                        await client.campaign_participants(1, 2).collect()
                    else:
                        await client.get_items(PATH, Campaign)
                report["outcome"] = "result"
            except FloliveError as err:
                report["outcome"] = type(err).__name__
                report["message"] = str(err)
                report["limit"] = getattr(err, "limit", None)
                report["http_status"] = getattr(err, "http_status", None)
            except BaseException as err:  # reported, and the test fails on it
                report["outcome"] = f"untyped {type(err).__module__}.{type(err).__name__}"
                report["message"] = str(err)[:500]
        report["elapsed"] = round(time.perf_counter() - started, 3)
        report["requests"] = len(server.requests)
        report["bytes_sent"] = server.bytes_sent
    finally:
        try:
            server.close()
        except RuntimeError as exc:
            report["server_error"] = str(exc)
    report["ru_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                report["vm_hwm_kib"] = int(line.split()[1])
    return report


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_CAP, ADDRESS_SPACE_CAP))
    case = sys.argv[1]
    call = sys.argv[2] if len(sys.argv) > 2 else "get_items"
    print(json.dumps(asyncio.run(run(case, call))))


if __name__ == "__main__":
    main()
