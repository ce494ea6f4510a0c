"""A dlt source for floLIVE: campaigns, participants and labels (extra ``dlt``).

Install with ``pip install 'flolive-sdk[dlt]'``, then load into any dlt
destination::

    import dlt
    from flolive.dlt import flolive_source

    pipeline = dlt.pipeline("flolive", destination="duckdb", dataset_name="flolive")
    pipeline.run(flolive_source(42, base_url="https://api.example"))

``token`` is a dlt *secret*: put it in ``.dlt/secrets.toml``
(``[sources.flolive] token = "..."``), or ``SOURCES__FLOLIVE__TOKEN`` in
the environment, or pass it as an argument. dlt keeps secrets out of its
trace, state and schema files; a value given as config would not be.

Resources (each yields one :class:`pyarrow.Table` per page, which dlt loads
without normalising row by row; schemas from :mod:`flolive.arrow`):

- ``campaigns``: the customer's campaigns (or the ones in ``campaign_ids``),
  with a ``customer_id`` column; merged on ``(customer_id, id)``.
- ``participants``: the participants of those campaigns, with
  ``customer_id`` and ``campaign_id`` columns; merged on
  ``(customer_id, campaign_id, id)``, since one subscriber id appears in
  every campaign it takes part in.
- ``labels``: a transformer of ``participants``, not selected by default
  (``source.with_resources("participants", "labels")``): the labels of each
  participant's iccid, with an ``iccid`` column; merged on ``id`` (the label
  UUID). A subscriber whose labels the API cannot give
  (``SUBSCRIBER_1029``) or no longer knows (``SUBSCRIBER_1002``) is skipped
  and logged; any other error fails the load.

Merge on ``id`` is the honest default: the API has no date filter, so an
incremental cursor would still read every page.

dlt runs async resources on its own event loop in a worker thread, so every
resource opens its :class:`~flolive.Client` inside, on that loop.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any

# Before flolive.arrow, whose own message would name the arrow extra, not dlt's.
try:
    import dlt
    import pyarrow as pa
    import pyarrow.compute as pc
    from dlt.sources import DltResource
except ImportError as exc:  # the message names the extra to install
    raise ImportError(
        "flolive.dlt needs dlt and pyarrow: pip install 'flolive-sdk[dlt]'", name=exc.name
    ) from exc

from .arrow import schema_for, to_record_batch
from .client import Client
from .errors import LabelsUnavailable, SubscriberNotFound
from .models import Campaign, Label, Participant

__all__ = ["DEFAULT_PAGE_SIZE", "flolive_source"]

log = logging.getLogger("flolive.dlt")

DEFAULT_PAGE_SIZE = 1000
"""Page size the source asks for: big pages mean fewer, larger Arrow tables."""

_LABELS_PAGE_SIZE = 100


def _with_ids(batch: Any, **ids: int) -> Any:
    """``batch`` as a table with constant id columns in front (NOT NULL, so
    dlt takes them as a primary key without a warning per page)."""
    table = pa.Table.from_batches([batch])
    for i, (name, value) in enumerate(ids.items()):
        column = pa.repeat(pa.scalar(value, pa.int64()), table.num_rows)
        table = table.add_column(i, pa.field(name, pa.int64(), nullable=False), column)
    return table


def _naive_times(item_type: type[Any]) -> dict[str, Any]:
    """dlt column hints: the API's date-times have no zone, and DuckDB keeps
    millisecond precision only for a TIMESTAMP without one."""
    schema = schema_for(item_type)
    return {
        f.name: {"data_type": "timestamp", "timezone": False, "precision": 3}
        for f in schema
        if pa.types.is_timestamp(f.type)
    }


def _labels_table(iccids: Sequence[str], labels: Sequence[Sequence[Label]]) -> Any:
    flat = [label for group in labels for label in group]
    table = pa.Table.from_batches([to_record_batch(flat, Label)], schema=schema_for(Label))
    owners = [iccid for iccid, group in zip(iccids, labels, strict=True) for _ in group]
    return table.add_column(
        0, pa.field("iccid", pa.string(), nullable=False), pa.array(owners, pa.string())
    )


@dlt.source(name="flolive")
def flolive_source(
    customer_id: int,
    campaign_ids: Sequence[int] | None = None,
    *,
    base_url: str = dlt.config.value,
    token: str = dlt.secrets.value,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_concurrency: int = 8,
) -> Sequence[DltResource]:
    """The floLIVE source of one customer: ``campaigns``, ``participants``, ``labels``.

    Args:
        customer_id: the customer whose data is loaded.
        campaign_ids: the campaigns to load (default ``None``: all of the
            customer's campaigns).
        base_url: API root (dlt config ``sources.flolive.base_url``).
        token: bearer token (dlt secret ``sources.flolive.token``).
        page_size: page size asked of the server (default 1000; servers cap it).
        max_concurrency: most requests in flight per resource (default 8);
            the label look-ups of all pages share one such budget.
    """
    wanted = None if campaign_ids is None else [int(c) for c in campaign_ids]
    settings: dict[str, Any] = {"max_concurrency": max_concurrency, "page_size": page_size}

    def client() -> Client:
        return Client(base_url, token=token, **settings)

    async def campaign_list(c: Client) -> list[int]:
        if wanted is not None:
            return wanted
        return [camp.id async for camp in c.campaigns(customer_id)]

    @dlt.resource(
        name="campaigns",
        write_disposition="merge",
        primary_key=("customer_id", "id"),
        columns=_naive_times(Campaign),
    )
    async def campaigns() -> AsyncIterator[Any]:
        async with client() as c, c.campaigns(customer_id) as pager:
            keep = None if wanted is None else pa.array(wanted, pa.int64())
            async for batch in pager.arrow():
                if keep is not None:
                    batch = batch.filter(pc.is_in(batch.column("id"), keep))
                yield _with_ids(batch, customer_id=customer_id)

    @dlt.resource(
        name="participants",
        write_disposition="merge",
        primary_key=("customer_id", "campaign_id", "id"),
        columns=_naive_times(Participant),
    )
    async def participants() -> AsyncIterator[Any]:
        async with client() as c:
            for campaign_id in await campaign_list(c):
                async with c.campaign_participants(customer_id, campaign_id) as pager:
                    async for batch in pager.arrow():
                        yield _with_ids(batch, customer_id=customer_id, campaign_id=campaign_id)

    # dlt awaits up to `max_parallel_items` transformer calls at once, all on
    # its one loop: a semaphore per loop keeps their label requests within
    # max_concurrency together.
    limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
        weakref.WeakKeyDictionary()
    )

    async def labels_of(c: Client, limit: asyncio.Semaphore, iccid: str) -> list[Label]:
        async with limit:
            try:
                # A subscriber has a few labels: one page. Speculative
                # requests for pages 1-3 would be wasted on nearly every one.
                return await c.subscriber_labels(
                    "iccid", iccid, page_size=_LABELS_PAGE_SIZE, speculate=0
                ).collect()
            except (LabelsUnavailable, SubscriberNotFound) as exc:
                log.warning("labels of iccid %s skipped: %s", iccid, exc)
                return []

    @dlt.transformer(
        name="labels",
        data_from=participants,
        write_disposition="merge",
        primary_key="id",
        columns=_naive_times(Label),
        selected=False,
    )
    async def labels(participant_table: Any) -> Any:
        iccids: list[str] = participant_table.column("iccid").to_pylist()
        loop = asyncio.get_running_loop()
        limit = limits.setdefault(loop, asyncio.Semaphore(max_concurrency))
        async with client() as c:
            tasks = [asyncio.create_task(labels_of(c, limit, i)) for i in iccids]
            try:
                # The first error fails the page as itself (a TaskGroup would
                # wrap it in an ExceptionGroup); the other look-ups are cancelled.
                found = await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        return _labels_table(iccids, found)

    return campaigns, participants, labels
