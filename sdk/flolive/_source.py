"""What a listing reads, described without secrets, so another process can read it too.

A :class:`~flolive.Client` hands one :class:`ListSource` to every pager it
makes. The pager itself only fetches through a callable; the source is what
:meth:`flolive.AsyncPager.plan` puts into picklable parts for other processes
(Dask workers), and what :meth:`flolive.AsyncPager.arrow` reads the item type
from. It never holds a token, password, token provider, header or session:
workers get their credentials from their own environment or a provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = ["ListSource"]


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

    @classmethod
    def of(
        cls,
        client: Client,
        path: str,
        item_type: type[Any],
        params: Mapping[str, str | int],
        page_base: int,
        options: Mapping[str, Any],
    ) -> ListSource:
        """The source of ``client.paginate(path, item_type, params=..., **options)``."""
        ssl = client._ssl  # an SSLContext cannot be pickled; workers verify with their CAs
        settings: dict[str, Any] = {
            "max_concurrency": client.max_concurrency,
            "adaptive_concurrency": client.adaptive_concurrency,
            "page_base": page_base,
            "speculate": options.get("speculate", client.speculate),
            "timeout": options.get("timeout", client.timeout),
            "retry": options.get("retry", client.retry),
            "max_response_size": options.get("max_response_size", client.max_response_size),
            "user_agent": client._headers["User-Agent"],
            "trust_env": client._trust_env,
            "ssl": ssl if isinstance(ssl, bool) else True,
        }
        return cls(
            base_url=client.base_url,
            path=path,
            item_type=item_type,
            params=tuple(params.items()),
            settings=tuple(settings.items()),
        )
