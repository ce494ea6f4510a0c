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

SUBSCRIBER_STATUSES = ("ACTIVE", "SUSPEND", "INACTIVE", "TERMINATED")
#: SIMs per customer id; customers not named here have DEFAULT_SUBSCRIBERS.
#: Customer 1 is past the vendor's 10,000 where the cursor is recommended.
DEFAULT_SUBSCRIBER_COUNTS: Mapping[int, int] = {1: 25_000, 2: 2_500, 3: 0}
DEFAULT_SUBSCRIBERS = 100
#: The campaign slot of identifiers that stands for a customer's own SIMs
#: (campaign ids start at 1).
INVENTORY = 0
#: Every EID_EVERY-th SIM of a customer is an eSIM whose EID holds it and up
#: to two SIMs after it as profiles.
EID_EVERY = 5
_EID_PREFIX = "89049032"
_NETWORKS = (
    ("Israel", "IL", "425", "01", "Partner", "ISRPA"),
    ("Germany", "DE", "262", "01", "Telekom", "DEUD1"),
    ("United Kingdom", "GB", "234", "15", "Vodafone", "GBRVF"),
    ("United States", "US", "310", "410", "AT&T", "USACG"),
)
_RAT_TYPES = ((1, "3G", "1", "UTRAN"), (2, "2G", "2", "GERAN"), (6, "4G", "6", "E-UTRAN"))


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


def fmt_time_ms(t: dt.datetime) -> str:
    """The form with milliseconds some endpoints send: ``2022-02-11 14:21:53.120``."""
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def _uuid(h: int) -> str:
    """A version-4 UUID string from a hash; what ``str(uuid.UUID(int=...,
    version=4))`` gives, without building the object (a hot path)."""
    x = f"{((h << 64) | mix(h, 1)) & _UUID_CLEAR | _UUID_SET:032x}"
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


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


