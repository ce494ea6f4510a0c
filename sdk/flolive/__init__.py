"""flolive-sdk: a fast, correct asyncio client for floLIVE's IoT connectivity API v2.

Example::

    from flolive import Client

    async with Client(base_url="https://api.example", token="...") as client:
        async for p in client.campaign_participants(customer_id=42, campaign_id=7):
            print(p.iccid, p.status, p.timestamp)

aiohttp is asyncio-only, so the SDK runs on asyncio; there is no trio backend.
"""

from ._auth import TokenProvider
from ._base_client import ClientState
from ._logging import configure_from_environment as _configure_logging
from ._options import CursorOptions, ListOptions
from ._transport import ClientStats
from ._types import (
    USE_CLIENT_DEFAULT,
    CursorToken,
    OnListChange,
    OnPage,
    RequestContext,
    Response,
    ResumeToken,
    UseClientDefault,
)
from ._version import __version__
from .client import Client
from .cursor import AsyncCursor, CursorItemIterator, CursorPageIterator
from .errors import (
    APIError,
    AuthenticationError,
    CampaignNotFound,
    CertificateError,
    ClientNotOpenError,
    CursorExpired,
    CursorIncomplete,
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
    ListIncompleteWarning,
    PageMismatch,
    ProxyError,
    RateLimited,
    RedirectRefused,
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
    Chunk,
    ImsiMsisdnPair,
    Label,
    Page,
    Pageable,
    Participant,
    ParticipantStatus,
    Profile,
    Subscriber,
    SubscriberDetails,
    SubscriberIdentifiers,
    SubscriberIdType,
    SubscriberStatus,
)
from .pagination import AsyncPager, ItemIterator, PageIterator
from .retry import RetryPolicy

__all__ = [
    "USE_CLIENT_DEFAULT",
    "APIError",
    "AsyncCursor",
    "AsyncPager",
    "AuthenticationError",
    "Campaign",
    "CampaignNotFound",
    "CampaignStatus",
    "CertificateError",
    "Chunk",
    "Client",
    "ClientNotOpenError",
    "ClientState",
    "ClientStats",
    "CursorExpired",
    "CursorIncomplete",
    "CursorItemIterator",
    "CursorOptions",
    "CursorPageIterator",
    "CursorToken",
    "CustomerNotFound",
    "DeadlineExceeded",
    "DecodeError",
    "FloliveError",
    "HTTPStatusError",
    "ImsiMsisdnPair",
    "InvalidCredentials",
    "ItemIterator",
    "Label",
    "LabelsUnavailable",
    "ListChanged",
    "ListChangedWarning",
    "ListIncomplete",
    "ListIncompleteWarning",
    "ListOptions",
    "OnListChange",
    "OnPage",
    "Page",
    "PageIterator",
    "PageMismatch",
    "Pageable",
    "Participant",
    "ParticipantStatus",
    "Profile",
    "ProxyError",
    "RateLimited",
    "RedirectRefused",
    "RequestContext",
    "RequestTimeout",
    "Response",
    "ResponseTooLarge",
    "ResumeToken",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "Subscriber",
    "SubscriberDetails",
    "SubscriberIdType",
    "SubscriberIdentifiers",
    "SubscriberNotFound",
    "SubscriberStatus",
    "TokenProvider",
    "TransportError",
    "UseClientDefault",
    "__version__",
]

# FLOLIVE_LOG=debug|info|warning: the SDK's log lines on stderr (see flolive._logging).
_configure_logging()
