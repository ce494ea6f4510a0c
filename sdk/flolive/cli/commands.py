"""The ``flolive`` command's commands: ``export``, ``campaigns`` and ``sandbox``.

:func:`prepare` does what must happen before the event loop (checks that
need no server, reading identifiers, the client and its password prompt), so
a signal then stops it at once; :func:`run` runs the command on the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import math
import os
import re
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .. import ClientStats
from ..client import Client
from ..errors import (
    InvalidCredentials,
    ListChangedWarning,
    ListIncompleteWarning,
    cursor_incomplete_message,
    incomplete_message,
)
from ..export import (
    ExportResult,
    IdentifierFailure,
    NothingToResume,
    export_all_subscribers,
    export_labels,
    export_participants,
    export_subscribers,
    format_for,
    read_identifiers,
)
from ..sandbox.faults import FAULT_KINDS
from .arguments import SETTING_FLAGS
from .exits import CliError, ExitCode, worded
from .progress import make_progress, screen, verbose, warn

__all__ = ["Prepared", "prepare", "run"]

#: The command's flag for each setting the client may name in a ValueError.
_FLAGS = {"base_url": "--base-url", **{name: flag for flag, (name, _) in SETTING_FLAGS.items()}}


@dataclass
class Prepared:
    """What :func:`prepare` made ready for the loop.

    Attributes:
        client: the client (``None`` with ``--sandbox``: made once it listens).
        values: the identifiers of a label export.
        lines: the line number of each identifier in ``--values-from`` (1, 2, ...).
    """

    client: Client | None = None
    values: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The client settings the flags give; the rest stay the client's own."""
    options: dict[str, Any] = {"adaptive_concurrency": args.adaptive}
    for flag, (name, _) in SETTING_FLAGS.items():
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            options[name] = None if value == "off" else value
    return options


def make_client(args: argparse.Namespace, base_url: str | None = None) -> Client:
    """The client of the flags given; the client itself looks up what they
    leave out (``FLOLIVE_BASE_URL``, ``FLOLIVE_TOKEN``, ``FLOLIVE_USERNAME``,
    ``FLOLIVE_PASSWORD``), and its refusals are worded with the flags."""
    credentials: dict[str, Any] = {"username": None if base_url else args.username}
    for _ in range(2):
        try:
            return Client(base_url=base_url or args.base_url, **credentials, **_options(args))
        except InvalidCredentials:
            raise
        except ValueError as exc:
            text = str(exc)
            if "password" in text and "password" not in credentials:
                # A login name without a password: ask for it, on a terminal.
                if not sys.stdin.isatty():
                    raise CliError("set FLOLIVE_PASSWORD (no terminal to prompt on)") from None
                who = args.username or "$FLOLIVE_USERNAME"
                credentials["password"] = getpass.getpass(f"password for {who}: ")
                continue
            if "base_url" in text and not (base_url or args.base_url):
                raise CliError(
                    "no API given: use --base-url, FLOLIVE_BASE_URL, or --sandbox"
                ) from None
            flagged = re.sub(r"\b\w+\b", lambda m: _FLAGS.get(m[0], m[0]), text)
            raise CliError(flagged) from None
    raise AssertionError("unreachable")  # pragma: no cover


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


def _identifiers(args: argparse.Namespace) -> tuple[list[str], list[int]]:
    if args.value is not None:
        return [args.value], [1]
    shown = "stdin" if args.values_from == "-" else args.values_from
    try:
        found = read_identifiers(args.values_from)
    except OSError as exc:
        raise CliError(f"cannot read {shown}: {exc.strerror or exc}", ExitCode.FILE) from None
    except UnicodeDecodeError:
        raise CliError(f"cannot read {shown}: not UTF-8 text", ExitCode.FILE) from None
    if not found:
        raise CliError(f"no identifiers in {shown}")
    return [value for _, value in found], [line for line, _ in found]


def prepare(args: argparse.Namespace) -> Prepared:
    """The command's start-up, before the event loop (see the module's doc)."""
    ready = Prepared()
    if args.command == "sandbox":
        return ready
    if args.command == "export" and args.what == "subscribers":
        _check_subscriber_args(args)
    if args.command == "export" and args.what == "labels":
        ready.values, ready.lines = _identifiers(args)
    if not args.sandbox:
        ready.client = make_client(args)
    return ready


@contextlib.asynccontextmanager
async def _client(args: argparse.Namespace, ready: Prepared) -> AsyncIterator[Client]:
    if ready.client is not None:
        async with ready.client as client:
            yield client
        return
    from ..sandbox import Sandbox

    async with Sandbox(page_base=args.page_base or 0) as url, make_client(args, url) as client:
        yield client


# -- export -------------------------------------------------------------------


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
    screen.line(line)


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


