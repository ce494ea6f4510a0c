"""The ``flolive`` command: bulk exports, campaign listing, and the sandbox server.

Exit codes are :class:`ExitCode` (the one definition; ``flolive --help`` and the
README's table come from it). Expected errors print one line, no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import enum
import getpass
import logging
import math
import os
import sys
import textwrap
import warnings
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import msgspec

from . import ClientStats, __version__
from .client import LOGIN_PATH, Client
from .errors import (
    APIError,
    AuthenticationError,
    CampaignNotFound,
    CursorExpired,
    CustomerNotFound,
    FloliveError,
    InvalidCredentials,
    ListChangedWarning,
    ListIncompleteWarning,
    SubscriberNotFound,
    TransportError,
    cursor_incomplete_message,
    incomplete_message,
)
from .export import (
    FORMATS,
    ExportError,
    ExportResult,
    NoProgress,
    NothingToResume,
    OutputError,
    Progress,
    export_all_subscribers,
    export_labels,
    export_participants,
    export_subscribers,
    format_for,
    read_values,
)
from .models import SubscriberIdType
from .sandbox.faults import FAULT_DESCRIPTIONS, FAULT_KINDS

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


class ExitCode(enum.IntEnum):
    """Exit codes of the ``flolive`` command; :data:`EXIT_MEANINGS` says what each means."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTH = 4
    UNREACHABLE = 5
    API = 6
    PARTIAL = 7
    INCOMPLETE = 8
    FILE = 9
    CURSOR_EXPIRED = 10
    INTERRUPTED = 130


#: What each exit code means: the source of ``--help``'s epilog and of the README table.
EXIT_MEANINGS: Mapping[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.UNEXPECTED: "unexpected error: a bug (a traceback is printed; please report it)",
    ExitCode.USAGE: (
        "bad arguments, or an output refused by the rules (it exists without --resume "
        "or --overwrite, or its checkpoint belongs to another export)"
    ),
    ExitCode.NOT_FOUND: "unknown customer, campaign or subscriber",
    ExitCode.AUTH: "authentication failed, or credentials that cannot be sent",
    ExitCode.UNREACHABLE: "server unreachable, connection failed or timed out",
    ExitCode.API: "other API or HTTP error",
    ExitCode.PARTIAL: "export finished, but some identifiers failed",
    ExitCode.INCOMPLETE: (
        "export finished with fewer items than the server's totalElements (a --cursor "
        "export: totalRecordAmount); takes precedence over 7"
    ),
    ExitCode.FILE: (
        "a file cannot be read or written: the output, its checkpoint, or --values-from "
        "(missing directory, no permission, a directory, a full disk, ...)"
    ),
    ExitCode.CURSOR_EXPIRED: (
        "a --cursor export cannot go on: the server's point-in-time session expired (it "
        "lives --keep-alive minutes after the last call); the files stay as they were; "
        "run the export again with --overwrite"
    ),
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}

#: The line a --cursor export prints when its session is gone (exit code 10).
CURSOR_EXPIRED_MESSAGE = (
    "the server's point-in-time session expired; the export must start over: "
    "run it again with --overwrite"
)


