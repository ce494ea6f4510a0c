"""Errors of the exporter: refused outputs, failed file operations, bad checkpoints.

They say what happened and, as data (:class:`Remedy`, ``refused``), what the
caller can do about it, in the exporter's own terms (``resume=True``); the
``flolive`` command words the same errors with its flags.
"""

from __future__ import annotations

import enum
import os

__all__ = [
    "CheckpointInvalid",
    "ExportError",
    "InvalidIdentifier",
    "NothingToResume",
    "OutputError",
    "OutputLocked",
    "Remedy",
]


class Remedy(enum.Enum):
    """What the caller can do about a refused export; the value is the
    exporter's wording (the ``flolive`` command has its own)."""

    RESUME_OR_OVERWRITE = "resume=True continues it, overwrite=True replaces it"
    RESUME_OR_START_AGAIN = "resume=True continues it, overwrite=True starts it again"
    REPLACE = "overwrite=True replaces it"
    START_AGAIN = "overwrite=True starts again"
    EXPORT_AGAIN = "overwrite=True exports it again"


class ExportError(Exception):
    """An export cannot start or go on under the rules: the output exists
    without ``resume``/``overwrite``, the checkpoint belongs to another export,
    the format cannot be resumed or streamed, and the like.

    Attributes:
        what: what happened, without the remedy (``"out.jsonl exists"``).
        remedy: what the caller can do, or ``None``.
        refused: the arguments refused (``("resume",)``), named in front of
            ``what``, or ``()``.
    """

    def __init__(
        self, what: str, *, remedy: Remedy | None = None, refused: tuple[str, ...] = ()
    ) -> None:
        self.what = what
        self.remedy = remedy
        self.refused = refused
        text = f"{' and '.join(refused)} {what}" if refused else what
        super().__init__(f"{text}; {remedy.value}" if remedy else text)


class OutputError(ExportError):
    """A file operation on the output (or its checkpoint) failed: a missing
    directory, no permission, a directory given as the output, a full disk,
    a pipe whose reader went away...

    Attributes:
        output: the output path the export was asked to write.
        reason: what went wrong, in words (``"Permission denied"``).
        filename: the file the failing operation touched (the output itself,
            or its checkpoint), or ``None`` when not known.
        errno: the ``errno`` of the failure, or ``None``.
    """

    def __init__(
        self,
        output: str,
        reason: str,
        *,
        filename: str | None = None,
        errno: int | None = None,
    ) -> None:
        where = f" ({filename})" if filename and filename != output else ""
        shown = "stdout" if output == "-" else output
        super().__init__(f"cannot write {shown}: {reason}{where}")
        self.output = output
        self.reason = reason
        self.filename = filename
        self.errno = errno

    @classmethod
    def from_os(cls, exc: OSError, output: str) -> OutputError:
        """The error of ``exc`` (raised by an operation on ``output`` or its
        checkpoint), naming the output and, when it differs, the file touched."""
        filename = os.fsdecode(exc.filename) if exc.filename is not None else None
        return cls(output, exc.strerror or str(exc), filename=filename, errno=exc.errno)


class OutputLocked(ExportError):
    """Another run is writing the same output (it holds the lock beside it).

    Attributes:
        output: the output path.
        lock: the lock file held.
    """

    def __init__(self, output: str, lock: str) -> None:
        super().__init__(
            f"another export is writing {output} (it holds {lock}); nothing was changed"
        )
        self.output = output
        self.lock = lock


class CheckpointInvalid(ExportError):
    """The checkpoint beside the output is not one this version can trust:
    unreadable, of an unknown version, or with a field out of range.

    Attributes:
        path: the checkpoint file.
        problem: what is wrong with it.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"checkpoint {path} is invalid: {problem}", remedy=Remedy.START_AGAIN)
        self.path = path
        self.problem = problem


class NothingToResume(ExportError):
    """``resume`` was asked for an output that exists without a checkpoint.

    An export removes its checkpoint as the last step of finishing, so the
    output is complete, or not an export's at all; either way it is left as
    it is. (A kill after an export finished, before its process ended, leaves
    exactly this: a resume then has nothing to do.)

    Attributes:
        output: the output path.
    """

    def __init__(self, output: str) -> None:
        super().__init__(
            f"nothing to resume: {output} has no checkpoint (an export removes it when "
            "it finishes), so it is left as it is",
            remedy=Remedy.EXPORT_AGAIN,
        )
        self.output = output


class InvalidIdentifier(ExportError):
    """An identifier that cannot be of its type (checked before any request).

    Attributes:
        identifier: the identifier as given.
        reason: what is wrong with it.
    """

    def __init__(self, identifier: str, reason: str) -> None:
        super().__init__(f"{identifier!r} is {reason}")
        self.identifier = identifier
        self.reason = reason
