"""Typed models of the floLIVE API v2, as :class:`msgspec.Struct` types.

Field names are snake_case in Python and camelCase on the wire
(``creation_time`` <-> ``creationTime``). Unknown fields are ignored, so new
server fields never break a decode.

Date-times such as ``"2022-02-11 14:21:53"`` decode to **naive**
:class:`datetime.datetime` values: the API does not say which zone they are in.

Date-times with milliseconds (``"2022-02-11 14:21:53.120"``), which some
endpoints send, decode the same way.

Status fields are plain ``str``: the documented values are available as
:class:`ParticipantStatus`, :class:`CampaignStatus` and :class:`SubscriberStatus`
(``StrEnum``, so ``p.status == ParticipantStatus.COMPLETED`` works), and a
status the vendor adds later decodes as its string instead of failing the page.

Every model converts back to the API's JSON form: :meth:`Model.to_dict` and
:meth:`Model.to_json` give the API's own (camelCase) field names, date-times
in ISO 8601 (``"2022-02-11T14:21:53"``, naive as sent), UUIDs as strings and
tuples as lists. :func:`encode_json`, :func:`encode_json_lines` and
:func:`to_builtins` are that one encoding for any value holding models: what
JSONL export writes, and what :meth:`Model.to_json` returns, byte for byte.
"""

from __future__ import annotations

import datetime as _dt
import enum
import uuid
from collections.abc import Iterable
from typing import Annotated, Any, Generic, TypeVar

import msgspec

__all__ = [
    "Campaign",
    "CampaignStatus",
    "Chunk",
    "CursorEnvelope",
    "Envelope",
    "ErrorEnvelope",
    "Label",
    "Page",
    "Pageable",
    "ImsiMsisdnPair",
    "Model",
    "Participant",
    "ParticipantStatus",
    "Profile",
    "Subscriber",
    "SubscriberDetails",
    "SubscriberIdType",
    "SubscriberIdentifiers",
    "SubscriberStatus",
    "encode_json",
    "encode_json_lines",
    "to_builtins",
]

T = TypeVar("T")

NonNegative = Annotated[int, msgspec.Meta(ge=0)]


# -- the one JSON encoding of models -------------------------------------------

# Encoders hold only their settings (each call builds its own output), so one
# serves every caller and thread.
_encoder = msgspec.json.Encoder()
_decode = msgspec.json.Decoder().decode


def encode_json(value: Any) -> bytes:
    """``value`` (a model, a list of models, any builtin value) as compact JSON:
    the API's field names, ISO 8601 date-times, UUIDs as strings."""
    return _encoder.encode(value)


def encode_json_lines(values: Iterable[Any]) -> bytes:
    """Each of ``values`` as one line of :func:`encode_json`, each line ending
    in ``\\n``: the bytes a JSONL export writes for them."""
    return _encoder.encode_lines(values)


def to_builtins(value: Any) -> Any:
    """``value`` as the plain dicts, lists, strings, numbers, booleans and
    ``None`` that :func:`encode_json` writes: ``json.loads(encode_json(v)) ==
    to_builtins(v)`` for every model ``v`` (tuples become lists, as in JSON)."""
    # Through the bytes, not msgspec.to_builtins (which keeps tuples): then
    # this is exactly what was written, by construction.
    return _decode(_encoder.encode(value))


class Model(msgspec.Struct, frozen=True):
    """The base of every model here: conversion to the API's JSON form."""

    def to_dict(self) -> dict[str, Any]:
        """The model as a new ``dict`` of JSON values, keyed by the API's own
        field names (``creationTime``), with ISO 8601 date-times
        (``"2022-02-11T14:21:53"``), UUIDs as strings, nested models as dicts
        and tuples as lists: equal to ``json.loads(self.to_json())``."""
        result: dict[str, Any] = to_builtins(self)
        return result

    def to_json(self, *, indent: int = 0) -> str:
        """The model as JSON text: what a JSONL export writes for it (without
        the newline) when ``indent`` is 0 (the default); ``indent`` > 0 spreads
        it over lines indented by that many spaces, for reading."""
        data = encode_json(self)
        if indent > 0:
            data = msgspec.json.format(data, indent=indent)
        return data.decode()