class CliError(Exception):
    """An expected failure of the command: one line on stderr, then ``code``."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


# -- arguments ---------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other expected error (argparse prints the usage too).
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _bounded(
    convert: type[int] | type[float],
    low: float,
    high: float | None = None,
    *,
    above: bool = False,
) -> Any:
    """An argparse type: a finite number of ``convert``'s kind, ``>= low``
    (``> low`` if ``above``) and ``<= high``."""

    def parse(text: str) -> int | float:
        try:
            value = convert(text)
        except ValueError:
            kind = "an integer" if convert is int else "a number"
            raise argparse.ArgumentTypeError(f"not {kind}: {text!r}") from None
        if (
            not math.isfinite(value)
            or value < low
            or (above and value == low)
            or (high is not None and value > high)
        ):
            if high is not None:
                bound = f"between {low} and {high}"
            else:
                bound = f"{'>' if above else '>='} {low}"
            kind = "" if convert is int else "a finite number "
            raise argparse.ArgumentTypeError(f"must be {kind}{bound}: {text}")
        return value

    return parse


_positive = _bounded(int, 1)
_nonneg_int = _bounded(int, 0)
_rate = _bounded(float, 0, 1)
_seconds = _bounded(float, 0, above=True)
_nonneg_seconds = _bounded(float, 0)
_port = _bounded(int, 0, 65535)
_chunk_size = _bounded(int, 1, 10_000)
_keep_alive = _bounded(int, 1, 30)


def _customer_count(text: str) -> tuple[int, int]:
    """An argparse type: ``CUSTOMER=COUNT``, both integers >= 0."""
    customer, sep, count = text.partition("=")
    try:
        pair = (int(customer), int(count))
    except ValueError:
        pair = (-1, -1)
    if not sep or min(pair) < 0:
        raise argparse.ArgumentTypeError(f"must be CUSTOMER=COUNT, integers >= 0: {text!r}")
    return pair


def _connection_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "connection",
        "Defaults come from FLOLIVE_BASE_URL, FLOLIVE_TOKEN, FLOLIVE_USERNAME and "
        "FLOLIVE_PASSWORD. The password is read only from FLOLIVE_PASSWORD or a prompt.",
    )
    g.add_argument("--base-url", help="API root URL (default: $FLOLIVE_BASE_URL)")
    g.add_argument("--username", help="login name (default: $FLOLIVE_USERNAME)")
    g.add_argument(
        "--sandbox",
        action="store_true",
        help="run an embedded sandbox API in this process and use it",
    )
    g.add_argument("--concurrency", type=_positive, default=8, help="requests in flight (8)")
    g.add_argument(
        "--adaptive",
        action="store_true",
        help="lower the concurrency while the server pushes back, then grow it back",
    )
    g.add_argument("--page-size", type=_positive, help="items per page asked for (100)")
    g.add_argument("--page-base", type=int, choices=(0, 1), help="server's first page number (0)")
    g.add_argument(
        "--timeout", type=_seconds, default=30.0, help="seconds per request, finite, > 0 (30)"
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log retries, re-logins and throttling (the flolive logger) on stderr",
    )


def _output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="output file, or - for stdout")
    p.add_argument(
        "--format",
        choices=list(FORMATS),
        help="output format (default: from the file extension, else jsonl)",
    )
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue an interrupted export")
    again.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument(
        "--checkpoint-interval",
        type=_nonneg_seconds,
        default=0.5,
        metavar="SECONDS",
        help="least seconds between checkpoints of a resumable output (0.5; 0: every page)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")


_SUBSCRIBERS_DESCRIPTION = """\
Export a customer's SIMs (and its direct sub-customers').