class _Failures:
    """A label export's failed identifiers: each named on stderr with its
    line number as it happens, and all of them in ``--errors FILE``."""

    def __init__(self, args: argparse.Namespace, lines: list[int]) -> None:
        self.args = args
        self.lines = lines
        self.seen: list[IdentifierFailure] = []

    def line(self, failure: IdentifierFailure) -> int:
        return self.lines[failure.index]

    def __call__(self, failure: IdentifierFailure) -> None:
        self.seen.append(failure)
        what = failure.message
        if what != failure.code and not what.startswith(f"{failure.code}:"):
            what = f"{failure.code}: {what}"
        warn(f"{failure.identifier}: {what} (line {self.line(failure)})")
        if self.args.fail_fast:
            raise CliError(
                f"stopped at the first identifier that failed (--fail-fast): line "
                f"{self.line(failure)}, {failure.identifier}",
                ExitCode.PARTIAL,
            )

    def write(self, failures: list[IdentifierFailure]) -> None:
        """Write ``failures`` to ``--errors FILE``, if given."""
        if not self.args.errors:
            return
        encoder = msgspec.json.Encoder()
        records = [
            {"line": self.line(f), "identifier": f.identifier, "code": f.code, "message": f.message}
            for f in failures
        ]
        try:
            with open(self.args.errors, "wb") as fh:
                fh.write(encoder.encode_lines(records))
        except OSError as exc:
            raise CliError(
                f"cannot write {self.args.errors}: {exc.strerror or exc}", ExitCode.FILE
            ) from None


def _fail_single(value: str, error: Exception) -> None:
    # One identifier asked for: its failure is the command's failure.
    raise error


async def _run_export(
    args: argparse.Namespace,
    client: Client,
    ready: Prepared,
    failures: _Failures,
    common: dict[str, Any],
) -> ExportResult:
    if args.what == "participants":
        return await export_participants(
            client,
            args.customer,
            args.campaign,
            args.output,
            progress=make_progress(args, "participants", "pages"),
            **common,
        )
    if args.what == "subscribers" and args.cursor:
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
            progress=make_progress(args, "subscribers", "chunks"),
            **options,
            **common,
        )
    if args.what == "subscribers":
        return await export_subscribers(
            client,
            args.customer,
            args.output,
            progress=make_progress(args, "subscribers", "pages"),
            **common,
        )
    single = args.value is not None
    return await export_labels(
        client,
        args.id_type,
        ready.values,
        args.output,
        page_size=args.page_size,
        progress=make_progress(args, "labels", "identifiers"),
        on_failure=_fail_single if single else None,
        on_failed=None if single else failures,
        **common,
    )


async def _export(args: argparse.Namespace, ready: Prepared) -> int:
    common: dict[str, Any] = {
        "fmt": format_for(args.output, args.format),
        "resume": args.resume,
        "overwrite": args.overwrite,
        "checkpoint_interval": args.checkpoint_interval,
    }
    failures = _Failures(args, ready.lines)
    with _list_warnings() as changes:
        async with _client(args, ready) as client:
            stats = client.stats
            try:
                result = await _run_export(args, client, ready, failures, common)
            except NothingToResume as exc:
                # The same command again after it finished (or was killed
                # after finishing): success, with nothing to do.
                screen.line(f"flolive: {worded(exc)}")
                return ExitCode.OK
            except CliError:
                if args.what == "labels":
                    failures.write(failures.seen)
                raise
    for category, text in dict.fromkeys(changes):
        # The CLI reports a shortfall itself (after a resume too), so the
        # SDK's own warning of a short full pass is dropped then.
        if not (result.missing and issubclass(category, ListIncompleteWarning)):
            warn(text)
    if args.what == "labels":
        failures.write(result.failures)
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
        warn(f"{where}: {shortfall}")
        return ExitCode.INCOMPLETE
    if result.failed:
        also = f"; see {args.errors}" if args.errors else ""
        warn(f"{len(result.failed)} identifiers failed{also}")
        return ExitCode.PARTIAL
    return ExitCode.OK


# -- campaigns, sandbox ----------------------------------------------------------


async def _campaigns(args: argparse.Namespace, ready: Prepared) -> int:
    async with _client(args, ready) as client:
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
            screen.line(f"flolive: hint: {hint} for a table; writing JSONL")
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
    from ..sandbox import Faults, Sandbox
    from ..sandbox.data import DEFAULT_SUBSCRIBER_COUNTS

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
    if args.rate_limit is not None and not 0 < args.rate_limit < math.inf:
        raise CliError(f"--rate-limit must be a number of requests/s > 0, got {args.rate_limit}")
    counts = dict(args.subscriber_count)
    passed = "pit_ttl seed page_base max_page_size latency throttle_above drift host port"
    sandbox = Sandbox(
        subscriber_counts={**DEFAULT_SUBSCRIBER_COUNTS, **counts} if counts else None,
        faults=faults,
        token=token,
        rate_limit=None if args.rate_limit is None else (args.rate_limit, args.burst),
        **{name: getattr(args, name) for name in passed.split()},
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


async def run(args: argparse.Namespace, ready: Prepared) -> int:
    """Run the command on the event loop; its exit code."""
    with verbose(getattr(args, "verbose", False)):
        if args.command == "export":
            return await _export(args, ready)
        if args.command == "campaigns":
            return await _campaigns(args, ready)
        return await _sandbox(args)
