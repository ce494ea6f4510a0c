"""The sandbox's deterministic data: every record is computed from (seed, ids),
lazily, one page at a time, so a million-participant campaign costs no memory."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec

_MASK = (1 << 64) - 1

PARTICIPANT_STATUSES = (
    "PENDING",
    "COMPLETED",
    "SUSPENDED",
    "PROGRESS",
    "WAIT",
    "RETRY",
    "CANCELED",
    "CANCELING",
    "EXCEPTION",
)
CAMPAIGN_STATUSES = (
    "CREATED",
    "PROCESS",
    "SCHEDULED",
    "SUSPEND",
    "CANCELED",
    "COMPLETED",
    "EXCEPTION",
    "EXPIRED",
)
#: Participants per campaign id, for every customer. Campaign 1 is the vendor's
#: example (988); campaign 2 is big enough for real load.
DEFAULT_CAMPAIGN_SIZES: Mapping[int, int] = {
    1: 988,
    2: 1_000_000,
    3: 100_000,
    4: 0,
    5: 25,
}
EPOCH = dt.datetime(2022, 2, 11, 14, 21, 53)


def mix(*parts: int) -> int:
    """A splitmix64-style hash of small integers: fast, stable across runs."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (p & _MASK)) * 0xBF58476D1CE4E5B9 & _MASK
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & _MASK
        h ^= h >> 29
    return h


def unit(*parts: int) -> float:
    """A deterministic float in [0, 1)."""
    return (mix(*parts) >> 11) / float(1 << 53)


def fmt_time(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


# Wire records: field order and camelCase exactly as the vendor's examples.
class WireParticipant(msgspec.Struct):
    id: int
    iccid: str
    status: str
    attempt: int
    code: str
    message: str
    timestamp: str


class WireLabel(msgspec.Struct, rename="camel"):
    id: str
    name: str
    creation_time: str


class WireCampaign(msgspec.Struct, rename="camel", omit_defaults=True):
    id: int
    name: str
    template_id: int
    status: str
    timestamp: str
    effective_start: str
    effective_end: str
    max_retries: int
    description: str | None = None


@dataclass(frozen=True)
class Subscriber:
    customer: int
    campaign: int
    index: int


# Identifier layouts (all digits): a prefix, 3-digit customer, 3-digit campaign,
# then the participant index.
_ID_LAYOUT = {
    "iccid": ("893577", 7),  # 19 digits, like the vendor's 8935771600000000003
    "imsi": ("90", 7),  # 15 digits
    "msisdn": ("1", 7),  # 14 digits
    "imei": ("35", 7),  # 15 digits
}


@dataclass
class DataSet:
    """All sandbox records, derived from ``seed``.

    Customers ``1..customers`` exist; each has the campaigns of
    ``campaign_sizes`` (id -> participants).
    """

    seed: int = 0
    customers: int = 9
    campaign_sizes: Mapping[int, int] = field(default_factory=lambda: dict(DEFAULT_CAMPAIGN_SIZES))

    def has_customer(self, customer: int) -> bool:
        return 1 <= customer <= self.customers

    def has_campaign(self, customer: int, campaign: int) -> bool:
        return self.has_customer(customer) and campaign in self.campaign_sizes

    def campaign_ids(self) -> list[int]:
        return sorted(self.campaign_sizes)

    def campaign(self, customer: int, campaign: int) -> WireCampaign:
        h = mix(self.seed, 1, customer, campaign)
        start = EPOCH + dt.timedelta(days=campaign)
        return WireCampaign(
            id=campaign,
            name=f"campaign-{customer}-{campaign}",
            template_id=100 + h % 50,
            status=CAMPAIGN_STATUSES[h % len(CAMPAIGN_STATUSES)],
            timestamp=fmt_time(start),
            effective_start=fmt_time(start),
            effective_end=fmt_time(start + dt.timedelta(days=30)),
            max_retries=1 + h % 5,
            description=None if h & 1 else f"Sandbox campaign {campaign} of customer {customer}",
        )

    def identifier(self, kind: str, customer: int, campaign: int, index: int) -> str:
        prefix, width = _ID_LAYOUT[kind]
        return f"{prefix}{customer:03d}{campaign:03d}{index:0{width}d}"

    def participant(self, customer: int, campaign: int, index: int) -> WireParticipant:
        h = mix(self.seed, 2, customer, campaign, index)
        status = PARTICIPANT_STATUSES[h % len(PARTICIPANT_STATUSES)]
        return WireParticipant(
            id=1_030_247 + index,
            iccid=self.identifier("iccid", customer, campaign, index),
            status=status,
            attempt=1 + (h >> 8) % 3,
            code="200" if status != "EXCEPTION" else "500",
            message="OK - UPDATE - 3F00/ADF1/6F31 - data: 05 ...",
            timestamp=fmt_time(EPOCH + dt.timedelta(seconds=index * 7 + (h >> 16) % 7)),
        )

    def participants(
        self, customer: int, campaign: int, start: int, stop: int
    ) -> list[WireParticipant]:
        return [self.participant(customer, campaign, i) for i in range(start, stop)]

    def find_subscriber(self, kind: str, value: str) -> Subscriber | None:
        """The subscriber an identifier names, if its customer and campaign
        exist (the caller checks the index against the campaign's size)."""
        prefix, width = _ID_LAYOUT[kind]
        if len(value) != len(prefix) + 6 + width or not value.startswith(prefix):
            return None
        rest = value[len(prefix) :]
        customer, campaign, index = int(rest[:3]), int(rest[3:6]), int(rest[6:])
        if not self.has_campaign(customer, campaign):
            return None
        return Subscriber(customer, campaign, index)

    def label_count(self, sub: Subscriber) -> int:
        # Every 1000th subscriber has 45 labels, so label listings page too.
        if sub.index % 1000 == 999:
            return 45
        return mix(self.seed, 3, sub.customer, sub.campaign, sub.index) % 4

    def labels_unavailable(self, sub: Subscriber) -> bool:
        """Subscribers whose labels always fail with SUBSCRIBER_1029."""
        return sub.index % 1009 == 1008

    def labels(self, sub: Subscriber, start: int, stop: int) -> list[WireLabel]:
        out = []
        for n in range(start, stop):
            h = mix(self.seed, 4, sub.customer, sub.campaign, sub.index, n)
            out.append(
                WireLabel(
                    id=str(uuid.UUID(int=(h << 64) | mix(h, n), version=4)),
                    name=f"label{n + 1}",
                    creation_time=fmt_time(EPOCH + dt.timedelta(minutes=n, seconds=h % 60)),
                )
            )
        return out