By default the paged list is read, fanned out like participants. --cursor
reads the point-in-time cursor instead, one chunk after another, which the
vendor recommends beyond 10,000 SIMs; --details (with --cursor) exports every
SIM in detail. Both resume after a kill like every export, but a --cursor
export resumes only while the server's session lives (--keep-alive minutes
after the last call): past that, --resume exits 10, leaving the files as they
were, and the export must start over with --overwrite."""


def _epilog() -> str:
    lines = [
        textwrap.fill(
            meaning, width=79, initial_indent=f"  {int(code):>3}  ", subsequent_indent=" " * 7
        )
        for code, meaning in EXIT_MEANINGS.items()
    ]
    return "exit codes:\n" + "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``flolive`` command."""
    parser = _Parser(
        prog="flolive",
        description="Bulk exports from floLIVE's IoT connectivity API v2.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"flolive-sdk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    export = sub.add_parser("export", help="export a list to a file")
    what = export.add_subparsers(dest="what", required=True)
    documented: dict[str, Any] = {
        "epilog": _epilog(),
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
    part = what.add_parser("participants", help="participants of a campaign", **documented)
    part.add_argument("--customer", type=_nonneg_int, required=True, help="customer id")
    part.add_argument("--campaign", type=_nonneg_int, required=True, help="campaign id")
    _output_args(part)
    _connection_args(part)

    labels = what.add_parser("labels", help="labels of one or many subscribers", **documented)
    labels.add_argument(
        "--type", required=True, choices=[t.value for t in SubscriberIdType], dest="id_type"
    )
    src = labels.add_mutually_exclusive_group(required=True)
    src.add_argument("--value", help="one subscriber identifier (unknown: exit code 3)")
    src.add_argument("--values-from", metavar="FILE", help="identifiers, one a line (- for stdin)")
    _output_args(labels)
    _connection_args(labels)

    subs = what.add_parser(
        "subscribers",
        help="a customer's SIMs: the paged list, or --cursor",
        description=_SUBSCRIBERS_DESCRIPTION,
        **documented,
    )
    subs.add_argument("--customer", type=_nonneg_int, required=True, help="customer id")
    cursor = subs.add_argument_group(
        "point-in-time cursor",
        # Pre-wrapped: the raw formatter keeps the description's lines as they are.
        "A --cursor export resumes only while the server's session lives: --keep-alive\n"
        "minutes after the last call of the interrupted run. Past that, --resume exits\n"
        "10 and the export must start over with --overwrite.",
    )
    cursor.add_argument(
        "--cursor",
        action="store_true",
        help="read through the point-in-time cursor (the vendor's way beyond 10,000 SIMs)",
    )
    cursor.add_argument(
        "--details", action="store_true", help="every SIM in detail (needs --cursor)"
    )
    cursor.add_argument(
        "--chunk-size",
        type=_chunk_size,
        metavar="N",
        help="records per call, 1 to 10000 (1000; a resume reuses the first run's)",
    )
    cursor.add_argument(
        "--keep-alive",
        type=_keep_alive,
        metavar="MINUTES",
        help="minutes the server keeps the session after each call, 1 to 30 (5)",
    )
    _output_args(subs)
    _connection_args(subs)

    camps = sub.add_parser("campaigns", help="list a customer's campaigns")
    camps.add_argument("--customer", type=_nonneg_int, required=True, help="customer id")
    camps.add_argument(
        "--format", choices=("table", "jsonl"), help="default: table on a terminal, else jsonl"
    )
    _connection_args(camps)

    sbx = sub.add_parser("sandbox", help="serve the sandbox API until interrupted")
    sbx.add_argument("--host", default="127.0.0.1")
    sbx.add_argument("--port", type=_port, default=8080)
    sbx.add_argument("--seed", type=int, default=0)
    sbx.add_argument("--page-base", type=int, choices=(0, 1), default=0)
    sbx.add_argument("--max-page-size", type=_positive, default=2000)
    sbx.add_argument("--latency", type=_nonneg_seconds, default=0.0, help="seconds per request")
    for kind, served in FAULT_DESCRIPTIONS.items():
        sbx.add_argument(
            f"--fault-{kind.replace('_', '-')}", type=_rate, default=0.0, help=f"rate of {served}"
        )
    sbx.add_argument("--retry-after", type=_nonneg_seconds, default=1.0, help="Retry-After of 429s")
    sbx.add_argument("--throttle-above", type=_positive, help="429 above N requests in flight")
    sbx.add_argument("--drift", type=_nonneg_int, default=0, help="participants added per page")
    sbx.add_argument(
        "--subscriber-count",
        type=_customer_count,
        action="append",
        default=[],
        metavar="CUSTOMER=N",
        help="SIMs of a customer (repeatable; defaults: 1=25000, 2=2500, 3=0, others 100)",
    )
    sbx.add_argument(
        "--pit-ttl",
        type=_seconds,
        metavar="SECONDS",
        help="cursor sessions live this long after each call (default: their pitKeepAlive)",
    )
    sbx.add_argument(
        "--require-token",
        action="store_true",
        help="require the bearer token given in $FLOLIVE_SANDBOX_TOKEN",
    )
    return parser


# -- connection -------------------------------------------------------------


@contextlib.asynccontextmanager
async def _client(args: argparse.Namespace) -> AsyncIterator[Client]:
    options: dict[str, Any] = {
        "max_concurrency": args.concurrency,
        "adaptive_concurrency": args.adaptive,
        "timeout": args.timeout,
    }
    if args.page_size:
        options["page_size"] = args.page_size
    if args.page_base is not None:
        options["page_base"] = args.page_base
    if args.sandbox:
        from .sandbox import Sandbox

        async with (
            Sandbox(page_base=args.page_base or 0) as url,
            Client(base_url=url, token=None, username=None, **options) as client,
        ):
            yield client
        return
    base_url = args.base_url or os.environ.get("FLOLIVE_BASE_URL")
    if not base_url:
        raise CliError("no API given: use --base-url, FLOLIVE_BASE_URL, or --sandbox")
    username = args.username or os.environ.get("FLOLIVE_USERNAME")
    if username:
        password = os.environ.get("FLOLIVE_PASSWORD")
        if password is None:
            if not sys.stdin.isatty():
                raise CliError("set FLOLIVE_PASSWORD (no terminal to prompt on)")
            password = getpass.getpass(f"password for {username}: ")
        options.update(username=username, password=password)
    try:
        client = Client(base_url=base_url, **options)
    except InvalidCredentials:
        raise
    except ValueError as exc:
        raise CliError(str(exc)) from None
    async with client:
        yield client


# -- the screen: stderr, and the bar when one runs ----------------------------


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


_screen = _Screen()


class _ScreenHandler(logging.Handler):
    """The ``flolive`` logger's records as ``flolive: debug: ...`` lines."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.name}: {record.levelname.lower()}: {record.getMessage()}"
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            _screen.line(text)
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def _verbose(enabled: bool) -> Iterator[None]:
    """With ``enabled``, the ``flolive`` logger's records (DEBUG and up) go to stderr."""
    if not enabled:
        yield
        return
    logger = logging.getLogger("flolive")
    handler = _ScreenHandler()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
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
        self,
        total: int | None,
        *,
        items: int = 0,
        pages: int = 0,
        total_pages: int | None = None,
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
        _screen.console = self._console

    def advance(self, items: int, pages: int) -> None:
        """Count ``items`` and ``pages`` (or identifiers) more."""
        self._run_items += items
        self._run_pages += pages
        self._progress.update(
            self._task, advance=items if self._by_items else pages, count=self._count()
        )

    def stop(self) -> None:
        """Draw the display a last time and leave it on the screen."""
        _screen.console = None
        if self._task is not None:
            self._progress.stop()


def _progress(args: argparse.Namespace, label: str, unit: str) -> Progress:
    if args.quiet or not sys.stderr.isatty():
        return NoProgress()
    try:
        return RichProgress(label, unit)
    except ImportError:
        _screen.line("flolive: hint: pip install 'flolive-sdk[cli]' for a progress bar")
        return NoProgress()


# -- commands ---------------------------------------------------------------


def _warn(message: str) -> None:
    _screen.line(f"flolive: warning: {message}")


def _counted(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _summary(result: ExportResult, output: str, stats: ClientStats) -> None:
    rate = result.run_items / result.seconds if result.seconds > 0 else 0.0
    where = "stdout" if output == "-" else output
    one = result.unit.removesuffix("s")  # "pages" -> "page"
    line = (
        f"flolive: wrote {_counted(result.run_items, 'item', 'items')} from "
        f"{_counted(result.run_pages, one, result.unit)} to {where} in {result.seconds:.2f} s "
        f"({rate:,.0f} items/s)"
    )
    if result.resumed_at is not None:
        line += (
            f", resumed at {result.resumed_at}; {where} now holds "
            f"{_counted(result.items, 'item', 'items')} from "
            f"{_counted(result.pages, one, result.unit)}"
        )
    line += (
        f"; {_counted(stats.retries, 'retry', 'retries')}, "
        f"{_counted(stats.throttles, 'throttled answer', 'throttled answers')}"
    )
    _screen.line(line)


@contextlib.contextmanager
def _list_warnings() -> Iterator[list[tuple[type[Warning], str]]]:
    """Collect the ListChangedWarnings raised in the block (other warnings
    pass through as usual), to report each once as one line."""
    changes: list[tuple[type[Warning], str]] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ListChangedWarning)
        try:
            yield changes
        finally:
            others = []
            for w in caught:
                if issubclass(w.category, ListChangedWarning):
                    changes.append((w.category, str(w.message)))
                else:
                    others.append(w)
    for w in others:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def _values(args: argparse.Namespace) -> list[str]:
    if args.value is not None:
        return [args.value]
    shown = "stdin" if args.values_from == "-" else args.values_from
    try:
        values = read_values(args.values_from)
    except OSError as exc:
        raise CliError(f"cannot read {shown}: {exc.strerror or exc}", ExitCode.FILE) from None
    except UnicodeDecodeError:
        raise CliError(f"cannot read {shown}: not UTF-8 text", ExitCode.FILE) from None
    if not values:
        raise CliError(f"no identifiers in {shown}")
    return values


def _fail_single(value: str, error: FloliveError) -> None:
    # One identifier asked for: its failure is the command's failure.
    raise error


async def _run_export(
    args: argparse.Namespace, client: Client, values: list[str], common: dict[str, Any]
) -> ExportResult:
    if args.what == "participants":
        return await export_participants(
            client,
            args.customer,
            args.campaign,
            args.output,
            progress=_progress(args, "participants", "pages"),
            **common,
        )
    if args.what == "subscribers":
        if args.cursor:
            options: dict[str, Any] = {}
            if args.chunk_size is not None:
                options["chunk_size"] = args.chunk_size
            if args.keep_alive is not None:
                options["keep_alive"] = args.keep_alive
            return await export_all_subscribers(
                client,
                args.customer,
                args.output,
                details=args.details,
                progress=_progress(args, "subscribers", "chunks"),
                **options,
                **common,
            )
        return await export_subscribers(
            client,
            args.customer,
            args.output,
            progress=_progress(args, "subscribers", "pages"),
            **common,
        )
    return await export_labels(
        client,
        args.id_type,
        values,
        args.output,
        page_size=args.page_size,
        progress=_progress(args, "labels", "identifiers"),
        on_failure=(
            _fail_single if args.value is not None else lambda v, e: _warn(f"{v}: {e.detail}")
        ),
        **common,
    )


def _check_subscriber_args(args: argparse.Namespace) -> None:
    if args.cursor:
        if args.page_size is not None or args.page_base is not None:
            raise CliError(
                "--page-size and --page-base are for the paged list; with --cursor, "
                "use --chunk-size"
            )
        return
    given = [
        flag
        for flag, value in (
            ("--details", args.details),
            ("--chunk-size", args.chunk_size),
            ("--keep-alive", args.keep_alive),
        )
        if value not in (False, None)
    ]
    if given:
        raise CliError(f"{' and '.join(given)} {'needs' if len(given) == 1 else 'need'} --cursor")


async def _export(args: argparse.Namespace) -> int:
    if args.what == "subscribers":
        _check_subscriber_args(args)
    fmt = format_for(args.output, args.format)
    values = _values(args) if args.what == "labels" else []
    common: dict[str, Any] = {
        "fmt": fmt,
        "resume": args.resume,
        "overwrite": args.overwrite,
        "checkpoint_interval": args.checkpoint_interval,
    }
    with _list_warnings() as changes:
        async with _client(args) as client:
            stats = client.stats
            try:
                result = await _run_export(args, client, values, common)
            except NothingToResume as exc:
                # The same command again after it finished (or was killed
                # after finishing): success, with nothing to do.
                _screen.line(f"flolive: {exc}")
                return ExitCode.OK
    for category, message in dict.fromkeys(changes):
        # The CLI reports a shortfall itself (after a resume too), so the
        # SDK's own warning of a short full pass is dropped then.
        if not (result.missing and issubclass(category, ListIncompleteWarning)):
            _warn(message)
    if not args.quiet:
        _summary(result, args.output, stats)
    if result.missing:
        assert result.expected is not None
        where = "stdout" if args.output == "-" else args.output
        if result.unit == "chunks":
            shortfall = cursor_incomplete_message(result.expected, result.items)
        else:
            base = result.page_base if result.page_base is not None else 0
            shortfall = incomplete_message(result.expected, result.items, base)
        _warn(f"{where}: {shortfall}")
        return ExitCode.INCOMPLETE
    if result.failed:
        _warn(f"{len(result.failed)} identifiers failed")
        return ExitCode.PARTIAL
    return ExitCode.OK


async def _campaigns(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        campaigns = await client.campaigns(args.customer).collect()
    fmt = args.format or ("table" if sys.stdout.isatty() else "jsonl")
    if fmt == "table":
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            hint = "pip install 'flolive-sdk[cli]'"
            if args.format:  # asked for: refused, never replaced
                raise CliError(f"--format table needs rich: {hint}") from None
            _screen.line(f"flolive: hint: {hint} for a table; writing JSONL")
            fmt = "jsonl"
        else:
            table = Table("id", "name", "status", "template", "start", "end", "max retries")
            for c in campaigns:
                table.add_row(
                    str(c.id),
                    c.name,
                    c.status,
                    str(c.template_id),
                    c.effective_start,
                    c.effective_end,
                    str(c.max_retries),
                )
            Console().print(table)
            return ExitCode.OK
    sys.stdout.buffer.write(msgspec.json.Encoder().encode_lines(campaigns))
    sys.stdout.flush()
    return ExitCode.OK


async def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import Faults, Sandbox
    from .sandbox.data import DEFAULT_SUBSCRIBER_COUNTS

    token = os.environ.get("FLOLIVE_SANDBOX_TOKEN") if args.require_token else None
    if args.require_token and not token:
        raise CliError("--require-token needs FLOLIVE_SANDBOX_TOKEN")
    try:
        faults = Faults(
            retry_after=args.retry_after,
            **{kind: getattr(args, f"fault_{kind}") for kind in FAULT_KINDS},
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    counts = dict(args.subscriber_count)
    sandbox = Sandbox(
        subscriber_counts={**DEFAULT_SUBSCRIBER_COUNTS, **counts} if counts else None,
        pit_ttl=args.pit_ttl,
        seed=args.seed,
        page_base=args.page_base,
        max_page_size=args.max_page_size,
        latency=args.latency,
        faults=faults,
        throttle_above=args.throttle_above,
        drift=args.drift,
        token=token,
        host=args.host,
        port=args.port,
    )
    try:
        url = await sandbox.start()
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    print(f"flolive sandbox listening on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sandbox.stop()
    return ExitCode.OK


def _exit_code(exc: BaseException) -> ExitCode:
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, OutputError):
        return ExitCode.FILE
    if isinstance(exc, ExportError):
        return ExitCode.USAGE
    if isinstance(exc, CursorExpired):
        return ExitCode.CURSOR_EXPIRED
    if isinstance(exc, CustomerNotFound | CampaignNotFound | SubscriberNotFound):
        return ExitCode.NOT_FOUND
    if isinstance(exc, AuthenticationError | InvalidCredentials):
        return ExitCode.AUTH
    if isinstance(exc, APIError) and exc.path == LOGIN_PATH and exc.code != "GLOBAL_1001":
        return ExitCode.AUTH  # the login refused with an error envelope
    if isinstance(exc, TransportError):
        return ExitCode.UNREACHABLE
    if isinstance(exc, FloliveError):
        return ExitCode.API
    return ExitCode.USAGE  # a ValueError: an argument the SDK refused


def _message(exc: BaseException) -> str:
    if isinstance(exc, CursorExpired):
        return CURSOR_EXPIRED_MESSAGE
    if isinstance(exc, FloliveError):
        return f"{exc.detail} ({exc.path})" if exc.path else exc.detail
    return str(exc)


async def _run(args: argparse.Namespace) -> int:
    with _verbose(getattr(args, "verbose", False)):
        if args.command == "export":
            return await _export(args)
        if args.command == "campaigns":
            return await _campaigns(args)
        return await _sandbox(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flolive`` command; returns an :class:`ExitCode`."""
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        print("flolive: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (`| head`): not an error of ours.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except (CliError, ExportError, FloliveError, ValueError) as exc:
        print(f"flolive: error: {_message(exc)}", file=sys.stderr)
        return _exit_code(exc)
    except OSError as exc:
        # A file operation outside the exporter (stdout, a terminal, ...).
        name = os.fsdecode(exc.filename) if exc.filename is not None else "output"
        print(f"flolive: error: {name}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.FILE
