"""The embedded sandbox: a local server speaking floLIVE API v2 (needs only aiohttp).

Example::

    from flolive import Client
    from flolive.sandbox import Sandbox

    async with Sandbox() as url, Client(base_url=url) as client:
        n = len(await client.campaign_participants(1, 1).collect())   # 988
"""

from .data import DEFAULT_CAMPAIGN_SIZES, DataSet
from .server import Faults, Sandbox, SandboxStats

__all__ = ["DEFAULT_CAMPAIGN_SIZES", "DataSet", "Faults", "Sandbox", "SandboxStats"]
