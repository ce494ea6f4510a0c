"""The ``flolive`` command: bulk exports, campaign listing, and the sandbox server.

Modules: :mod:`.arguments` (the parser), :mod:`.commands` (what each command
does), :mod:`.progress` (stderr lines and the progress bar), :mod:`.exits`
(exit codes and how errors are worded) and :mod:`.signals` (SIGINT, SIGTERM
and SIGHUP at any moment). Exit codes are :class:`ExitCode` (the one
definition; ``flolive --help`` and the README's table come from it).
Expected errors print one line, no traceback.

The entry point installs its signal handlers first and imports the rest of
the command after them.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

# Only what installs the signal handlers is imported here: a signal that lands
# while the rest of the command (aiohttp, the exporter) is still importing is
# then handled like any other.
from .signals import Signals, Stopped

if TYPE_CHECKING:
    from .arguments import build_parser
    from .exits import CURSOR_EXPIRED_MESSAGE, EXIT_MEANINGS, CliError, ExitCode
    from .progress import RichProgress

__all__ = [
    "CURSOR_EXPIRED_MESSAGE",
    "EXIT_MEANINGS",
    "CliError",
    "ExitCode",
    "RichProgress",
    "build_parser",
    "main",
]


#: Names that load on first use, after main() installed its signal handlers.
_LOCATIONS = {
    "build_parser": ".arguments",
    "RichProgress": ".progress",
    "CURSOR_EXPIRED_MESSAGE": ".exits",
    "EXIT_MEANINGS": ".exits",
    "CliError": ".exits",
    "ExitCode": ".exits",
}


def __getattr__(name: str) -> Any:
    location = _LOCATIONS.get(name)
    if location is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(location, __name__), name)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flolive`` command; returns an :class:`ExitCode`,
    or 128 + N when stopped by signal N."""
    signals = Signals()
    signals.install()
    try:
        return _main(argv, signals)
    except Stopped:
        print(f"flolive: interrupted by {signals.name}", file=sys.stderr, flush=True)
        assert signals.first is not None
        return 128 + signals.first
    finally:
        signals.done()


def _main(argv: Sequence[str] | None, signals: Signals) -> int:
    from ..errors import FloliveError
    from ..export import ExportError
    from .arguments import build_parser
    from .commands import prepare, run
    from .exits import BROKEN_PIPE, CliError, ExitCode, exit_code, message

    args = build_parser().parse_args(argv)
    try:
        ready = prepare(args)
        return signals.run(lambda: run(args, ready))
    except BrokenPipeError:
        # stdout's reader went away (`| head`): quietly, with the status a
        # shell reports for coreutils there (128 + SIGPIPE).
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    except (CliError, ExportError, FloliveError, ValueError) as exc:
        print(f"flolive: error: {message(exc)}", file=sys.stderr)
        return exit_code(exc)
    except OSError as exc:
        # A file operation outside the exporter (stdout, a terminal, ...).
        name = os.fsdecode(exc.filename) if exc.filename is not None else "output"
        print(f"flolive: error: {name}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.FILE
