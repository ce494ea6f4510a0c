"""Subscriber identifiers of a bulk job: read from a file, checked before any
request, and the record of one that failed.

An identifier is checked against its type's alphabet and length only (ASCII
digits; an optional leading ``+`` for an MSISDN), never a checksum: real and
sandbox ICCIDs need not pass Luhn.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from ..errors import APIError, FloliveError, HTTPStatusError
from .errors import InvalidIdentifier

__all__ = [
    "IDENTIFIER_DIGITS",
    "IdentifierFailure",
    "check_identifier",
    "failure_of",
    "read_identifiers",
    "read_values",
]

#: (fewest, most) digits of each identifier type: ICCID (ITU-T E.118, with or
#: without its check digit), IMSI (E.212: at most 15), MSISDN (E.164: at most
#: 15, after an optional ``+``), IMEI (14 without the check digit, 15, or 16 for
#: an IMEISV).
IDENTIFIER_DIGITS: Mapping[str, tuple[int, int]] = {
    "iccid": (18, 22),
    "imsi": (6, 15),
    "msisdn": (6, 15),
    "imei": (14, 16),
}

#: The ``code`` of an identifier refused before any request.
INVALID_CODE = "INVALID_IDENTIFIER"


class IdentifierFailure(msgspec.Struct, frozen=True, kw_only=True):
    """An identifier of a bulk job that yielded nothing: malformed, unknown, or
    failed after the SDK's retries.

    Attributes:
        index: its position in the job's identifiers (0, 1, ...).
        identifier: the identifier as given.
        code: the API's ``errorCode`` (``"SUBSCRIBER_1002"``), ``"HTTP 400"``
            for an error without an envelope, or ``"INVALID_IDENTIFIER"``.
        message: what went wrong, in words.
    """

    index: int
    identifier: str
    code: str
    message: str


def check_identifier(id_type: str, value: str) -> None:
    """Refuse ``value`` unless it has the alphabet and length of an ``id_type``.

    Raises:
        InvalidIdentifier: it has not (the message says how).
    """
    low, high = IDENTIFIER_DIGITS[id_type]
    digits = value[1:] if id_type == "msisdn" and value.startswith("+") else value
    kind = id_type.upper()
    plus = " after an optional +" if id_type == "msisdn" else ""
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidIdentifier(value, f"not an {kind}: only digits{plus} are allowed")
    if not low <= len(digits) <= high:
        raise InvalidIdentifier(
            value, f"not an {kind}: {len(digits)} digits{plus}, {low} to {high} expected"
        )


def failure_of(
    index: int, identifier: str, error: FloliveError | InvalidIdentifier
) -> IdentifierFailure:
    """The record of ``error`` for the identifier at ``index``."""
    if isinstance(error, InvalidIdentifier):
        code, message = INVALID_CODE, error.reason
    elif isinstance(error, APIError):
        code, message = error.code, error.message
    elif isinstance(error, HTTPStatusError):
        code, message = f"HTTP {error.http_status}", error.detail
    else:
        code, message = type(error).__name__, error.detail
    return IdentifierFailure(index=index, identifier=identifier, code=code, message=message)


def read_identifiers(path: str) -> list[tuple[int, str]]:
    """(line number, identifier) of each identifier in a file (``-``: stdin),
    one a line; blank lines and ``#`` lines are skipped."""
    if path == "-":
        with os.fdopen(os.dup(0), encoding="utf-8") as stdin:
            text = stdin.read()
    else:
        text = Path(path).read_text(encoding="utf-8")
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.startswith("#")
    ]


def read_values(path: str) -> list[str]:
    """Identifiers from a file (or ``-`` for stdin): one a line, blanks and ``#`` lines skipped."""
    return [value for _, value in read_identifiers(path)]
