"""Shared test support: servers and page scripts (``servers``), envelope
builders (``envelopes``), the hostile server (``hostile``), the one client
factory (``clients``), event waits (``events``) and the README's examples
(``readme``). Test modules import from here, never from one another;
``tests/conftest.py`` holds only the fixtures built on it."""
