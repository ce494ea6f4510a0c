"""What a listing reads, described without secrets, so another process can read it too:
:class:`ListSource` (an endpoint and settings) and :class:`Part` (a range of its pages).

A :class:`~flolive.Client` hands one :class:`ListSource`, built from plain
values, to every pager it makes. The pager itself only fetches through a
callable; the source is what
:meth:`flolive.AsyncPager.plan` puts into picklable parts for other processes
(Dask workers), and what :meth:`flolive.AsyncPager.arrow` reads the item type
from. It never holds a token, password, token provider, header or session:
workers get their credentials from their own environment or a provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ListSource", "Part"]


@dataclass(frozen=True, slots=True)
class ListSource:
    """A listing's endpoint and non-secret client settings; picklable.

    Attributes:
        base_url: the API root.
        path: the URL path listed.
        item_type: the type of one ``content`` item (pickled by reference, so
            it must be importable where the source is unpickled).
        params: extra query parameters, as ``(name, value)`` pairs.
        settings: :class:`~flolive.Client` keyword arguments that are not
            secrets (``max_concurrency``, ``timeout``, ``retry``, ...), as pairs.
    """

    base_url: str
    path: str
    item_type: type[Any]
    params: tuple[tuple[str, str | int], ...] = ()
    settings: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Part:
    """A range of pages of one listing: what one task reads. Picklable, no secret.

    Attributes:
        source: the endpoint and non-secret client settings.
        index: position of this part in the plan (0, 1, ...).
        first_page: first API page number of the range.
        last_page: last API page number of the range (inclusive).
        page_size: the page size the server used when the plan was made.
        page_base: number of the server's first page (0 or 1).
        total_pages: ``totalPages`` when the plan was made.
        total_elements: ``totalElements`` when the plan was made.
    """

    source: ListSource
    index: int
    first_page: int
    last_page: int
    page_size: int
    page_base: int
    total_pages: int
    total_elements: int

    @property
    def pages(self) -> int:
        """Number of pages in the range."""
        return self.last_page - self.first_page + 1

    @property
    def name(self) -> str:
        """A stable name of the range, e.g. ``"pages-000050-000099"``."""
        return f"pages-{self.first_page:06d}-{self.last_page:06d}"

    @property
    def expected_items(self) -> int:
        """Items the range holds if the list did not change since the plan."""
        start = (self.first_page - self.page_base) * self.page_size
        stop = min(self.total_elements, (self.last_page - self.page_base + 1) * self.page_size)
        return max(0, stop - start)
