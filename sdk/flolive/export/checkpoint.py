"""The checkpoint beside an output: what of the output is durable.

``FILE.flolive-checkpoint`` is replaced atomically (written to
``FILE.flolive-checkpoint.tmp``, fsynced, renamed, directory fsynced). The
export writes its first checkpoint *before* the first byte of the output (or
its first part) and each later one only *after* what it records was fsynced,
so at any moment the checkpoint on disk describes a durable prefix of the
output: its first ``offset`` bytes (formats written in place) or its first
``parts`` part files (formats written in parts).
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from .._types import CursorToken
from .errors import ExportError

__all__ = ["CHECKPOINT_SUFFIX", "Checkpoint"]

CHECKPOINT_SUFFIX = ".flolive-checkpoint"


class Checkpoint(msgspec.Struct, kw_only=True):
    """What is durably in the output: its first ``offset`` bytes (or its
    first ``parts`` parts) hold exactly the items before ``next`` (a page
    number, an identifier index, or a cursor chunk number).

    Attributes:
        version: format of this record (4; older records load with the
            fields they lacked at their defaults).
        job: what is exported (kind, customer, campaign, ... ); a resume must match.
        format: the output format's name.
        page_size: the page size the server echoed, or a cursor export's
            chunk size (reused on resume).
        page_base: the page base in use (reused on resume; 0 for a cursor).
        next: the next page number, identifier index or chunk number to read.
        offset: durable length of the output in bytes (formats written in place).
        parts: durable part files (formats written in parts).
        items: items in those bytes.
        pages: pages (or identifiers) done for those bytes.
        expected: items the server said the finished part should hold (label
            exports: the sum of the ``totalElements`` of each identifier done).
        failed: (identifier, error) of a label export's failed identifiers so
            far, so a resumed run still reports them.
        cursor: where a cursor export's read goes on (the
            :class:`~flolive.CursorToken` after the last chunk recorded), or
            ``None``; it is good only while the server's session lives.
    """

    version: int = 4
    job: dict[str, str | int]
    format: str
    page_size: int
    page_base: int
    next: int
    offset: int = 0
    parts: int = 0
    items: int = 0
    pages: int = 0
    expected: int = 0
    failed: list[tuple[str, str]] = []
    cursor: CursorToken | None = None

    @property
    def started(self) -> bool:
        """Whether this records any progress (else it is the checkpoint an
        export writes before its first byte, and worth nothing to keep)."""
        return self.offset > 0 or self.parts > 0 or self.pages > 0 or bool(self.failed)

    @staticmethod
    def path_for(output: str) -> Path:
        """The checkpoint file of ``output``."""
        return Path(output + CHECKPOINT_SUFFIX)

    @staticmethod
    def _tmp_for(output: str) -> Path:
        path = Checkpoint.path_for(output)
        return path.with_name(path.name + ".tmp")

    def save(self, output: str) -> None:
        """Replace ``output``'s checkpoint with this one, atomically and durably."""
        path = self.path_for(output)
        tmp = self._tmp_for(output)
        with open(tmp, "wb") as fh:
            fh.write(msgspec.json.encode(self))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)

    @classmethod
    def load(cls, output: str) -> Checkpoint | None:
        """``output``'s checkpoint, or ``None`` when it has none.

        Raises:
            ExportError: the checkpoint file is not a checkpoint.
        """
        path = cls.path_for(output)
        try:
            return msgspec.json.decode(path.read_bytes(), type=cls)
        except FileNotFoundError:
            return None
        except msgspec.DecodeError as exc:
            raise ExportError(f"checkpoint {path} is unreadable: {exc}") from None

    @classmethod
    def remove(cls, output: str) -> None:
        """Delete ``output``'s checkpoint and any half-written replacement of it."""
        cls.path_for(output).unlink(missing_ok=True)
        cls._tmp_for(output).unlink(missing_ok=True)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
