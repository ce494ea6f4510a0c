"""The ``flolive`` command: bulk exports, campaign listing, and the sandbox server.

Exit codes: 0 success, 2 bad arguments or refused output, 3 unknown customer,
campaign or subscriber, 4 authentication failed, 5 server unreachable or
connection failed, 6 other API or HTTP error, 7 export finished but some
identifiers failed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec

from . import __version__
from .client import Client
from .errors import (
    AuthenticationError,
    CampaignNotFound,
    CustomerNotFound,
    FloliveError,
    SubscriberNotFound,
    TransportError,
)
from .export import (
    FORMATS,
    ExportError,
    ExportResult,
    NoProgress,
    Progress,
    export_labels,
    export_participants,
    format_for,
    read_values,
)

EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_AUTH = 4
EXIT_UNREACHABLE = 5
EXIT_API = 6
EXIT_PARTIAL = 7


class UsageError(Exception):
    pass


# -- arguments ---------------------------------------------------------------


def _bounded(convert: type[int] | type[float], low: float, high: float | None = None) -> Any:
    """An argparse type: a number of ``convert``'s kind within [low, high]."""

    def parse(text: str) -> int | float:
        try:
            value = convert(text)
        except ValueError:
            kind = "an integer" if convert is int else "a number"
            raise argparse.ArgumentTypeError(f"not {kind}: {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {bound}: {value}")
        return value

    return parse


_positive = _bounded(int, 1)
_nonneg_int = _bounded(int, 0)
_rate = _bounded(float, 0, 1)


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
    g.add_argument("--timeout", type=float, default=30.0, help="seconds per request (30)")


