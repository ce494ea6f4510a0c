"""Read one listing across many processes or machines with Dask (extra ``dask``).

Install with ``pip install 'flolive-sdk[dask]'``. One call gives a
:class:`dask.dataframe.DataFrame` with one partition per range of pages::

    import flolive.dask

    df = flolive.dask.read_participants(42, 7, base_url=url, pages_per_part=50)
    flolive.dask.to_parquet(df, "participants/")   # part.000000.parquet, ...

How it works:

1. :meth:`flolive.AsyncPager.plan` reads the first page once and splits the
   list into :class:`Part` s: a page range, the page size the server used, the
   totals it reported, and the endpoint with the client's non-secret settings
   (:class:`~flolive._source.ListSource`). A part never holds a token,
   password or token provider: workers get credentials from their own
   environment (``FLOLIVE_TOKEN``, or ``FLOLIVE_USERNAME`` and
   ``FLOLIVE_PASSWORD``) or from a picklable ``token_provider``.
2. :func:`read_part` runs in the task: it opens its own event loop and
   client (an ``aiohttp`` session can be neither pickled nor shared across
   loops), reads its pages concurrently, and returns one
   :class:`pyarrow.Table` (:data:`flolive.arrow.PARTICIPANT_SCHEMA` for
   participants).
3. :func:`from_parts` builds the DataFrame with :func:`dask.dataframe.from_map`.

Failures: transient errors (429, 5xx, ``GLOBAL_1001``, resets) are retried
inside the SDK by its :class:`~flolive.RetryPolicy`. A list that changed
since the plan (other totals, another page size, a short page range) raises
:class:`~flolive.ListChanged`, and API errors raise their typed error: the
task fails, and Dask does not retry it (unless you ask with ``retries=``),
because reading the same range again would give the same wrong answer. When a
worker dies, Dask recomputes its parts elsewhere: :func:`to_parquet` names
each file after its partition (one page range) and writes it atomically, so a
recomputed part replaces its file and the dataset holds every item once.

Concurrency: each running task opens its own client with the plan's
``max_concurrency``. The API's throttling caps the whole fleet, so divide the
budget: ``max_concurrency`` = budget / (workers x threads per worker).

Only this module's DataFrame functions import dask; :meth:`~flolive.AsyncPager.plan`
and :func:`read_part` need only pyarrow.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from . import TokenProvider
from .client import Client
from .parts import DEFAULT_PAGES_PER_PART, Part, check_worker_options, read_part, run_sync

__all__ = [
    "DEFAULT_PAGES_PER_PART",
    "Part",
    "from_parts",
    "read_part",
    "read_participants",
    "to_parquet",
]

_EXTRA = "pip install 'flolive-sdk[dask]'"
_SCHEMA_ATTR = "flolive.arrow_schema"


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"flolive.dask needs {module.split('.')[0]}: {_EXTRA}") from exc


def _read_pandas(part: Part, token_provider: TokenProvider | None, options: dict[str, Any]) -> Any:
    pd = _require("pandas")
    return read_part(part, token_provider=token_provider, **options).to_pandas(
        types_mapper=pd.ArrowDtype
    )


def from_parts(
    parts: Sequence[Part], *, token_provider: TokenProvider | None = None, **client_options: Any
) -> Any:
    """A :class:`dask.dataframe.DataFrame` with one partition per part, in order.

    Columns are those of the item type's Arrow schema
    (:func:`flolive.arrow.schema_for`), as :class:`pandas.ArrowDtype`.
    ``token_provider`` and ``client_options`` travel with every task: they
    must be picklable and hold no secret.
    """
    check_worker_options(client_options)
    if not parts:
        raise ValueError("from_parts needs at least one part (a plan always has one)")
    dd = _require("dask.dataframe")
    pd = _require("pandas")
    _require("pyarrow")  # here, so that the message names dask's extra, not arrow's
    from .arrow import schema_for

    schema = schema_for(parts[0].source.item_type)
    meta = schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)
    meta.attrs[_SCHEMA_ATTR] = schema  # so to_parquet writes it, NOT NULL included
    return dd.from_map(
        _read_pandas,
        list(parts),
        args=(token_provider, dict(client_options)),
        meta=meta,
        label="flolive-" + parts[0].source.item_type.__name__.lower(),
        enforce_metadata=False,
    )


def read_participants(
    customer_id: int,
    campaign_id: int,
    *,
    base_url: str | None = None,
    page_size: int | None = None,
    pages_per_part: int = DEFAULT_PAGES_PER_PART,
    token_provider: TokenProvider | None = None,
    **client_options: Any,
) -> Any:
    """A campaign's participants as a :class:`dask.dataframe.DataFrame`.

    Plans here (one request: the first page), then each partition reads
    ``pages_per_part`` pages (default 50) in a task. Columns are those of
    :data:`flolive.arrow.PARTICIPANT_SCHEMA`.

    Args:
        customer_id, campaign_id: the campaign.
        base_url: API root (default: ``$FLOLIVE_BASE_URL``, here and on workers).
        page_size: page size asked of the server (default: the client's, 100).
        pages_per_part: pages per partition (default 50).
        token_provider: an async callable returning a token, used here and,
            pickled, on the workers; it must be importable (a module-level
            function) and must not capture a secret. Default: each process
            reads ``FLOLIVE_TOKEN`` or ``FLOLIVE_USERNAME``/``FLOLIVE_PASSWORD``.
        client_options: other :class:`~flolive.Client` arguments
            (``max_concurrency`` per task, ``timeout``, ``retry``, ...). A
            token, username, password or session is refused: it would travel
            in the task graph.
    """
    check_worker_options(client_options)
    _require("dask.dataframe")
    options = dict(client_options)
    if page_size is not None:
        options["page_size"] = page_size

    async def plan() -> list[Part]:
        async with Client(base_url, token_provider=token_provider, **options) as client:
            return await client.campaign_participants(customer_id, campaign_id).plan(pages_per_part)

    return from_parts(run_sync(plan), token_provider=token_provider, **client_options)


def _write_partition(
    pdf: Any, fs: Any, root: str, schema: Any, partition_info: dict[str, Any] | None = None
) -> Any:
    pa = _require("pyarrow")
    pq = _require("pyarrow.parquet")
    pd = _require("pandas")
    number = 0 if partition_info is None else int(partition_info["number"])
    table = pa.Table.from_pandas(pdf, schema=schema, preserve_index=False).replace_schema_metadata()
    final = f"{root}/part.{number:06d}.parquet"
    # A dot-name ending in .tmp: no reader globbing *.parquet sees a file
    # being written, and two attempts at one part never write the same file.
    tmp = f"{root}/.part.{number:06d}.{uuid.uuid4().hex}.tmp"
    try:
        with fs.open(tmp, "wb") as fh:
            pq.write_table(table, fh)
        fs.mv(tmp, final)
    finally:
        if fs.exists(tmp):
            fs.rm(tmp)
    return pd.DataFrame({"part": [number], "rows": [table.num_rows]})


def to_parquet(
    df: Any,
    path: str,
    *,
    overwrite: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> int:
    """Write ``df`` as one Parquet file per partition; returns the rows written.

    Files are ``part.000000.parquet``, ``part.000001.parquet``, ... in
    partition order (so a glob reads them in list order). Each is written to a
    hidden temporary file beside it and renamed into place: a reader never sees
    a partial file, and a part recomputed after a worker died replaces its file
    instead of adding one. ``path`` is a directory or any fsspec URL.

    Args:
        df: a Dask DataFrame, e.g. from :func:`read_participants`.
        path: the output directory.
        overwrite: remove existing ``part.*.parquet`` files first (default
            ``False``: refuse a directory that has some, since leftover parts
            of another plan would be read as data).
        storage_options: passed to fsspec for remote paths.

    Raises:
        FileExistsError: ``path`` holds part files and ``overwrite`` is false.
    """
    fsspec = _require("fsspec")
    pa = _require("pyarrow")
    pd = _require("pandas")
    fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
    root = root.rstrip("/")
    fs.makedirs(root, exist_ok=True)
    existing = fs.glob(f"{root}/part.*.parquet")
    if existing and not overwrite:
        raise FileExistsError(f"{path} already holds part files; pass overwrite=True")
    if existing:
        fs.rm(existing)
    schema = df._meta.attrs.get(_SCHEMA_ATTR)
    if schema is None or schema.names != list(df.columns):
        schema = pa.Schema.from_pandas(df._meta, preserve_index=False).remove_metadata()
    meta = pd.DataFrame(
        {"part": pd.Series([], dtype="int64"), "rows": pd.Series([], dtype="int64")}
    )
    written = df.map_partitions(_write_partition, fs, root, schema, meta=meta).compute()
    leftovers = fs.glob(f"{root}/.part.*.tmp")
    if leftovers:  # temporaries of attempts killed with their worker
        fs.rm(leftovers)
    return int(written["rows"].sum())
