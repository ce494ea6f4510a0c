"""Bulk export of listings to JSONL, CSV or Parquet, with exactly-once resume.

Resume protocol: a checkpoint file beside the output
(``FILE.flolive-checkpoint``) records what of the output is durably written
and holds whole pages only, the next page (or identifier) to read, and the
server's page size and base. The first checkpoint is written before the first
byte of the output; each later one replaces it atomically (write, fsync,
rename) only *after* what it records was fsynced. An export that fails before
recording any progress removes its output and checkpoint.

- JSONL and CSV are written in place: the checkpoint records the output's
  durable length, and ``resume=True`` truncates the output to it and goes on
  from the recorded page.
- Parquet ends in a footer and cannot be appended to: rows are written as part
  files in ``FILE.flolive-parts/`` (the checkpoint counts the durable ones),
  and joined at the end into ``FILE.flolive-partial-RUN``, which is renamed to
  ``FILE`` when complete; then the checkpoint and the parts go. ``resume=True``
  drops parts written after the checkpoint and goes on.

After a crash at any moment, every item lands exactly once, in order, and the
finished output is byte-identical to an uninterrupted export's.

A point-in-time cursor export (:func:`export_all_subscribers`) records the
read's :class:`~flolive.CursorToken` in each checkpoint and resumes with it,
which works only while the server's session lives (its keep-alive minutes
after the last call); past it the resume raises :class:`~flolive.CursorExpired`
and leaves the files as they were.

Modules: :mod:`.writers` (one writer per format, chosen from a registry),
:mod:`.checkpoint`, :mod:`.output` (opening rules, the lock, durable
writes), :mod:`.sources` (what each export reads) and :mod:`.jobs` (the one
export loop and the job functions).
"""

from .checkpoint import CHECKPOINT_SUFFIX, Checkpoint
from .errors import (
    CheckpointInvalid,
    ExportError,
    InvalidIdentifier,
    NothingToResume,
    OutputError,
    OutputLocked,
    Remedy,
)
from .identifiers import (
    IDENTIFIER_DIGITS,
    IdentifierFailure,
    check_identifier,
    read_identifiers,
    read_values,
)
from .jobs import (
    ExportResult,
    NoProgress,
    Progress,
    export_all_subscribers,
    export_labels,
    export_participants,
    export_subscribers,
    run_export,
)
from .output import LOCK_SUFFIX, PARTIAL_SUFFIX, PARTS_SUFFIX
from .sources import CursorSource, LabelSource, PagedSource, Source, Step
from .writers import (
    FORMATS,
    CsvWriter,
    Format,
    JsonlWriter,
    ParquetWriter,
    PartsWriter,
    SubscriberLabel,
    Writer,
    format_for,
    register_format,
)

__all__ = [
    "CHECKPOINT_SUFFIX",
    "Checkpoint",
    "CheckpointInvalid",
    "CsvWriter",
    "CursorSource",
    "ExportError",
    "ExportResult",
    "FORMATS",
    "Format",
    "IDENTIFIER_DIGITS",
    "IdentifierFailure",
    "InvalidIdentifier",
    "JsonlWriter",
    "LOCK_SUFFIX",
    "LabelSource",
    "NoProgress",
    "NothingToResume",
    "OutputError",
    "OutputLocked",
    "PARTIAL_SUFFIX",
    "PARTS_SUFFIX",
    "PagedSource",
    "ParquetWriter",
    "PartsWriter",
    "Progress",
    "Remedy",
    "Source",
    "Step",
    "SubscriberLabel",
    "Writer",
    "check_identifier",
    "export_all_subscribers",
    "export_labels",
    "export_participants",
    "export_subscribers",
    "format_for",
    "read_identifiers",
    "read_values",
    "register_format",
    "run_export",
]
