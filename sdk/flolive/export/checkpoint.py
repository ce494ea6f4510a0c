"""The checkpoint beside an output: what of the output is durable.

``FILE.flolive-checkpoint`` is replaced atomically (written to a temporary
name unique to the run, fsynced, renamed, directory fsynced). The export
writes its first checkpoint *before* the first byte of the output (or its
first part) and each later one only *after* what it records was fsynced, so
at any moment the checkpoint on disk describes a durable prefix of the output:
its first ``offset`` bytes (formats written in place) or its first ``parts``
part files (formats written in parts).

A checkpoint is checked field by field when loaded (version, job kind,
offsets, counts, page settings): one that fails is a
:class:`~flolive.export.CheckpointInvalid` naming the file and the field.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import msgspec

from .._types import CursorToken
from .errors import CheckpointInvalid
from .identifiers import IdentifierFailure

__all__ = ["CHECKPOINT_SUFFIX", "CHECKPOINT_VERSION", "JOB_KINDS", "Checkpoint", "run_tag"]

CHECKPOINT_SUFFIX = ".flolive-checkpoint"
#: The newest checkpoint format (older ones load with the fields they lacked
#: at their defaults; newer ones are refused).
CHECKPOINT_VERSION = 4
#: The ``job["kind"]`` of each export.
JOB_KINDS = frozenset({"participants", "subscribers", "subscriber-details", "labels"})

Count = Annotated[int, msgspec.Meta(ge=0)]


def run_tag() -> str:
    """A tag unique to one run (process and random bits), for its temporary names."""
    return f"{os.getpid()}-{secrets.token_hex(4)}"


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
            chunk size (reused on resume; 0 for a label export).
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
        failures: the same failures as :class:`~flolive.export.IdentifierFailure`
            records (position, code, message).
        cursor: where a cursor export's read goes on (the
            :class:`~flolive.CursorToken` after the last chunk recorded), or
            ``None``; it is good only while the server's session lives.
    """

    version: Annotated[int, msgspec.Meta(ge=1)] = CHECKPOINT_VERSION
    job: dict[str, str | int]
    format: Annotated[str, msgspec.Meta(min_length=1)]
    page_size: Count
    page_base: Annotated[int, msgspec.Meta(ge=0, le=1)]
    next: Count
    offset: Count = 0
    parts: Count = 0
    items: Count = 0
    pages: Count = 0
    expected: Count = 0
    failed: list[tuple[str, str]] = []
    failures: list[IdentifierFailure] = []
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

    def save(self, output: str, run: str | None = None) -> None:
        """Replace ``output``'s checkpoint with this one, atomically and
        durably, through a temporary file named after ``run`` (default: a
        fresh :func:`run_tag`)."""
        path = self.path_for(output)
        tmp = path.with_name(f"{path.name}.{run or run_tag()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(msgspec.json.encode(self))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)

    @classmethod
    def load(cls, output: str) -> Checkpoint | None:
        """``output``'s checkpoint, or ``None`` when it has none.

        Raises:
            CheckpointInvalid: the file is not a checkpoint this version trusts.
        """
        path = cls.path_for(output)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            ckpt = msgspec.json.decode(data, type=cls)
        except msgspec.ValidationError as exc:
            raise CheckpointInvalid(str(path), str(exc)) from None
        except (msgspec.DecodeError, UnicodeDecodeError):
            raise CheckpointInvalid(str(path), "not a checkpoint (unreadable JSON)") from None
        problem = ckpt._problem()
        if problem:
            raise CheckpointInvalid(str(path), problem)
        return ckpt

    def _problem(self) -> str | None:
        """What is wrong with this record's fields taken together, or ``None``."""
        if self.version > CHECKPOINT_VERSION:
            return f"version {self.version} is newer than this flolive reads ({CHECKPOINT_VERSION})"
        kind = self.job.get("kind")
        if kind not in JOB_KINDS:
            return f"unknown job kind {kind!r} (expected one of {', '.join(sorted(JOB_KINDS))})"
        if self.offset and self.parts:
            return f"both offset {self.offset} and parts {self.parts} are set"
        if kind == "labels":
            if self.pages > self.next:
                return f"pages {self.pages} exceeds next {self.next}"
        elif self.job.get("read") == "cursor":
            if self.page_size < 1 or self.page_size > 10_000:
                return f"chunk size {self.page_size} is not between 1 and 10,000"
            if self.started and self.cursor is None:
                return "it records no cursor position: cannot resume"
        elif self.page_size < 1:
            return f"page_size {self.page_size} is not positive"
        elif self.next < self.page_base:
            return f"next page {self.next} is below the page base {self.page_base}"
        if len(self.failures) > self.pages:
            return f"{len(self.failures)} failures recorded for {self.pages} identifiers"
        return None

    @classmethod
    def remove(cls, output: str) -> None:
        """Delete ``output``'s checkpoint and any half-written replacement of
        it (of any run: the caller holds the output's lock)."""
        path = cls.path_for(output)
        path.unlink(missing_ok=True)
        for tmp in path.parent.glob(glob_escape(path.name) + "*.tmp"):
            tmp.unlink(missing_ok=True)


def glob_escape(name: str) -> str:
    """``name`` as a glob pattern that matches only itself."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
