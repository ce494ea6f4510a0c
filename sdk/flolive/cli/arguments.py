"""The ``flolive`` command's arguments: one parser, its number checks and help."""

from __future__ import annotations

import argparse
import math
import textwrap
from typing import Any, NoReturn

from .. import __version__
from .._options import SETTINGS
from ..export import FORMATS
from ..models import SubscriberIdType
from ..sandbox.faults import FAULT_DESCRIPTIONS
from .exits import EXIT_MEANINGS, OTHER_EXITS, ExitCode

__all__ = ["build_parser"]


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


def _max_rate(text: str) -> float | str:
    """``auto``, ``off`` (no rate limit: the client's ``None``) or requests/s."""
    if text.lower() in ("auto", "off"):
        return text.lower()
    return _bounded(float, 0, above=True)(text)  # type: ignore[no-any-return]


#: The client settings the CLI sets, by flag, with the flag's parser: their
#: docs and defaults come from the settings table (flolive._options.SETTINGS).
SETTING_FLAGS: dict[str, tuple[str, Any]] = {
    "--concurrency": ("max_concurrency", _positive),
    "--page-size": ("page_size", _positive),
    "--page-base": ("page_base", int),
    "--timeout": ("timeout", _seconds),
    "--max-rate": ("max_rate", _max_rate),
}


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
    for flag, (name, parse) in SETTING_FLAGS.items():
        setting = SETTINGS[name]
        extra: dict[str, Any] = {"choices": (0, 1)} if name == "page_base" else {}
        # No default here: a flag not given leaves the client's own (the table's).
        off = "; 'off' here" if setting.default == "auto" else ""  # the CLI's word for None
        g.add_argument(flag, type=parse, help=f"{setting.doc}{off} ({setting.default})", **extra)
    g.add_argument(
        "--adaptive",
        action="store_true",
        help="lower the concurrency while the server pushes back, then grow it back",
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


# Pre-wrapped: the raw formatter keeps the description's lines as they are.
_BULK_DESCRIPTION = """\
An identifier that is malformed (checked before any request), unknown, or fails
after retries is named on stderr with its line number and the export goes on;
the command then exits 7."""
_ERRORS_HELP = (
    "write each failed identifier to FILE as JSON lines (line, identifier, code, message)"
)


def _epilog() -> str:
    lines = [
        textwrap.fill(
            meaning, width=79, initial_indent=f"  {int(code):>3}  ", subsequent_indent=" " * 7
        )
        for code, meaning in EXIT_MEANINGS.items()
    ]
    lines += [
        textwrap.fill(meaning, width=79, initial_indent=f"  {code:>5}  ", subsequent_indent=" " * 9)
        for code, meaning in OTHER_EXITS.items()
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
    bulk = labels.add_argument_group("bulk jobs", _BULK_DESCRIPTION)
    bulk.add_argument("--fail-fast", action="store_true", help="stop at the first that fails")
    bulk.add_argument("--errors", metavar="FILE", help=_ERRORS_HELP)
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
    sbx.add_argument(
        "--rate-limit",
        type=float,
        metavar="R",
        help="limit requests as nginx's limit_req rate=R nodelay (429 without Retry-After)",
    )
    sbx.add_argument("--burst", type=_nonneg_int, default=0, help="limit_req burst of --rate-limit")
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