class WirePair(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    imsi: str
    msisdn: str | None = None
    is_last_active: bool


class WireSubscriber(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    subscriber_id: str
    imsi_msisdn_pairs: list[WirePair]
    iccid: str
    status: str
    imei: str | None = None
    imeisv: str | None = None
    customer_id: str
    customer_name: str


class WireIdentifiers(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    subscriber_id: str
    imsi_msisdn_pairs: list[WirePair]
    iccid: str
    imei: str | None = None
    imeisv: str | None = None


class WireDetails(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    subscriber_identifiers: WireIdentifiers
    customer_id: str
    customer_name: str
    subs_status: str
    tags: str | None = None
    system_labels: str | None = None
    user_labels: str | None = None
    alias: str | None = None
    last_known_location: dict[str, object] | None = None
    last_connected_network: dict[str, object] | None = None
    last_rat_type: int | None = None
    last_rat_type_label: str | None = None
    last_data_rat_type: str | None = None
    last_data_rat_type_label: str | None = None
    # The vendor says plans and offers follow, without naming them: a field
    # the SDK does not know, so clients prove they ignore it.
    plans: list[dict[str, object]] | None = None


class WireProfile(msgspec.Struct, rename="camel"):
    id: str
    name: str
    is_active: bool
    subscriber_identifiers: WireIdentifiers


def _status(h: int) -> str:
    draw = (h >> 8) % 10
    return SUBSCRIBER_STATUSES[0 if draw < 7 else draw - 6]


def _owner(h: int) -> int:
    """0 for the customer itself, else the sub-customer (1 or 2) owning the SIM."""
    return 0 if (h >> 20) % 8 else 1 + (h >> 24) % 2


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


def _has_imei(sub: Subscriber, h: int) -> bool:
    # Campaign participants always have one (their labels are found by it).
    return sub.campaign != INVENTORY or (h >> 16) % 5 != 0


@dataclass
class DataSet:
    """All sandbox records, derived from ``seed``.

    Customers ``1..customers`` exist; each has the campaigns of
    ``campaign_sizes`` (id -> participants) and the SIMs of
    ``subscriber_counts`` (customer id -> SIMs; :data:`DEFAULT_SUBSCRIBERS`
    for customers not named). Campaign participants are subscribers too: each
    has details and labels under its own identifiers.
    """

    seed: int = 0
    customers: int = 9
    campaign_sizes: Mapping[int, int] = field(default_factory=lambda: dict(DEFAULT_CAMPAIGN_SIZES))
    subscriber_counts: Mapping[int, int] = field(
        default_factory=lambda: dict(DEFAULT_SUBSCRIBER_COUNTS)
    )
    _customer_uuids: dict[tuple[int, int], str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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
        if campaign == INVENTORY:
            # One of the customer's own SIMs (the caller checks the index
            # against subscriber_count).
            return Subscriber(customer, campaign, index) if self.has_customer(customer) else None
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

    # -- subscribers (SIMs) -------------------------------------------------

    def subscriber_count(self, customer: int) -> int:
        """SIMs of a customer (0 for a customer that does not exist)."""
        if not self.has_customer(customer):
            return 0
        return self.subscriber_counts.get(customer, DEFAULT_SUBSCRIBERS)

    def sim(self, customer: int, index: int) -> Subscriber:
        """The customer's SIM number ``index`` (0-based, in list order)."""
        return Subscriber(customer, INVENTORY, index)

    def _h(self, sub: Subscriber) -> int:
        return mix(self.seed, 10, sub.customer, sub.campaign, sub.index)

    def customer_uuid(self, customer: int, sub_customer: int = 0) -> str:
        """The UUID of a customer (``sub_customer`` 0) or of one of its sub-customers."""
        key = (customer, sub_customer)
        found = self._customer_uuids.get(key)
        if found is None:
            found = self._customer_uuids[key] = _uuid(mix(self.seed, 11, customer, sub_customer))
        return found

    def customer_name(self, customer: int, sub_customer: int = 0) -> str:
        """The name of a customer (``sub_customer`` 0) or of one of its sub-customers."""
        if sub_customer:
            return f"Sandbox customer {customer} / sub {sub_customer}"
        return f"Sandbox customer {customer}"

    def has_imei(self, sub: Subscriber) -> bool:
        """Whether the subscriber has a device IMEI (1 SIM in 5 has none)."""
        return _has_imei(sub, self._h(sub))

    def status(self, sub: Subscriber) -> str:
        """The subscriber's status (7 in 10 are ``ACTIVE``)."""
        return _status(self._h(sub))

    def _identifiers(self, sub: Subscriber, h: int) -> WireIdentifiers:
        # One hash per subscriber, its bits read for every choice: the sandbox
        # generates 25,000 of these per cursor read.
        tail = f"{sub.customer:03d}{sub.campaign:03d}{sub.index:07d}"
        active = _status(h) == "ACTIVE"
        pairs = [WirePair(imsi=f"90{tail}", msisdn=f"1{tail}", is_last_active=active)]
        if (h >> 12) % 4 == 0:
            # A second IMSI without a number (multi-IMSI SIM); sometimes the active one.
            second_active = active and bool((h >> 14) & 1)
            pairs[0].is_last_active = active and not second_active
            pairs.append(WirePair(imsi=f"91{tail}", is_last_active=second_active))
        imei = f"35{tail}" if _has_imei(sub, h) else None
        imeisv = imei[:14] + f"{h % 100:02d}" if imei and (h >> 18) & 1 else None
        return WireIdentifiers(
            subscriber_id=_uuid(h),
            imsi_msisdn_pairs=pairs,
            iccid=f"893577{tail}",
            imei=imei,
            imeisv=imeisv,
        )

    def subscriber(self, sub: Subscriber) -> WireSubscriber:
        """One SIM as the subscriber listings send it."""
        h = self._h(sub)
        ids = self._identifiers(sub, h)
        owner = _owner(h)
        return WireSubscriber(
            subscriber_id=ids.subscriber_id,
            imsi_msisdn_pairs=ids.imsi_msisdn_pairs,
            iccid=ids.iccid,
            status=_status(h),
            imei=ids.imei,
            imeisv=ids.imeisv,
            customer_id=self.customer_uuid(sub.customer, owner),
            customer_name=self.customer_name(sub.customer, owner),
        )

    def subscribers(self, customer: int, start: int, stop: int) -> list[WireSubscriber]:
        """The customer's SIMs ``start`` to ``stop`` (exclusive), in list order."""
        return [self.subscriber(self.sim(customer, i)) for i in range(start, stop)]

    def details(self, sub: Subscriber) -> WireDetails:
        """One SIM in detail (Get Subscriber Details, and the detailed cursor)."""
        h = self._h(sub)
        status = _status(h)
        owner = _owner(h)
        country, iso, mcc, mnc, network, tadig = _NETWORKS[(h >> 28) % len(_NETWORKS)]
        rat, rat_label, data_rat, data_rat_label = _RAT_TYPES[(h >> 32) % len(_RAT_TYPES)]
        seen = status in ("ACTIVE", "SUSPEND")
        when = EPOCH + dt.timedelta(seconds=sub.index * 11, milliseconds=(h >> 36) % 1000)
        labels = self.label_count(sub)
        return WireDetails(
            subscriber_identifiers=self._identifiers(sub, h),
            customer_id=self.customer_uuid(sub.customer, owner),
            customer_name=self.customer_name(sub.customer, owner),
            subs_status=status,
            tags="fleet,eu" if (h >> 40) % 3 == 0 else None,
            system_labels="PROVISIONED" if seen else None,
            user_labels=",".join(f"label{n + 1}" for n in range(labels)) or None,
            alias=f"sim-{sub.customer}-{sub.campaign}-{sub.index}" if (h >> 42) & 1 else None,
            last_known_location=(
                {
                    "country": country,
                    "countryIso": iso,
                    "mcc": mcc,
                    "mnc": mnc,
                    "lastUpdate": fmt_time_ms(when),
                }
                if seen
                else None
            ),
            last_connected_network=(
                {"networkName": network, "mcc": mcc, "mnc": mnc, "tadig": tadig} if seen else None
            ),
            last_rat_type=rat if seen else None,
            last_rat_type_label=rat_label if seen else None,
            last_data_rat_type=data_rat if seen else None,
            last_data_rat_type_label=data_rat_label if seen else None,
            plans=[{"planId": 100 + h % 7, "name": "IoT 1 GB", "start": fmt_time_ms(when)}],
        )

    def all_details(self, customer: int, start: int, stop: int) -> list[WireDetails]:
        """Details of the customer's SIMs ``start`` to ``stop`` (exclusive)."""
        return [self.details(self.sim(customer, i)) for i in range(start, stop)]

    # -- eSIM profiles ---------------------------------------------------------

    def eid(self, customer: int, index: int) -> str:
        """The EID of the customer's SIM ``index`` (an eSIM when ``index`` is a
        multiple of :data:`EID_EVERY`): 32 digits."""
        return f"{_EID_PREFIX}{customer:03d}{index:021d}"

    def find_eid(self, value: str) -> Subscriber | None:
        """The first SIM of the eSIM an EID names, if it exists."""
        if len(value) != 32 or not value.startswith(_EID_PREFIX) or not value.isdigit():
            return None
        customer, index = int(value[8:11]), int(value[11:])
        if index % EID_EVERY or index >= self.subscriber_count(customer):
            return None
        return self.sim(customer, index)

    def profile_count(self, first: Subscriber) -> int:
        """Profiles on an eSIM: 1 to 3, never past the customer's last SIM."""
        left = self.subscriber_count(first.customer) - first.index
        return min(1 + mix(self.seed, 12, first.customer, first.index) % 3, left)

    def profiles(self, first: Subscriber, start: int, stop: int) -> list[WireProfile]:
        """Profiles ``start`` to ``stop`` of the eSIM whose first SIM is ``first``;
        exactly one of them is active."""
        n = self.profile_count(first)
        active = mix(self.seed, 13, first.customer, first.index) % n
        sims = [self.sim(first.customer, first.index + m) for m in range(n)]
        return [
            WireProfile(
                id=_uuid(mix(self.seed, 14, first.customer, first.index, m)),
                name=f"profile-{m + 1}",
                is_active=m == active,
                subscriber_identifiers=self._identifiers(sim, self._h(sim)),
            )
            for m, sim in enumerate(sims)
            if start <= m < stop
        ]