def _output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="output file, or - for stdout")
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="output format (default: from the file extension, else jsonl)",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted export")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flolive",
        description="Bulk exports from floLIVE's IoT connectivity API v2.",
        epilog=(
            "exit codes: 0 ok, 2 bad arguments or refused output, 3 not found, "
            "4 authentication failed, 5 unreachable, 6 other API error, 7 partial, "
            "130 interrupted"
        ),
    )
    parser.add_argument("--version", action="version", version=f"flolive-sdk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    export = sub.add_parser("export", help="export a list to a file")
    what = export.add_subparsers(dest="what", required=True)
    part = what.add_parser("participants", help="participants of a campaign")
    part.add_argument("--customer", type=_nonneg_int, required=True, help="customer id")
    part.add_argument("--campaign", type=_nonneg_int, required=True, help="campaign id")
    _output_args(part)
    _connection_args(part)

    labels = what.add_parser("labels", help="labels of one or many subscribers")
    labels.add_argument(
        "--type", required=True, choices=("imsi", "iccid", "msisdn", "imei"), dest="id_type"
    )
    src = labels.add_mutually_exclusive_group(required=True)
    src.add_argument("--value", help="one subscriber identifier")
    src.add_argument("--values-from", metavar="FILE", help="identifiers, one a line (- for stdin)")
    _output_args(labels)
    _connection_args(labels)

    camps = sub.add_parser("campaigns", help="list a customer's campaigns")
    camps.add_argument("--customer", type=_nonneg_int, required=True, help="customer id")
    camps.add_argument(
        "--format", choices=("table", "jsonl"), help="default: table on a terminal, else jsonl"
    )
    _connection_args(camps)

    sbx = sub.add_parser("sandbox", help="serve the sandbox API until interrupted")
    sbx.add_argument("--host", default="127.0.0.1")
    sbx.add_argument("--port", type=int, default=8080)
    sbx.add_argument("--seed", type=int, default=0)
    sbx.add_argument("--page-base", type=int, choices=(0, 1), default=0)
    sbx.add_argument("--max-page-size", type=_positive, default=2000)
    sbx.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    for kind, what_ in (
        ("global-1001", "GLOBAL_1001 envelopes"),
        ("rate-limited", "429 with Retry-After"),
        ("server-error", "HTTP 500"),
        ("unavailable", "HTTP 503"),
        ("drop", "dropped connections"),
        ("truncate", "bodies cut short"),
    ):
        sbx.add_argument(f"--fault-{kind}", type=_rate, default=0.0, help=f"rate of {what_}")
    sbx.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of 429s")
    sbx.add_argument("--throttle-above", type=_positive, help="429 above N requests in flight")
    sbx.add_argument("--drift", type=_nonneg_int, default=0, help="participants added per page")
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
        raise UsageError("no API given: use --base-url, FLOLIVE_BASE_URL, or --sandbox")
    username = args.username or os.environ.get("FLOLIVE_USERNAME")
    if username:
        password = os.environ.get("FLOLIVE_PASSWORD")
        if password is None:
            if not sys.stdin.isatty():
                raise UsageError("set FLOLIVE_PASSWORD (no terminal to prompt on)")
            password = getpass.getpass(f"password for {username}: ")
        options.update(username=username, password=password)
    try:
        client = Client(base_url=base_url, **options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    async with client:
        yield client


# -- progress ---------------------------------------------------------------


class RichProgress:
    """A live bar on stderr: items, pages, rate and ETA from totalElements."""

    def __init__(self, label: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as Bar,
        )

        self._progress = Bar(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[pages]} pages"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._label = label
        self._task: Any = None
        self._pages = 0

    def start(self, total: int | None) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(self._label, total=total, pages=0, rate="")

    def advance(self, items: int, pages: int) -> None:
        self._pages += pages
        task = self._progress.tasks[0]
        speed = task.speed
        self._progress.update(
            self._task,
            advance=items,
            pages=self._pages,
            rate=f"{speed:,.0f} items/s" if speed else "",
        )

    def stop(self) -> None:
        if self._task is not None:
            self._progress.stop()


def _progress(args: argparse.Namespace, label: str) -> Progress:
    if args.quiet or not sys.stderr.isatty():
        return NoProgress()
    try:
        return RichProgress(label)
    except ImportError:
        return NoProgress()  # the `cli` extra adds the bar


# -- commands ---------------------------------------------------------------


def _summary(result: ExportResult, output: str) -> None:
    rate = result.items / result.seconds if result.seconds > 0 else 0.0
    where = "stdout" if output == "-" else output
    resumed = f", resumed at {result.resumed_at}" if result.resumed_at is not None else ""
    print(
        f"flolive: wrote {result.items:,} items from {result.pages:,} pages to {where} "
        f"in {result.seconds:.2f} s ({rate:,.0f} items/s{resumed})",
        file=sys.stderr,
    )


async def _export(args: argparse.Namespace) -> int:
    fmt = format_for(args.output, args.format)
    async with _client(args) as client:
        if args.what == "participants":
            result = await export_participants(
                client,
                args.customer,
                args.campaign,
                args.output,
                fmt=fmt,
                resume=args.resume,
                overwrite=args.overwrite,
                progress=_progress(args, "participants"),
            )
        else:
            values = [args.value] if args.value else read_values(args.values_from)
            result = await export_labels(
                client,
                args.id_type,
                values,
                args.output,
                fmt=fmt,
                page_size=args.page_size,
                resume=args.resume,
                overwrite=args.overwrite,
                progress=_progress(args, "labels"),
                on_failure=lambda v, e: print(f"flolive: {v}: {e.detail}", file=sys.stderr),
            )
    if not args.quiet:
        _summary(result, args.output)
    if result.failed:
        print(f"flolive: {len(result.failed)} identifiers failed", file=sys.stderr)
        return EXIT_PARTIAL
    return 0


async def _campaigns(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        campaigns = await client.campaigns(args.customer).collect()
    fmt = args.format or ("table" if sys.stdout.isatty() else "jsonl")
    if fmt == "table":
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
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
            return 0
    sys.stdout.buffer.write(msgspec.json.Encoder().encode_lines(campaigns))
    sys.stdout.flush()
    return 0


async def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import Faults, Sandbox

    token = os.environ.get("FLOLIVE_SANDBOX_TOKEN") if args.require_token else None
    if args.require_token and not token:
        raise UsageError("--require-token needs FLOLIVE_SANDBOX_TOKEN")
    try:
        faults = Faults(
            global_1001=args.fault_global_1001,
            rate_limited=args.fault_rate_limited,
            server_error=args.fault_server_error,
            unavailable=args.fault_unavailable,
            drop=args.fault_drop,
            truncate=args.fault_truncate,
            retry_after=args.retry_after,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    sandbox = Sandbox(
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
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    print(f"flolive sandbox listening on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sandbox.stop()
    return 0


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, UsageError | ExportError | ValueError):
        return EXIT_USAGE
    if isinstance(exc, CustomerNotFound | CampaignNotFound | SubscriberNotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, AuthenticationError):
        return EXIT_AUTH
    if isinstance(exc, TransportError):
        return EXIT_UNREACHABLE
    return EXIT_API


async def _run(args: argparse.Namespace) -> int:
    if args.command == "export":
        return await _export(args)
    if args.command == "campaigns":
        return await _campaigns(args)
    return await _sandbox(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flolive`` command."""
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        print("flolive: interrupted", file=sys.stderr)
        return 130
    except (UsageError, ExportError, ValueError, FloliveError) as exc:
        detail = exc.detail if isinstance(exc, FloliveError) else str(exc)
        where = f" ({exc.path})" if isinstance(exc, FloliveError) and exc.path else ""
        print(f"flolive: error: {detail}{where}", file=sys.stderr)
        return _exit_code(exc)
    except BrokenPipeError:
        # stdout closed early (`| head`): not an error of ours.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
