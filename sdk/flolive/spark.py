"""A Spark 4 data source, ``spark.read.format("flolive")`` (extra ``spark``).

Install with ``pip install 'flolive-sdk[spark]'`` (pyspark 4, pyarrow; Spark
needs Java 17 or 21). Register the source once per session::

    from flolive.spark import FloliveDataSource

    spark.dataSource.register(FloliveDataSource)
    df = (spark.read.format("flolive")
          .option("base_url", url)
          .option("resource", "participants")
          .option("customer_id", "1").option("campaign_id", "2")
          .load())

How it works:

1. The schema comes from the models: :func:`spark_schema` is
   :func:`flolive.arrow.schema_for` in Spark's types (ids ``LongType`` NOT
   NULL, date-times ``TimestampType``, nested fields as structs and arrays).
   A schema given with ``.schema(...)`` must be that one, or differ only by
   allowing nulls where the model has none.
2. Paged resources are planned on the driver at the first action:
   :meth:`flolive.AsyncPager.plan` reads the first page once and splits the
   list into page ranges of ``pages_per_partition`` pages, one Spark
   partition each. The cursor resources (``all_subscribers``,
   ``all_subscriber_details``) read one point-in-time session, whose chunks
   come one after another: they are one partition.
3. Each task opens its own event loop and :class:`~flolive.Client`, reads its
   range concurrently and yields one Arrow record batch per page, in Spark's
   Arrow form of the schema (``timestamp[us, tz=UTC]``, nullability equal).

Exactly once: a task is a pure function of its partition. Its requests are
retried by the SDK's :class:`~flolive.RetryPolicy` (``max_retries``) and
nothing more; a page failing past it fails the task, and Spark's task retry
reads the same range again. The plan's totals travel with the partition, so a
list that changed between planning and reading is reported by
``on_list_change`` (default ``"raise"``: the task, then the job, fails with
:class:`~flolive.ListChanged`), never silently skewed.

Secrets: ``token`` and ``password`` are redacted by Spark in plans and logs
(``spark.redaction.regex``); this module keeps them out of its own options
copy, reprs and errors. They reach the Python workers inside the pickled
reader, in memory. To keep them out of Spark altogether, leave them out of
the options and set ``FLOLIVE_TOKEN`` (or ``FLOLIVE_USERNAME`` and
``FLOLIVE_PASSWORD``) in the executors' environment.
"""

from __future__ import annotations

import asyncio
import inspect
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

try:
    import pyarrow  # noqa: F401  (the batches' library; named in the message)
    from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
    from pyspark.sql.types import StructType
except ImportError as exc:  # the message names the extra to install
    raise ImportError(
        "flolive.spark needs pyspark 4 and pyarrow: pip install 'flolive-sdk[spark]'",
        name=exc.name,
    ) from exc

from . import Client, ListChanged, ListChangedWarning, RequestContext, RetryPolicy
from .arrow import schema_for, to_record_batch
from .models import Campaign, Label, Participant, Profile, Subscriber, SubscriberDetails
from .parts import Part, run_sync

__all__ = [
    "DEFAULT_PAGES_PER_PARTITION",
    "OPTIONS",
    "RESOURCES",
    "FloliveDataSource",
    "FloliveReader",
    "spark_schema",
]

DEFAULT_PAGES_PER_PARTITION = 10
"""Pages per Spark partition when ``pages_per_partition`` is not given."""

_REDACTED = "*********(redacted)"


