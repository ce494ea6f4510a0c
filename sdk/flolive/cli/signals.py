"""SIGINT, SIGTERM and SIGHUP stop the command the same way, at any moment.

The first signal decides the exit code (128 + its number); every later one
is noted and ignored, so any number of signals ends the run once, promptly,
with one line. Three phases:

- **start-up** (arguments, reading identifiers, a password prompt): the
  first signal raises :class:`Stopped` where the program is, which the entry
  point turns into the line;
- **the event loop**: handlers installed with ``loop.add_signal_handler``
  cancel the command's task, so an export stops fetching (cancelling what is
  in flight), writes and checkpoints what it read, and unwinds; no
  ``KeyboardInterrupt`` is ever raised inside the loop, so its shutdown never
  waits on work a second interrupt left half-cancelled;
- **the end** (after the loop): signals are only noted.

``asyncio.run`` would turn a first SIGINT into a cancellation and a second
into ``KeyboardInterrupt`` wherever the loop is; this module replaces that.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio

__all__ = ["WATCHED", "Signals", "Stopped"]

T = TypeVar("T")

#: The signals that stop the command.
WATCHED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(BaseException):
    """The command was stopped by a signal during start-up.

    A ``BaseException``, like ``KeyboardInterrupt``: no ``except Exception``
    on the way up swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Signals:
    """The first stopping signal the process received (:attr:`first`), and the
    handlers of each phase (see the module's doc)."""

    def __init__(self) -> None:
        #: The first signal received, or ``None``.
        self.first: int | None = None
        self._raising = True
        self._task: asyncio.Task[object] | None = None
        self._previous: dict[int, Any] = {}

    @property
    def name(self) -> str:
        """The first signal's name (``"SIGTERM"``)."""
        assert self.first is not None
        return signal.Signals(self.first).name

    def install(self) -> None:
        """Start-up: the first signal raises :class:`Stopped`."""
        for sig in WATCHED:
            previous = signal.signal(sig, self._handle)
            self._previous.setdefault(sig, previous)

    def done(self) -> None:
        """The command ends: after a signal, block the others (the process is
        stopping; the interpreter's shutdown would give them their default,
        fatal, action); else put the handlers back as they were (for a
        caller that runs :func:`flolive.cli.main` in its own process)."""
        if self.first is not None:
            signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
            return
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.first is None
        if first:
            self.first = signum
        if first and self._raising:
            raise Stopped(signum)

    def _on_loop_signal(self, signum: int) -> None:
        if self.first is None:
            self.first = signum
            if self._task is not None:
                self._task.cancel()

    def run(self, main: Callable[[], Awaitable[T]]) -> T:
        """Run ``main()`` on a new event loop whose signals cancel it.

        Raises:
            Stopped: a signal arrived (before or while ``main`` ran) and
                cancelled it; the loop is closed.
        """
        import asyncio  # here, not at the top: the handlers come first

        self._raising = False  # from here on, signals are noted, never raised
        if self.first is not None:
            raise Stopped(self.first)

        async def guarded() -> T:
            loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            for sig in WATCHED:
                loop.add_signal_handler(sig, self._on_loop_signal, sig)
            if self.first is not None:  # between run() and the handlers
                raise Stopped(self.first)
            return await main()

        runner = asyncio.Runner()
        try:
            return runner.run(guarded())
        except asyncio.CancelledError:
            if self.first is None:
                raise
            raise Stopped(self.first) from None
        finally:
            # Closing the loop puts the default handlers back: block the
            # signals meanwhile, so one arriving then is noted by ours.
            signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
            try:
                runner.close()
                self.install()
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED)
