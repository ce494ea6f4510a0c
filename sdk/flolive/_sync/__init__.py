"""The private core of :mod:`flolive.sync`, one job a module:

- ``loop``: the event loop thread of a sync client (an anyio blocking portal)
  and the calls other threads make into it;
- ``listing``: :class:`~flolive.sync.Listing` and
  :class:`~flolive.sync.ListingIterator`, any async listing and its passes read
  from sync code;
- ``client``: :class:`flolive.sync.Client`, the async client's methods written
  out for sync code.
"""