class _Secret:
    """A credential that never shows in a repr, an error or a copy of the options."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return _REDACTED

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Secret, (self.value,))


# -- options: each defined once (name, parser, default, doc) -----------------


def _text(name: str, value: str) -> str:
    if not value:
        raise ValueError(f"option {name} must not be empty")
    return value


def _int(low: int) -> Callable[[str, str], int]:
    def parse(name: str, value: str) -> int:
        text = value.strip()
        if not (text.isascii() and text.lstrip("-").isdigit()) or int(text) < low:
            raise ValueError(f"option {name} must be an integer >= {low}, got {value!r}")
        return int(text)

    return parse


def _seconds(name: str, value: str) -> float | None:
    if value.strip().lower() == "none":
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ValueError(f"option {name} must be seconds > 0 or 'none', got {value!r}")
    return seconds


def _rate(name: str, value: str) -> float:
    seconds = _seconds(name, value)
    if seconds is None:
        raise ValueError(f"option {name} must be requests per second > 0, got {value!r}")
    return seconds


def _bool(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"option {name} must be 'true' or 'false', got {value!r}")
    return text == "true"


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, value: str) -> str:
        if value not in allowed:
            raise ValueError(f"option {name} must be one of {', '.join(allowed)}; got {value!r}")
        return value

    return parse


def _secret(name: str, value: str) -> _Secret:
    if not value:  # the value itself is never echoed
        raise ValueError(f"option {name} must not be empty")
    return _Secret(value)


@dataclass(frozen=True)
class _Option:
    parse: Callable[[str, str], Any]
    default: Any
    doc: str


@dataclass(frozen=True)
class _Resource:
    item_type: type[Any]
    needs: tuple[str, ...]
    cursor: bool = False


RESOURCES: Final[Mapping[str, _Resource]] = {
    "participants": _Resource(Participant, ("customer_id", "campaign_id")),
    "campaigns": _Resource(Campaign, ("customer_id",)),
    "subscribers": _Resource(Subscriber, ("customer_id",)),
    "labels": _Resource(Label, ("id_type", "id_value")),
    "profiles": _Resource(Profile, ("eid",)),
    "all_subscribers": _Resource(Subscriber, ("customer_id",), cursor=True),
    "all_subscriber_details": _Resource(SubscriberDetails, ("customer_id",), cursor=True),
}
"""Resource name -> item type, the options it needs, whether it is a cursor read."""

OPTIONS: Final[Mapping[str, _Option]] = {
    "resource": _Option(
        _choice(*RESOURCES), "participants", "what to list: " + ", ".join(RESOURCES)
    ),
    "customer_id": _Option(_int(0), None, "the customer (all but labels, profiles)"),
    "campaign_id": _Option(_int(0), None, "the campaign (participants)"),
    "id_type": _Option(_choice("imsi", "iccid", "msisdn", "imei"), None, "labels: identifier kind"),
    "id_value": _Option(_text, None, "labels: the subscriber's identifier"),
    "eid": _Option(_text, None, "profiles: the EID"),
    "base_url": _Option(_text, None, "API root (default: $FLOLIVE_BASE_URL where planned)"),
    "token": _Option(_secret, None, "a bearer token (default: $FLOLIVE_TOKEN on each process)"),
    "username": _Option(_text, None, "login name (default: $FLOLIVE_USERNAME)"),
    "password": _Option(_secret, None, "password of that login (default: $FLOLIVE_PASSWORD)"),
    "page_size": _Option(_int(1), 100, "items per page asked of the server"),
    "page_base": _Option(_choice("0", "1"), "0", "number of the server's first page"),
    "start_page": _Option(_int(0), None, "first page to read (default: page_base)"),
    "max_pages": _Option(_int(1), None, "most pages to read (default: all)"),
    "pages_per_partition": _Option(
        _int(1), DEFAULT_PAGES_PER_PARTITION, "pages per Spark partition"
    ),
    "max_concurrency": _Option(_int(1), 8, "requests in flight for the whole read"),
    "concurrent_tasks": _Option(
        _int(1), None, "tasks that may run at once (default: one per partition)"
    ),
    "max_rate": _Option(_rate, None, "requests per second for the whole read (default: none)"),
    "adaptive_concurrency": _Option(_bool, False, "back off on pushback, per task"),
    "timeout": _Option(_seconds, 30.0, "seconds per request, or 'none'"),
    "listing_timeout": _Option(_seconds, None, "seconds per task's read, or 'none'"),
    "max_retries": _Option(_int(0), 3, "SDK retries of one request before the task fails"),
    "on_list_change": _Option(_choice("raise", "warn", "ignore"), "raise", "list changed"),
    "chunk_size": _Option(_int(1), 1000, "cursor resources: records per call"),
    "keep_alive": _Option(_int(1), 5, "cursor resources: minutes a session lives"),
}
"""Every option of ``spark.read.format("flolive")``: name -> parser, default, doc.
Spark passes option names in lower case; values are strings."""

# Spark's reader lower-cases option names.
_BY_LOWER = {name.lower(): name for name in OPTIONS}


@dataclass(frozen=True)
class _Settings:
    """The parsed options; picklable, secrets as :class:`_Secret`."""

    values: Mapping[str, Any]

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> _Settings:
        unknown = sorted(k for k in options if k.lower() not in _BY_LOWER and k != "path")
        if unknown:
            raise ValueError(
                f"unknown flolive option{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(unknown)}; valid options are {', '.join(OPTIONS)}"
            )
        values = {name: opt.default for name, opt in OPTIONS.items()}
        for key, raw in options.items():
            name = _BY_LOWER.get(key.lower())
            if name is not None:
                values[name] = OPTIONS[name].parse(name, str(raw))
        resource = RESOURCES[values["resource"]]
        missing = [n for n in resource.needs if values[n] is None]
        if missing:
            raise ValueError(
                f"resource {values['resource']} needs option{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}"
            )
        if values["token"] is not None and values["username"] is not None:
            raise ValueError("give only one of the options token, or username and password")
        if (values["username"] is None) != (values["password"] is None):
            raise ValueError("the options username and password go together")
        if values["max_rate"] is not None and "max_rate" not in _client_parameters():
            raise ValueError("option max_rate needs a flolive-sdk whose Client takes max_rate")
        return cls(values)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def resource(self) -> _Resource:
        return RESOURCES[self["resource"]]

    def client(self, base_url: str | None, concurrency: int, rate: float | None) -> Client:
        """A client with these settings and credentials; ``rate`` only when given
        (``max_rate`` is not known to every version of the core)."""
        kwargs: dict[str, Any] = {
            "max_concurrency": concurrency,
            "adaptive_concurrency": self["adaptive_concurrency"],
            "page_size": self["page_size"],
            "page_base": int(self["page_base"]),
            "timeout": self["timeout"],
            "listing_timeout": self["listing_timeout"],
            "retry": RetryPolicy(max_retries=self["max_retries"]),
            "on_list_change": self["on_list_change"],
        }
        if rate is not None:
            kwargs["max_rate"] = rate
        if self["token"] is not None:
            kwargs["token"] = self["token"].value
        if self["username"] is not None:
            kwargs["username"] = self["username"]
            kwargs["password"] = self["password"].value
        return Client(base_url or self["base_url"], **kwargs)

    def redacted(self, options: Mapping[str, str]) -> dict[str, str]:
        secret = {"token", "password"}
        return {k: (_REDACTED if k.lower() in secret else v) for k, v in options.items()}


def _client_parameters() -> frozenset[str]:
    return frozenset(inspect.signature(Client).parameters)


# -- the budget split (pure; tested as a table) ------------------------------


@dataclass(frozen=True)
class TaskBudget:
    """What one task may use: requests in flight, and requests per second."""

    concurrency: int
    rate: float | None = None


def split_budget(
    max_concurrency: int, max_rate: float | None, partitions: int, concurrent_tasks: int | None
) -> TaskBudget:
    """The read's budget shared by the tasks that can run at once (at most
    one per partition; each gets at least one request in flight)."""
    running = max(1, min(partitions, concurrent_tasks or partitions))
    rate = None if max_rate is None else max_rate / running
    return TaskBudget(max(1, max_concurrency // running), rate)


# -- schema ------------------------------------------------------------------


def spark_schema(item_type: type[Any]) -> StructType:
    """The Spark schema of a model: :func:`flolive.arrow.schema_for` in Spark's
    types, date-times as ``TimestampType`` (UTC)."""
    return from_arrow_schema(schema_for(item_type), prefer_timestamp_ntz=False)


def _relaxes(given: Any, ours: Any) -> bool:
    """Whether Spark type ``given`` is ``ours`` with nulls allowed in more places."""
    if type(given) is not type(ours):
        return False
    if isinstance(ours, StructType):
        return [f.name for f in given.fields] == [f.name for f in ours.fields] and all(
            (g.nullable or not o.nullable) and _relaxes(g.dataType, o.dataType)
            for g, o in zip(given.fields, ours.fields, strict=True)
        )
    element = getattr(ours, "elementType", None)
    if element is not None:
        return (given.containsNull or not ours.containsNull) and _relaxes(
            given.elementType, element
        )
    return bool(given == ours)


def _check_schema(given: StructType, ours: StructType, resource: str) -> None:
    if not _relaxes(given, ours):
        raise ValueError(
            f"the schema given does not match resource {resource}'s; use "
            f"{ours.simpleString()} (nulls may be allowed where it has none)"
        )


# -- partitions and reading --------------------------------------------------


@dataclass(frozen=True)
class FlolivePartition(InputPartition):
    """One Spark partition: a page range (``part``), or the whole cursor read
    (``part is None``), with the task's share of the budget. No secret."""

    index: int
    budget: TaskBudget
    part: Part | None = None


