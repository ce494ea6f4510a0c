"""flolive-sdk: a fast, correct asyncio client for floLIVE's IoT connectivity API v2.

Example::

    from flolive import Client

    async with Client(base_url="https://api.example", token="...") as client:
        async for p in client.campaign_participants(customer_id=42, campaign_id=7):
            print(p.iccid, p.status, p.timestamp)

aiohttp is asyncio-only, so the SDK runs on asyncio; there is no trio backend.
"""

from ._auth import TokenProvider
from ._transport import ClientStats
from ._version import __version__
from .client import USE_CLIENT_DEFAULT, Client, ClientState, ListOptions, UseClientDefault
from .errors import (
    APIError,
    AuthenticationError,
    CampaignNotFound,
    ClientNotOpenError,
    CustomerNotFound,
    DeadlineExceeded,
    DecodeError,
    FloliveError,
    HTTPStatusError,
    InvalidCredentials,
    LabelsUnavailable,
    ListChanged,
    ListChangedWarning,
    ListIncomplete,
    PageMismatch,
    RateLimited,
    RedirectRefused,
    RequestContext,
    RequestTimeout,
    ResponseTooLarge,
    ServerError,
    ServiceUnavailable,
    SubscriberNotFound,
    TransportError,
)
from .models import (
    Campaign,
    CampaignStatus,
    Label,
    Page,
    Pageable,
    Participant,
    ParticipantStatus,
    SubscriberIdType,
)
from .pagination import AsyncPager, ItemIterator, OnListChange, OnPage, PageIterator, ResumeToken
from .retry import RetryPolicy

__all__ = [
    "USE_CLIENT_DEFAULT",
    "APIError",
    "AsyncPager",
    "AuthenticationError",
    "Campaign",
    "CampaignNotFound",
    "CampaignStatus",
    "Client",
    "ClientNotOpenError",
    "ClientState",
    "ClientStats",
    "CustomerNotFound",
    "DeadlineExceeded",
    "DecodeError",
    "FloliveError",
    "HTTPStatusError",
    "InvalidCredentials",
    "ItemIterator",
    "Label",
    "LabelsUnavailable",
    "ListChanged",
    "ListChangedWarning",
    "ListIncomplete",
    "ListOptions",
    "OnListChange",
    "OnPage",
    "Page",
    "PageIterator",
    "PageMismatch",
    "Pageable",
    "Participant",
    "ParticipantStatus",
    "RateLimited",
    "RedirectRefused",
    "RequestContext",
    "RequestTimeout",
    "ResponseTooLarge",
    "ResumeToken",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "SubscriberIdType",
    "SubscriberNotFound",
    "TokenProvider",
    "TransportError",
    "UseClientDefault",
    "__version__",
]