class ParticipantStatus(enum.StrEnum):
    """Documented values of :attr:`Participant.status` (the field itself is ``str``)."""

    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    SUSPENDED = "SUSPENDED"
    PROGRESS = "PROGRESS"
    WAIT = "WAIT"
    RETRY = "RETRY"
    CANCELED = "CANCELED"
    CANCELING = "CANCELING"
    EXCEPTION = "EXCEPTION"


class CampaignStatus(enum.StrEnum):
    """Documented values of :attr:`Campaign.status` (the field itself is ``str``)."""

    CREATED = "CREATED"
    PROCESS = "PROCESS"
    SCHEDULED = "SCHEDULED"
    SUSPEND = "SUSPEND"
    CANCELED = "CANCELED"
    COMPLETED = "COMPLETED"
    EXCEPTION = "EXCEPTION"
    EXPIRED = "EXPIRED"


class SubscriberStatus(enum.StrEnum):
    """Documented values of :attr:`Subscriber.status` and
    :attr:`SubscriberDetails.subs_status` (the fields themselves are ``str``)."""

    ACTIVE = "ACTIVE"
    SUSPEND = "SUSPEND"
    INACTIVE = "INACTIVE"
    TERMINATED = "TERMINATED"


# Leaf records can never be part of a reference cycle: gc=False spares the
# garbage collector from tracking hundreds of thousands of them in a bulk read.
class Participant(Model, frozen=True, gc=False, rename="camel"):
    """A subscriber (SIM) taking part in a campaign.

    Attributes:
        id: participant (subscriber) identifier.
        iccid: SIM card identifier.
        status: message status; see :class:`ParticipantStatus`.
        attempt: last message attempt count.
        code: message result code, e.g. ``"200"``.
        message: the message string.
        timestamp: naive date-time of the record.
    """

    id: int
    iccid: str
    status: str
    attempt: int
    code: str
    message: str
    timestamp: _dt.datetime


class Label(Model, frozen=True, gc=False, rename="camel"):
    """A user label attached to a subscriber.

    Attributes:
        id: label instance id (UUID).
        name: label name.
        creation_time: naive creation date-time (``creationTime`` on the wire).
    """

    id: uuid.UUID
    name: str
    creation_time: _dt.datetime


class Campaign(Model, frozen=True, gc=False, rename="camel"):
    """A customer's campaign.

    Attributes:
        id: campaign id.
        name: campaign name.
        template_id: template id (``templateId``).
        status: campaign status; see :class:`CampaignStatus`.
        timestamp: naive date-time of the campaign.
        effective_start: start of the effective window, as the API sends it.
        effective_end: end of the effective window, as the API sends it.
        max_retries: maximum retries per participant (``maxRetries``).
        description: optional description (``None`` when absent).
    """

    id: int
    name: str
    template_id: int
    status: str
    timestamp: _dt.datetime
    effective_start: str
    effective_end: str
    max_retries: int
    description: str | None = None


class Envelope(Model, Generic[T], frozen=True, rename="camel"):
    """The wrapper of every API response.

    On success ``error_code`` is ``""``, ``content`` a list and ``pageable`` a
    :class:`Pageable`; on failure the API sends ``""`` for both ``content`` and
    ``pageable``, which this model accepts so that the error can be read.
    """

    error_code: str = ""
    error_message: str = ""
    content: list[T] | str | None = None
    pageable: Pageable | str | None = None


class Pageable(Model, frozen=True, gc=False, rename="camel"):
    """The paging block of an envelope, as the server sent it.

    Attributes:
        page: page number (in the server's base, 0 or 1).
        size: page size the server used (it may cap the one asked for).
        total_pages: pages in the list at this page size.
        total_elements: items in the list (advice: lists change while read).
    """

    # Negative counts are nonsense a decoder should refuse, not a pager obey.
    page: NonNegative
    size: NonNegative
    total_pages: NonNegative
    total_elements: NonNegative


