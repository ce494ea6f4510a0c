"""Shared test support: servers and page scripts (``servers``), envelope
builders (``envelopes``), the hostile server (``hostile``), the one client
factory (``clients``), event waits (``events``), the README's examples
(``readme``), and the CLI's runners, export helpers, the kill loop and the
signal soak (``cli``, ``export``, ``kill``, ``signals``). Test modules import
from here, never from one another; ``tests/conftest.py`` holds only the
fixtures built on it."""