def _list_changed(policy: str, error: ListChanged) -> None:
    if policy == "raise":
        raise error
    if policy == "warn":
        warnings.warn(ListChangedWarning(str(error)), stacklevel=3)


def _changed(part: Part, after: int, page: int | None, detail: str) -> ListChanged:
    return ListChanged(
        part.total_elements,
        after,
        context=RequestContext("GET", part.source.path, page),
        detail=f"partition {part.index} ({part.name}): {detail}; the list changed since "
        "the plan: run the query again",
    )


async def _page_batches(client: Client, part: Part, policy: str) -> AsyncIterator[Any]:
    """The part's pages as record batches; a difference from the plan is
    reported once per part, by ``policy``."""
    src = part.source
    pager = client.paginate(
        src.path,
        src.item_type,
        params=dict(src.params),
        page_size=part.page_size,
        page_base=part.page_base,
        start_page=part.first_page,
        max_pages=part.pages,
    )
    read = 0
    reported = False
    async with pager:
        async for page in pager.pages():
            if not reported and (
                page.total_elements != part.total_elements or page.size != part.page_size
            ):
                reported = True
                _list_changed(
                    policy,
                    _changed(
                        part,
                        page.total_elements,
                        page.number,
                        f"planned with {part.total_elements} items in pages of "
                        f"{part.page_size}, page {page.number} says {page.total_elements} "
                        f"in pages of {page.size}",
                    ),
                )
            read += len(page.items)
            yield to_record_batch(page.items, src.item_type)
    if not reported and read != part.expected_items:
        detail = f"expected {part.expected_items} items, read {read}"
        _list_changed(policy, _changed(part, part.total_elements, None, detail))


