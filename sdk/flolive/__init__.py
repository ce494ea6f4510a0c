"""flolive-sdk: a fast, correct asyncio client for floLIVE's IoT connectivity API v2.

Example::

    from flolive import Client

    async with Client(base_url="https://api.example", token="...") as client:
        async for p in client.campaign_participants(customer_id=42, campaign_id=7):
            print(p.iccid, p.status, p.timestamp)

aiohttp is asyncio-only, so the SDK runs on asyncio; there is no trio backend.
"""

# Names load on first use (PEP 562): `import flolive` costs almost nothing, so
# the `flolive` command installs its signal handlers before aiohttp loads, and
# a program that needs only the models or the sandbox pays for no more.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._logging import configure_from_environment as _configure_logging
from ._version import __version__

if TYPE_CHECKING:
    from ._auth import (
        TokenProvider,
    )
    from ._base_client import (
        ClientState,
    )
    from ._options import (
        CursorOptions,
        ListOptions,
    )
    from ._transport import (
        ClientStats,
    )
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
    from .client import (
        Client,
    )
    from .cursor import (
        AsyncCursor,
        CursorItemIterator,
        CursorPageIterator,
    )
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
    from .pagination import (
        AsyncPager,
        ItemIterator,
        PageIterator,
    )
    from .retry import (
        RetryPolicy,
    )

#: Where each public name lives: the one list the lazy loader reads.
_LOCATIONS: dict[str, str] = {
    "TokenProvider": "._auth",
    "ClientState": "._base_client",
    "CursorOptions": "._options",
    "ListOptions": "._options",
    "ClientStats": "._transport",
    "USE_CLIENT_DEFAULT": "._types",
    "CursorToken": "._types",
    "OnListChange": "._types",
    "OnPage": "._types",
    "RequestContext": "._types",
    "Response": "._types",
    "ResumeToken": "._types",
    "UseClientDefault": "._types",
    "Client": ".client",
    "AsyncCursor": ".cursor",
    "CursorItemIterator": ".cursor",
    "CursorPageIterator": ".cursor",
    "APIError": ".errors",
    "AuthenticationError": ".errors",
    "CampaignNotFound": ".errors",
    "CertificateError": ".errors",
    "ClientNotOpenError": ".errors",
    "CursorExpired": ".errors",
    "CursorIncomplete": ".errors",
    "CustomerNotFound": ".errors",
    "DeadlineExceeded": ".errors",
    "DecodeError": ".errors",
    "FloliveError": ".errors",
    "HTTPStatusError": ".errors",
    "InvalidCredentials": ".errors",
    "LabelsUnavailable": ".errors",
    "ListChanged": ".errors",
    "ListChangedWarning": ".errors",
    "ListIncomplete": ".errors",
    "ListIncompleteWarning": ".errors",
    "PageMismatch": ".errors",
    "ProxyError": ".errors",
    "RateLimited": ".errors",
    "RedirectRefused": ".errors",
    "RequestTimeout": ".errors",
    "ResponseTooLarge": ".errors",
    "ServerError": ".errors",
    "ServiceUnavailable": ".errors",
    "SubscriberNotFound": ".errors",
    "TransportError": ".errors",
    "Campaign": ".models",
    "CampaignStatus": ".models",
    "Chunk": ".models",
    "ImsiMsisdnPair": ".models",
    "Label": ".models",
    "Page": ".models",
    "Pageable": ".models",
    "Participant": ".models",
    "ParticipantStatus": ".models",
    "Profile": ".models",
    "Subscriber": ".models",
    "SubscriberDetails": ".models",
    "SubscriberIdentifiers": ".models",
    "SubscriberIdType": ".models",
    "SubscriberStatus": ".models",
    "AsyncPager": ".pagination",
    "ItemIterator": ".pagination",
    "PageIterator": ".pagination",
    "RetryPolicy": ".retry",
}

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


def __getattr__(name: str) -> Any:
    location = _LOCATIONS.get(name)
    if location is None:
        raise AttributeError(f"module 'flolive' has no attribute {name!r}")
    value = getattr(importlib.import_module(location, __name__), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


# FLOLIVE_LOG=debug|info|warning: the SDK's log lines on stderr (see flolive._logging).
_configure_logging()
