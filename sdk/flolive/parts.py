"""Read a planned range of pages anywhere: :func:`read_part`, for engine adapters.

:meth:`flolive.AsyncPager.plan` splits a listing into picklable :class:`Part` s
(page ranges with the listing's non-secret settings). :func:`read_part` runs
where the part is read (a Dask or Spark task): it opens its own event loop and
client (an ``aiohttp`` session can be neither pickled nor shared across loops),
reads the range concurrently, checks it against the plan, and returns one
:class:`pyarrow.Table` (needs the ``arrow`` extra). A part never holds a token,
password or token provider: each process gets credentials from its own
environment (``FLOLIVE_TOKEN``, or ``FLOLIVE_USERNAME`` and ``FLOLIVE_PASSWORD``)
or from a picklable ``token_provider``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from ._auth import TokenProvider
from ._source import Part
from .client import Client
from .errors import ListChanged, RequestContext

__all__ = [
    "DEFAULT_PAGES_PER_PART",
    "NOT_FOR_WORKERS",
    "Part",
    "check_worker_options",
    "read_part",
    "run_sync",
]

R = TypeVar("R")

DEFAULT_PAGES_PER_PART = 50
"""Pages per part when none is given."""

NOT_FOR_WORKERS = frozenset({"token", "username", "password", "session", "sleep"})
"""Client arguments refused by functions that build tasks: secrets (or objects
that cannot travel) never enter a pickled task graph."""


def _changed(part: Part, after: int, page: int | None, detail: str) -> ListChanged:
    return ListChanged(
        part.total_elements,
        after,
        context=RequestContext("GET", part.source.path, page),
        detail=f"{part.name}: {detail}; plan the job again",
    )


async def _read(part: Part, client: Client) -> Any:
    # flolive.arrow names the extra to install when pyarrow is missing.
    import pyarrow as pa

    from .arrow import schema_for, to_record_batch

    src = part.source
    item_type = src.item_type
    batches = []
    pager = client.paginate(
        src.path,
        item_type,
        params=dict(src.params),
        page_size=part.page_size,
        page_base=part.page_base,
        start_page=part.first_page,
        max_pages=part.pages,
        on_list_change="raise",
    )
    async with pager:
        async for page in pager.pages():
            if page.total_elements != part.total_elements or page.size != part.page_size:
                raise _changed(
                    part,
                    page.total_elements,
                    page.number,
                    f"the plan saw {part.total_elements} items in pages of {part.page_size}, "
                    f"page {page.number} says {page.total_elements} in pages of {page.size}",
                )
            batches.append(to_record_batch(page.items, item_type))
    table = pa.Table.from_batches(batches, schema=schema_for(item_type))
    if table.num_rows != part.expected_items:
        raise _changed(
            part,
            part.total_elements,
            None,
            f"expected {part.expected_items} items, read {table.num_rows}",
        )
    return table


def _worker_client(
    part: Part, token_provider: TokenProvider | None, options: Mapping[str, Any]
) -> Client:
    settings = {**dict(part.source.settings), **options}
    return Client(part.source.base_url, token_provider=token_provider, **settings)


def run_sync(fn: Callable[[], Awaitable[R]]) -> R:
    """Run ``fn()`` on a new event loop, in a fresh thread if this one runs a loop
    already (a notebook), so sync callers work everywhere."""

    async def main() -> R:
        return await fn()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="flolive-part") as pool:
        return pool.submit(asyncio.run, main()).result()


def check_worker_options(options: Mapping[str, Any]) -> None:
    refused = sorted(options.keys() & NOT_FOR_WORKERS)
    if refused:
        raise ValueError(
            f"{', '.join(refused)} cannot be sent to workers: tasks are pickled, and "
            "secrets never travel with them. Set FLOLIVE_TOKEN (or FLOLIVE_USERNAME and "
            "FLOLIVE_PASSWORD) in the workers' environment, or pass a picklable "
            "token_provider"
        )


def read_part(
    part: Part, *, token_provider: TokenProvider | None = None, **client_options: Any
) -> Any:
    """Read one part into a :class:`pyarrow.Table`; synchronous, for a task.

    Opens its own event loop and :class:`~flolive.Client` (settings from the
    part, then ``client_options``; credentials from ``token_provider`` or the
    environment), reads the part's pages concurrently and closes everything.

    Raises:
        ListChanged: the list's totals or page size differ from the plan's, or
            the range held another number of items.
        FloliveError: any other error of the tree, after the SDK's retries.
    """
    check_worker_options(client_options)

    async def read() -> Any:
        async with _worker_client(part, token_provider, client_options) as client:
            return await _read(part, client)

    return run_sync(read)