class ErrorEnvelope(Model, frozen=True, rename="camel"):
    """Just the error fields of an envelope; used to read error bodies whose
    other fields do not match the expected item type."""

    error_code: str = ""
    error_message: str = ""


class Page(Model, Generic[T], frozen=True):
    """One page of a listing, as yielded by :meth:`flolive.AsyncPager.pages`.

    Attributes:
        items: the items of this page, in server order.
        number: the API page number (in the server's base).
        size: the page size the server used.
        total_pages: ``totalPages`` as this page reported it.
        total_elements: ``totalElements`` as this page reported it.
        request_id: the server's id of the answer that carried this page
            (``Request-Id``, ``X-Request-Id`` or ``X-Correlation-Id``), or ``None``.
    """

    items: list[T]
    number: int
    size: int
    total_pages: int
    total_elements: int
    request_id: str | None = None


# -- subscribers --------------------------------------------------------------


# The subscriber records below hold tuples, not lists: frozen structs of
# tuples of frozen leaf structs can never be part of a reference cycle, so
# gc=False is safe on them too, and a bulk read of millions of SIMs does not
# feed the garbage collector millions of tracked objects.
class ImsiMsisdnPair(Model, frozen=True, gc=False, rename="camel"):
    """One IMSI of a SIM, with its phone number.

    Attributes:
        imsi: the IMSI.
        msisdn: the phone number (E.164), or ``None`` when the IMSI has none.
        is_last_active: whether this is the IMSI the SIM used last
            (``isLastActive``; at most one pair of a SIM is).
    """

    imsi: str
    msisdn: str | None = None
    is_last_active: bool = False


def _active(pairs: tuple[ImsiMsisdnPair, ...]) -> ImsiMsisdnPair | None:
    for pair in pairs:
        if pair.is_last_active:
            return pair
    return pairs[0] if pairs else None


class Subscriber(Model, frozen=True, gc=False, rename="camel"):
    """A SIM of a customer (or of one of its direct sub-customers), as the
    subscriber listings return it.

    Attributes:
        subscriber_id: the subscriber's UUID (``subscriberId``).
        imsi_msisdn_pairs: the SIM's IMSIs with their numbers
            (``imsiMsisdnPairs``), a tuple in server order.
        iccid: SIM card identifier.
        status: subscriber status; see :class:`SubscriberStatus`.
        imei: the device's IMEI, or ``None``.
        imeisv: the device's IMEISV, or ``None``.
        customer_id: UUID of the customer the SIM belongs to, or ``None``.
        customer_name: that customer's name, or ``None``.
    """

    subscriber_id: uuid.UUID
    imsi_msisdn_pairs: tuple[ImsiMsisdnPair, ...]
    iccid: str
    status: str
    imei: str | None = None
    imeisv: str | None = None
    customer_id: uuid.UUID | None = None
    customer_name: str | None = None

    @property
    def active_pair(self) -> ImsiMsisdnPair | None:
        """The pair marked last active, else the first pair, else ``None``."""
        return _active(self.imsi_msisdn_pairs)


class SubscriberIdentifiers(Model, frozen=True, gc=False, rename="camel"):
    """The identifiers of one subscriber, as nested in :class:`SubscriberDetails`
    and :class:`Profile` (``subscriberIdentifiers``).

    Attributes:
        subscriber_id: the subscriber's UUID.
        imsi_msisdn_pairs: its IMSIs with their numbers, a tuple in server order.
        iccid: SIM card identifier.
        imei: the device's IMEI, or ``None``.
        imeisv: the device's IMEISV, or ``None``.
    """

    subscriber_id: uuid.UUID
    imsi_msisdn_pairs: tuple[ImsiMsisdnPair, ...]
    iccid: str
    imei: str | None = None
    imeisv: str | None = None

    @property
    def active_pair(self) -> ImsiMsisdnPair | None:
        """The pair marked last active, else the first pair, else ``None``."""
        return _active(self.imsi_msisdn_pairs)