def _iterate(make: Callable[[], AsyncIterator[Any]]) -> Iterator[Any]:
    """Step an async iterator on an event loop of this generator's own, one
    item per ``next``; closing the generator closes the iterator on that loop."""
    with asyncio.Runner() as runner:
        agen = make()

        async def step() -> Any:
            return await anext(agen)

        try:
            while True:
                try:
                    item = runner.run(step())
                except StopAsyncIteration:
                    return
                yield item
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                runner.run(aclose())


class FloliveReader(DataSourceReader):
    """Plans partitions (on the driver) and reads one (in a task)."""

    def __init__(self, settings: _Settings, schema: StructType) -> None:
        self.settings = settings
        self.schema = schema
        self.arrow_schema = to_arrow_schema(schema, timezone="UTC")

    def partitions(self) -> list[FlolivePartition]:
        s = self.settings
        if s.resource.cursor:
            budget = split_budget(s["max_concurrency"], s["max_rate"], 1, None)
            return [FlolivePartition(0, budget)]

        async def plan() -> list[Part]:
            async with s.client(None, s["max_concurrency"], s["max_rate"]) as client:
                parts: list[Part] = await self._pager(client).plan(s["pages_per_partition"])
                return parts

        parts = run_sync(plan)
        budget = split_budget(
            s["max_concurrency"], s["max_rate"], len(parts), s["concurrent_tasks"]
        )
        return [FlolivePartition(p.index, budget, p) for p in parts]

    def _pager(self, client: Client) -> Any:
        s = self.settings
        options: dict[str, Any] = {}
        if s["start_page"] is not None:
            options["start_page"] = s["start_page"]
        if s["max_pages"] is not None:
            options["max_pages"] = s["max_pages"]
        name = s["resource"]
        if name == "participants":
            return client.campaign_participants(s["customer_id"], s["campaign_id"], **options)
        if name == "campaigns":
            return client.campaigns(s["customer_id"], **options)
        if name == "subscribers":
            return client.subscribers(s["customer_id"], **options)
        if name == "labels":
            return client.subscriber_labels(s["id_type"], s["id_value"], **options)
        return client.subscriber_profiles(s["eid"], **options)

    def read(self, partition: InputPartition) -> Iterator[Any]:
        if not isinstance(partition, FlolivePartition):
            raise TypeError(f"not a partition of flolive's: {type(partition).__name__}")
        s = self.settings
        target = self.arrow_schema
        budget = partition.budget
        part = partition.part

        async def batches() -> AsyncIterator[Any]:
            base_url = None if part is None else part.source.base_url
            async with s.client(base_url, budget.concurrency, budget.rate) as client:
                if part is not None:
                    source = _page_batches(client, part, s["on_list_change"])
                else:
                    source = self._cursor_batches(client)
                async for batch in source:
                    yield batch.cast(target)

        return _iterate(batches)

    async def _cursor_batches(self, client: Client) -> AsyncIterator[Any]:
        s = self.settings
        read = (
            client.all_subscribers
            if s["resource"] == "all_subscribers"
            else client.all_subscriber_details
        )
        cursor = read(s["customer_id"], chunk_size=s["chunk_size"], keep_alive=s["keep_alive"])
        async with cursor:
            async for batch in cursor.arrow(s.resource.item_type):
                yield batch


