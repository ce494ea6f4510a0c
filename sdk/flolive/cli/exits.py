"""Exit codes of the ``flolive`` command, what each means, and the one line
each expected error is printed as (flags named as the command names them)."""

from __future__ import annotations

import enum
import signal
from collections.abc import Mapping

from ..client import LOGIN_PATH
from ..errors import (
    APIError,
    AuthenticationError,
    CampaignNotFound,
    CursorExpired,
    CustomerNotFound,
    FloliveError,
    InvalidCredentials,
    SubscriberNotFound,
    TransportError,
)
from ..export import ExportError, OutputError, Remedy

__all__ = [
    "CURSOR_EXPIRED_MESSAGE",
    "EXIT_MEANINGS",
    "BROKEN_PIPE",
    "OTHER_EXITS",
    "CliError",
    "ExitCode",
    "exit_code",
    "message",
    "signal_exit",
    "worded",
]


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

#: Exit codes beyond :class:`ExitCode`, as the shell reports a process ended by a signal.
OTHER_EXITS: Mapping[str, str] = {
    "128+N": (
        "stopped by signal N: 129 SIGHUP, 130 SIGINT (Ctrl-C), 143 SIGTERM; what was read "
        "is written and checkpointed, --resume goes on"
    ),
    "141": "stdout's reader went away (-o - into `head`): nothing more is printed, as coreutils do",
}

#: Exit code of a write to a stdout whose reader went away: 128 + SIGPIPE, the
#: status a shell reports for coreutils in ``... | head``.
BROKEN_PIPE = 128 + signal.SIGPIPE

#: The line a --cursor export prints when its session is gone (exit code 10).
CURSOR_EXPIRED_MESSAGE = (
    "the server's point-in-time session expired; the export must start over: "
    "run it again with --overwrite"
)

#: How the command words what the exporter says can be done.
_REMEDIES: Mapping[Remedy, str] = {
    Remedy.RESUME_OR_OVERWRITE: "use --resume to continue it or --overwrite",
    Remedy.RESUME_OR_START_AGAIN: "use --resume to continue it or --overwrite to start again",
    Remedy.REPLACE: "use --overwrite to replace it",
    Remedy.START_AGAIN: "use --overwrite to start again",
    Remedy.EXPORT_AGAIN: "use --overwrite to export it again",
}


class CliError(Exception):
    """An expected failure of the command: one line on stderr, then ``code``."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


def signal_exit(signum: int) -> int:
    """The exit code of a run stopped by signal ``signum``."""
    return 128 + signum


def exit_code(exc: BaseException) -> ExitCode:
    """The exit code of an expected error."""
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


def message(exc: BaseException) -> str:
    """The one line (after ``flolive: error: ``) of an expected error."""
    if isinstance(exc, CursorExpired):
        return CURSOR_EXPIRED_MESSAGE
    if isinstance(exc, FloliveError):
        return f"{exc.detail} ({exc.path})" if exc.path else exc.detail
    if isinstance(exc, ExportError):
        return worded(exc)
    return str(exc)


def worded(exc: ExportError) -> str:
    """``exc`` with the arguments and remedies it names as the command's flags."""
    text = exc.what
    if exc.refused:
        text = f"{' and '.join(f'--{name}' for name in exc.refused)} {text}"
    if exc.remedy is not None:
        text = f"{text}; {_REMEDIES[exc.remedy]}"
    return text
