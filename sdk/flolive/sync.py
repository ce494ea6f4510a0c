"""A synchronous client: :class:`flolive.sync.Client`, for scripts, notebooks and threads.

Example::

    from flolive.sync import Client

    with Client(base_url="https://api.example", token="...") as client:
        for p in client.campaign_participants(customer_id=42, campaign_id=7):
            print(p.iccid, p.status, p.timestamp)

Each client runs one event loop in its own thread (an anyio blocking portal),
where its :class:`flolive.Client` lives. Its methods are the async client's,
with the same arguments, defaults, docstrings, models and exceptions. A listing
comes back as a :class:`Listing` (named :data:`Pager` for a paged listing and
:data:`Cursor` for a point-in-time cursor read); each pass over it is a
:class:`ListingIterator`, which takes one page at a time from the loop thread.
"""

from __future__ import annotations

from typing import TypeVar

from ._sync.client import Client
from ._sync.listing import Cursor, Listing, ListingIterator, Pager
from .models import Chunk, Page

__all__ = [
    "Client",
    "Cursor",
    "CursorItemIterator",
    "CursorPageIterator",
    "ItemIterator",
    "Listing",
    "ListingIterator",
    "PageIterator",
    "Pager",
    "UnitIterator",
]

T = TypeVar("T")

# The names of the iterators before there was one type for all of them.
ItemIterator = ListingIterator[T]
"""A pass over a pager's items: a :class:`ListingIterator`."""
PageIterator = ListingIterator[Page[T]]
"""A pass over a pager's pages: a :class:`ListingIterator`."""
CursorItemIterator = ListingIterator[T]
"""A cursor read, record by record: a :class:`ListingIterator`."""
CursorPageIterator = ListingIterator[Chunk[T]]
"""A cursor read, chunk by chunk: a :class:`ListingIterator`."""
UnitIterator = ListingIterator
"""A pass of Arrow record batches (``arrow()``): a :class:`ListingIterator`."""
