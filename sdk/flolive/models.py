"""Typed models of the floLIVE API v2, as :class:`msgspec.Struct` types.

Field names are snake_case in Python and camelCase on the wire
(``creation_time`` <-> ``creationTime``). Unknown fields are ignored, so new
server fields never break a decode.

Date-times such as ``"2022-02-11 14:21:53"`` decode to **naive**
:class:`datetime.datetime` values: the API does not say which zone they are in.

Status fields are plain ``str``: the documented values are available as
:class:`ParticipantStatus` and :class:`CampaignStatus` (``StrEnum``, so
``p.status == ParticipantStatus.COMPLETED`` works), and a status the vendor adds
later decodes as its string instead of failing the page.
"""

from __future__ import annotations

import datetime as _dt
import enum
import uuid
from typing import Annotated, Generic, TypeVar

import msgspec

__all__ = [
    "Campaign",
    "CampaignStatus",
    "Envelope",
    "ErrorEnvelope",
    "Label",
    "Page",
    "Pageable",
    "Participant",
    "ParticipantStatus",
    "SubscriberIdType",
]

T = TypeVar("T")

NonNegative = Annotated[int, msgspec.Meta(ge=0)]


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


class SubscriberIdType(enum.StrEnum):
    """The identifier types :meth:`flolive.Client.subscriber_labels` accepts."""

    IMSI = "imsi"
    ICCID = "iccid"
    MSISDN = "msisdn"
    IMEI = "imei"


# Leaf records can never be part of a reference cycle: gc=False spares the
# garbage collector from tracking hundreds of thousands of them in a bulk read.
class Participant(msgspec.Struct, frozen=True, gc=False, rename="camel"):
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


class Label(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    """A user label attached to a subscriber.

    Attributes:
        id: label instance id (UUID).
        name: label name.
        creation_time: naive creation date-time (``creationTime`` on the wire).
    """

    id: uuid.UUID
    name: str
    creation_time: _dt.datetime


class Campaign(msgspec.Struct, frozen=True, gc=False, rename="camel"):
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


class Pageable(msgspec.Struct, frozen=True, gc=False, rename="camel"):
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


class Envelope(msgspec.Struct, Generic[T], frozen=True, rename="camel"):
    """The wrapper of every API response.

    On success ``error_code`` is ``""``, ``content`` a list and ``pageable`` a
    :class:`Pageable`; on failure the API sends ``""`` for both ``content`` and
    ``pageable``, which this model accepts so that the error can be read.
    """

    error_code: str = ""
    error_message: str = ""
    content: list[T] | str | None = None
    pageable: Pageable | str | None = None


class ErrorEnvelope(msgspec.Struct, frozen=True, rename="camel"):
    """Just the error fields of an envelope; used to read error bodies whose
    other fields do not match the expected item type."""

    error_code: str = ""
    error_message: str = ""


class Page(msgspec.Struct, Generic[T], frozen=True):
    """One page of a listing, as yielded by :meth:`flolive.AsyncPager.pages`.

    Attributes:
        items: the items of this page, in server order.
        number: the API page number (in the server's base).
        size: the page size the server used.
        total_pages: ``totalPages`` as this page reported it.
        total_elements: ``totalElements`` as this page reported it.
    """

    items: list[T]
    number: int
    size: int
    total_pages: int
    total_elements: int