class FloliveDataSource(DataSource):
    """``spark.read.format("flolive")``: a floLIVE listing as a DataFrame.

    Options (strings; see :data:`OPTIONS`): ``resource`` (``participants``
    (default), ``campaigns``, ``subscribers``, ``labels``, ``profiles``,
    ``all_subscribers``, ``all_subscriber_details``), its ids
    (``customer_id``, ``campaign_id``, ``id_type`` and ``id_value``, ``eid``),
    ``base_url``, credentials (``token``, or ``username`` and ``password``;
    default: each process's ``FLOLIVE_*`` environment), ``page_size``,
    ``page_base``, ``start_page``, ``max_pages``, ``pages_per_partition``
    (default 10), ``max_concurrency`` (default 8) and ``max_rate`` for the
    whole read, split across ``concurrent_tasks`` (default: one per
    partition), ``adaptive_concurrency``, ``timeout``, ``listing_timeout``,
    ``max_retries`` (default 3), ``on_list_change`` (default ``raise``),
    ``chunk_size`` and ``keep_alive`` (cursor resources).

    Raises (at ``load()``): :class:`ValueError` for an unknown option, a bad
    value or a missing id; never echoing a secret.
    """

    def __init__(self, options: Mapping[str, str]) -> None:
        self._settings = _Settings.parse(options)
        # Spark keeps the options on the instance: keep no secret there.
        super().__init__(self._settings.redacted(options))

    @classmethod
    def name(cls) -> str:
        """``"flolive"``."""
        return "flolive"

    def schema(self) -> StructType:
        """The Spark schema of the resource's model (see :func:`spark_schema`)."""
        return spark_schema(self._settings.resource.item_type)

    def reader(self, schema: StructType) -> FloliveReader:
        """A reader of ``schema``: the model's, or the model's with nulls allowed."""
        ours = spark_schema(self._settings.resource.item_type)
        _check_schema(schema, ours, self._settings["resource"])
        return FloliveReader(self._settings, schema)