class SubscriberDetails(Model, frozen=True, rename="camel"):
    """One subscriber in detail (``GET /api/v2/subscriber/{type}/{value}``, and
    the items of :meth:`flolive.Client.all_subscriber_details`).

    The vendor documents more fields (plans, offers) without naming them: those
    are ignored, and the nested location and network objects are kept as plain
    mappings, as sent.

    Attributes:
        subscriber_identifiers: the :class:`SubscriberIdentifiers`.
        customer_id: UUID of the customer the SIM belongs to.
        customer_name: that customer's name.
        subs_status: subscriber status (``subsStatus``: the vendor's name);
            see :class:`SubscriberStatus`.
        tags: comma-separated tags, or ``None``.
        system_labels: comma-separated system label names, or ``None``.
        user_labels: comma-separated user label names, or ``None``.
        alias: the subscriber's alias, or ``None``.
        last_known_location: the last known location as sent (a mapping), or
            ``None``; date-times inside it stay strings.
        last_connected_network: the last connected network as sent, or ``None``.
        last_rat_type: radio access technology code of the last connection.
        last_rat_type_label: its name, e.g. ``"LTE"``.
        last_data_rat_type: radio access technology of the last data session.
        last_data_rat_type_label: its name.
    """

    subscriber_identifiers: SubscriberIdentifiers
    customer_id: uuid.UUID
    customer_name: str
    subs_status: str
    tags: str | None = None
    system_labels: str | None = None
    user_labels: str | None = None
    alias: str | None = None
    last_known_location: dict[str, Any] | None = None
    last_connected_network: dict[str, Any] | None = None
    last_rat_type: int | None = None
    last_rat_type_label: str | None = None
    last_data_rat_type: str | None = None
    last_data_rat_type_label: str | None = None


class Profile(Model, frozen=True, gc=False, rename="camel"):
    """An eSIM profile on an EID (:meth:`flolive.Client.subscriber_profiles`).

    Attributes:
        id: the profile's UUID.
        name: the profile's alias.
        is_active: whether this profile holds the EID's last known active ICCID
            (``isActive``).
        subscriber_identifiers: the subscriber this profile is.
    """

    id: uuid.UUID
    name: str
    is_active: bool
    subscriber_identifiers: SubscriberIdentifiers


# -- the point-in-time cursor ---------------------------------------------------


class CursorEnvelope(Model, Generic[T], frozen=True, rename="camel"):
    """The answer of a point-in-time cursor call (``subscriber-all``).

    Like :class:`Envelope`, with the cursor's fields instead of ``pageable``:
    ``pit_id`` to send back for the next chunk, ``record_amount`` (records in
    this chunk) and ``total_record_amount`` (records in the whole result set;
    advice, as the vendor's counts are).
    """

    error_code: str = ""
    error_message: str = ""
    content: list[T] | str | None = None
    pit_id: str | None = None
    record_amount: NonNegative | None = None
    total_record_amount: NonNegative | None = None


class Chunk(Model, Generic[T], frozen=True):
    """One chunk of a point-in-time cursor read, as yielded by
    :meth:`flolive.AsyncCursor.pages`.

    Attributes:
        items: the records of this chunk, in server order.
        number: the chunk's number in the read (0 for the first).
        pit_id: the ``pitId`` this chunk's answer returned: the one to send for
            the next chunk.
        record_amount: ``recordAmount`` as the server sent it (``None`` if not).
        total_record_amount: ``totalRecordAmount`` as the server sent it
            (``None`` if not).
        request_id: the server's id of the answer that carried this chunk, or ``None``.
    """

    items: list[T]
    number: int
    pit_id: str
    record_amount: int | None
    total_record_amount: int | None
    request_id: str | None = None

    @property
    def total_elements(self) -> int | None:
        """``total_record_amount``, under the name :class:`Page` uses."""
        return self.total_record_amount


class SubscriberIdType(enum.StrEnum):
    """The identifier types :meth:`flolive.Client.subscriber_labels` accepts."""

    IMSI = "imsi"
    ICCID = "iccid"
    MSISDN = "msisdn"
    IMEI = "imei"
