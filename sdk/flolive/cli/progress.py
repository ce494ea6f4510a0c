"""What the ``flolive`` command shows on stderr: its lines, the ``flolive``
logger's records (``-v``) and the progress display."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..export import NoProgress, Progress

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["RichProgress", "make_progress", "screen", "verbose", "warn"]


class _Screen:
    """Where the command's stderr lines go. While a progress bar runs, they
    are printed through its console, above the bar (never inside it); else
    straight to stderr."""

    def __init__(self) -> None:
        self.console: Console | None = None

    def line(self, text: str) -> None:
        """Print one line (or a few) on stderr."""
        if self.console is not None:
            self.console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)
        else:
            print(text, file=sys.stderr, flush=True)


screen = _Screen()


class _ScreenHandler(logging.Handler):
    """The ``flolive`` logger's records as ``flolive: debug: ...`` lines."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.name}: {record.levelname.lower()}: {record.getMessage()}"
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            screen.line(text)
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def verbose(enabled: bool) -> Iterator[None]:
    """With ``enabled``, the ``flolive`` loggers' records at INFO and up go to
    stderr: retries and throttling (with the answer's request id), re-logins,
    concurrency and rate changes. ``FLOLIVE_LOG=debug`` adds a line per request."""
    if not enabled:
        yield
        return
    logger = logging.getLogger("flolive")
    handler = _ScreenHandler()
    level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _clock(seconds: float | None) -> str:
    return "-:--:--" if seconds is None else str(dt.timedelta(seconds=int(seconds)))


class RichProgress:
    """A live progress display on stderr that fits 80 columns::

        participants ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━  45% 445,000/988,000 items
          445/988 pages · 12,345 items/s · elapsed 0:00:36 · left 0:00:44

    The bar counts items when the server said how many there are, else pages
    (label exports: identifiers, whose number is known from the start). After
    a resume the bar starts at what earlier runs wrote, and a third line says
    what this run added; the rate and the time left count this run only.
    Lines printed through the command's screen while it runs appear above it.

    Args:
        label: what is exported (``"participants"``).
        unit: what a page is called (``"pages"``, ``"identifiers"``).
        console: the :class:`rich.console.Console` to draw on (default: a new
            one on stderr).
    """

    def __init__(self, label: str, unit: str = "pages", console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, TaskProgressColumn, TextColumn
        from rich.progress import Progress as Bar

        self._label = label
        self._unit = unit
        self._task: Any = None
        self._by_items = True
        self._total: int | None = None
        self._total_pages: int | None = None
        self._prior_items = 0
        self._prior_pages = 0
        self._run_items = 0
        self._run_pages = 0
        owner = self

        class _Display(Bar):
            def get_renderables(self) -> Iterable[RenderableType]:
                yield self.make_tasks_table(self.tasks)
                yield from owner._details()

        self._console = console or Console(stderr=True)
        self._progress = _Display(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=None),
            TaskProgressColumn(),
            TextColumn("{task.fields[count]}"),
            console=self._console,
            transient=False,
            expand=True,
            # Exported rows may go to stdout (-o -): never through the display.
            redirect_stdout=False,
        )

    def _count(self) -> str:
        if self._by_items:
            done, total, what = self._prior_items + self._run_items, self._total, "items"
        else:
            done, total, what = self._prior_pages + self._run_pages, self._total_pages, self._unit
        return f"{done:,}/{total:,} {what}" if total is not None else f"{done:,} {what}"

    def _details(self) -> Iterator[RenderableType]:
        from rich.text import Text

        if self._task is None:
            return
        task = self._progress.tasks[0]
        pages = self._prior_pages + self._run_pages
        if not self._by_items:
            parts = [f"{self._prior_items + self._run_items:,} items"]
            per = self._unit
        elif self._total_pages is not None:
            parts = [f"{pages:,}/{self._total_pages:,} {self._unit}"]
            per = "items"
        else:
            parts = [f"{pages:,} {self._unit}"]
            per = "items"
        speed = task.finished_speed or task.speed
        parts.append(f"{speed:,.0f} {per}/s" if speed else f"-- {per}/s")
        parts.append(f"elapsed {_clock(task.elapsed)}")
        if task.total is not None:
            parts.append(f"left {_clock(0 if task.finished else task.time_remaining)}")
        lines = ["  " + " · ".join(parts)]
        if self._prior_pages:
            lines.append(f"  this run: {self._run_items:,} items, {self._run_pages:,} {self._unit}")
        for line in lines:
            yield Text(line, no_wrap=True, overflow="ellipsis")

    def start(
        self, total: int | None, *, total_pages: int | None = None, items: int = 0, pages: int = 0
    ) -> None:
        """Show the display (see :class:`~flolive.export.Progress`)."""
        if self._task is not None:
            return
        self._total, self._total_pages = total, total_pages
        self._prior_items, self._prior_pages = items, pages
        self._by_items = total is not None or total_pages is None
        # Earlier runs' work enters as the starting point, not as an advance,
        # so the rate and the time left measure this run alone.
        self._task = self._progress.add_task(
            f"{self._label} (resumed)" if pages else self._label,
            total=total if self._by_items else total_pages,
            completed=items if self._by_items else pages,
            count=self._count(),
        )
        self._progress.start()
        screen.console = self._console

    def advance(self, items: int, pages: int) -> None:
        """Count ``items`` and ``pages`` (or identifiers) more."""
        self._run_items += items
        self._run_pages += pages
        self._progress.update(
            self._task, advance=items if self._by_items else pages, count=self._count()
        )

    def stop(self) -> None:
        """Draw the display a last time and leave it on the screen."""
        screen.console = None
        if self._task is not None:
            self._progress.stop()


def make_progress(args: argparse.Namespace, label: str, unit: str) -> Progress:
    """The progress display of an export: a bar on a terminal, else none."""
    if args.quiet or not sys.stderr.isatty():
        return NoProgress()
    try:
        return RichProgress(label, unit)
    except ImportError:
        screen.line("flolive: hint: pip install 'flolive-sdk[cli]' for a progress bar")
        return NoProgress()


def warn(message: str) -> None:
    """Print ``flolive: warning: message``."""
    screen.line(f"flolive: warning: {message}")
