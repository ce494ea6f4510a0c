"""Bulk export of listings to JSONL, CSV or Parquet, with exactly-once resume.

Resume protocol (JSONL and CSV): a checkpoint file beside the output
(``FILE.flolive-checkpoint``) records the byte length of the output that is
durably written and holds whole pages only, the next page (or identifier) to
read, and the server's page size and base. The first checkpoint is written
before the first byte of the output; each later one replaces it atomically
(write, fsync, rename) only *after* the output was fsynced. After a crash at
any moment, ``resume=True`` truncates the output to the recorded length and
goes on from the recorded page: every item lands exactly once. An export that
fails before recording any progress removes its output and checkpoint.

Parquet files end in a footer and cannot be appended to: they are written
under a temporary name (``FILE.flolive-partial``) and renamed when complete,
and refuse ``resume``.

Modules: :mod:`.writers` (one writer per format, chosen from a registry),
:mod:`.checkpoint` and :mod:`.jobs` (the export loops).
"""

from .checkpoint import CHECKPOINT_SUFFIX, Checkpoint
from .errors import ExportError, NothingToResume, OutputError
from .jobs import (
    PARTIAL_SUFFIX,
    ExportResult,
    NoProgress,
    Progress,
    export_labels,
    export_participants,
    read_values,
)
from .writers import (
    FORMATS,
    CsvWriter,
    Format,
    JsonlWriter,
    ParquetWriter,
    SubscriberLabel,
    Writer,
    format_for,
    register_format,
)

__all__ = [
    "CHECKPOINT_SUFFIX",
    "Checkpoint",
    "CsvWriter",
    "ExportError",
    "ExportResult",
    "FORMATS",
    "Format",
    "JsonlWriter",
    "NoProgress",
    "NothingToResume",
    "OutputError",
    "PARTIAL_SUFFIX",
    "ParquetWriter",
    "Progress",
    "SubscriberLabel",
    "Writer",
    "export_labels",
    "export_participants",
    "format_for",
    "read_values",
    "register_format",
]
