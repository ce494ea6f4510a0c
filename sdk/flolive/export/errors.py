"""Errors of the exporter: refused outputs and failed file operations."""

from __future__ import annotations

import os

__all__ = ["ExportError", "NothingToResume", "OutputError"]


class ExportError(Exception):
    """An export cannot start or go on under the rules: the output exists
    without ``resume``/``overwrite``, the checkpoint belongs to another export,
    the format cannot be resumed or streamed, and the like."""


class OutputError(ExportError):
    """A file operation on the output (or its checkpoint) failed: a missing
    directory, no permission, a directory given as the output, a full disk...

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
            "it finishes), so it is left as it is; use --overwrite to export it again"
        )
        self.output = output
