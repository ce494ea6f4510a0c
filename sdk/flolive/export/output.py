"""An export's output, from opening to commit or abort: the rules of opening
(fresh, resume, overwrite), the lock that keeps one run per output, the two
ways a format is written (in place, in parts) and durable checkpoints.

Every run on a file output holds ``FILE.flolive-lock`` (``flock``,
exclusive, non-blocking) from opening to the end: a second run on the same
output is refused with :class:`~flolive.export.OutputLocked` before it reads
or changes anything, and the kernel releases the lock of a run that died
however it died. Temporary names carry a tag unique to the run; leftovers of
a dead run are removed by the next run, which holds the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import msgspec

from ..errors import FloliveError
from .checkpoint import Checkpoint, fsync_dir, glob_escape, run_tag
from .errors import ExportError, NothingToResume, OutputError, OutputLocked, Remedy
from .writers import FORMATS, Format, PartsWriter, Writer

__all__ = ["LOCK_SUFFIX", "PARTIAL_SUFFIX", "PARTS_SUFFIX", "Output", "committing", "open_output"]

_log = logging.getLogger("flolive.export")

#: Suffix of the directory beside the output that holds the parts of a format
#: written in parts (Parquet) until they are joined into the output.
PARTS_SUFFIX = ".flolive-parts"
#: Prefix of the temporary name the joined file is written under until complete.
PARTIAL_SUFFIX = ".flolive-partial"
#: Suffix of the lock file a run holds beside its output.
LOCK_SUFFIX = ".flolive-lock"


class _Lock:
    """The exclusive lock of one output for one run (see the module's doc)."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.path = Path(output + LOCK_SUFFIX)
        self._fd: int | None = None

    def acquire(self) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise OutputLocked(self.output, str(self.path)) from None
            except BaseException:
                os.close(fd)
                raise
            # A run that finished between our open and our flock removed the
            # file we locked: lock the one at the path now.
            try:
                now = os.stat(self.path)
            except FileNotFoundError:
                now = None
            mine = os.fstat(fd)
            if now is not None and (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino):
                self._fd = fd
                return
            os.close(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # while still held: no other run holds this file
        os.close(self._fd)
        self._fd = None


class Output:
    """One export's output, from opening to commit or abort."""

    def __init__(self, output: str, checkpoint: Checkpoint | None, interval: float) -> None:
        self.output = output
        #: The checkpoint on disk (``None`` for a stream): what a resume would find.
        self.checkpoint = checkpoint
        self.interval = interval
        self.run = run_tag()
        self.lock: _Lock | None = None
        self._last_save = time.monotonic()
        self._latest: dict[str, Any] | None = None

    @property
    def recorded(self) -> Checkpoint | None:
        """The checkpoint on disk if it records progress (when the export
        starts: the one it resumes from), else ``None``."""
        ckpt = self.checkpoint
        return ckpt if ckpt is not None and ckpt.started else None

    def write(self, rows: Sequence[Any]) -> None:
        """Write one page (or identifier) of rows."""
        raise NotImplementedError

    def _make_durable(self) -> dict[str, int]:
        """Make every row written so far durable; the checkpoint fields that record it."""
        raise NotImplementedError

    def save(self, **fields: Any) -> None:
        """Record progress (``fields`` of :class:`Checkpoint`), at most every
        ``interval`` seconds: the rows first (fsync), then the claim about them."""
        if self.checkpoint is None:
            return
        self._latest = fields
        now = time.monotonic()
        if now - self._last_save >= self.interval:
            self._last_save = now
            self._save_latest()

    def _save_latest(self) -> None:
        assert self.checkpoint is not None
        if self._latest is None:
            return
        ckpt = msgspec.structs.replace(self.checkpoint, **self._latest, **self._make_durable())
        ckpt.save(self.output, self.run)
        self.checkpoint = ckpt
        self._latest = None

    def interrupted(self) -> None:
        """The export was stopped (cancelled): record what was written."""
        if self.checkpoint is not None:
            with contextlib.suppress(OSError):
                self._save_latest()

    def commit(self) -> None:
        """The export is complete: finish the format, make it durable under
        the output's name, drop the checkpoint."""
        raise NotImplementedError

    def abort(self) -> None:
        """The export failed: close what is open. Progress stays for a resume,
        unless none was recorded: then the output and its checkpoint go too
        (the next run starts afresh)."""
        raise NotImplementedError

    def release(self) -> None:
        """End the run: give up the output's lock."""
        if self.lock is not None:
            self.lock.release()


class _Appended(Output):
    """A format whose bytes are always a prefix of the finished file, written
    in place (a regular file, with a checkpoint) or to a stream (stdout, a
    device, a pipe: nothing to sync, rename or resume)."""

    def __init__(
        self,
        output: str,
        fh: IO[bytes],
        writer: Writer,
        *,
        checkpoint: Checkpoint | None = None,
        interval: float = 0.5,
    ) -> None:
        super().__init__(output, checkpoint, interval)
        self.fh = fh
        self.writer = writer

    def write(self, rows: Sequence[Any]) -> None:
        self.writer.write(rows)

    def _make_durable(self) -> dict[str, int]:
        self.writer.flush()
        self.fh.flush()
        os.fsync(self.fh.fileno())
        return {"offset": self.fh.tell()}

    def commit(self) -> None:
        self.writer.finish()
        self.fh.flush()
        if self.checkpoint is None:  # a stream
            self.fh.close()
            return
        os.fsync(self.fh.fileno())
        self.fh.close()
        # A kill before this line leaves a complete output whose checkpoint
        # is behind it: a resume truncates and rewrites the same bytes.
        Checkpoint.remove(self.output)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.close()
        if self.checkpoint is not None and self.recorded is None:
            with contextlib.suppress(OSError):
                Path(self.output).unlink(missing_ok=True)
                Checkpoint.remove(self.output)


def _remove_parts(directory: Path) -> None:
    if directory.is_dir() and not directory.is_symlink():
        shutil.rmtree(directory, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            directory.unlink(missing_ok=True)


class _InParts(Output):
    """A format written as part files in ``FILE.flolive-parts/`` and joined
    into ``FILE`` at the end.

    A part is written under a temporary name, fsynced and renamed; the
    checkpoint counts the parts only after the directory was fsynced too. The
    joined file is written under a temporary name, fsynced and renamed to
    ``FILE``; then the checkpoint goes, then the parts. A kill before the
    checkpoint goes resumes (and joins again); parts left after it are a
    finished export's, removed by the next run on that output.
    """

    def __init__(
        self, output: str, writer: PartsWriter, checkpoint: Checkpoint, *, interval: float = 0.5
    ) -> None:
        super().__init__(output, checkpoint, interval)
        self.writer = writer
        self.directory = Path(output + PARTS_SUFFIX)
        self.partial = Path(f"{output}{PARTIAL_SUFFIX}-{self.run}")
        self.parts = checkpoint.parts

    def _part(self, index: int) -> Path:
        return self.directory / f"{index:06d}.part"

    def _write_part(self) -> None:
        tmp = self.directory / f"{self.parts:06d}.{self.run}.tmp"
        with open(tmp, "wb") as fh:
            self.writer.write_part(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._part(self.parts))
        self.parts += 1

    def write(self, rows: Sequence[Any]) -> None:
        self.writer.write(rows)
        if self.writer.held >= self.writer.part_rows:
            self._write_part()  # bounds memory; counted at the next checkpoint

    def _make_durable(self) -> dict[str, int]:
        if self.writer.held:
            self._write_part()
        fsync_dir(self.directory)
        return {"parts": self.parts}

    def commit(self) -> None:
        if self.writer.held:
            self._write_part()
        with open(self.partial, "wb") as fh:
            self.writer.join([self._part(i) for i in range(self.parts)], fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(self.partial, self.output)
        fsync_dir(Path(self.output).parent)
        Checkpoint.remove(self.output)
        _remove_parts(self.directory)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.partial.unlink(missing_ok=True)
            if self.recorded is None:
                _remove_parts(self.directory)
                Checkpoint.remove(self.output)


def _make_writer(
    fmt: Format,
    fh: IO[bytes],
    row_type: type[Any],
    header: bool,
    discard: Callable[[], None] = lambda: None,
) -> Writer:
    """``fmt``'s appending writer on ``fh``; if it cannot be made, close
    ``fh`` and ``discard`` what was created for it."""
    assert fmt.append is not None
    try:
        return fmt.append(fh, row_type, header)
    except BaseException:
        fh.close()
        discard()
        raise


def _refuse_other_job(o: _Opening, ckpt: Checkpoint) -> None:
    if ckpt.job != o.job or ckpt.format != o.fmt.name:
        raise ExportError(
            f"checkpoint {Checkpoint.path_for(o.output)} belongs to another export "
            f"({ckpt.job}, {ckpt.format})",
            remedy=Remedy.START_AGAIN,
        )


def _remove_leftovers(output: str) -> None:
    """Temporary files of dead runs on ``output`` (the caller holds its lock)."""
    path = Path(output)
    for partial in path.parent.glob(glob_escape(path.name + PARTIAL_SUFFIX) + "*"):
        partial.unlink(missing_ok=True)


async def _open_stream(path: Path) -> IO[bytes]:
    """Open a FIFO or device for writing without blocking the loop: ``open``
    of a FIFO waits in C for a reader, so it runs in a thread, and a
    cancelled wait is ended by opening the FIFO for reading ourselves."""
    try:  # a device, or a FIFO with a reader: at once
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno != errno.ENXIO:
            raise
    else:
        os.set_blocking(fd, True)
        return os.fdopen(fd, "wb")
    _log.info("waiting for a reader of %s", path)  # -v shows it: the run is not stuck
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[int] = loop.create_future()

    def run() -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as exc:
            error = exc

            def fail() -> None:
                if not opened.done():
                    opened.set_exception(error)

            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(fail)
            return

        def hand_over() -> None:
            if opened.done():  # cancelled meanwhile: nobody owns the file
                os.close(fd)
            else:
                opened.set_result(fd)

        try:
            loop.call_soon_threadsafe(hand_over)
        except RuntimeError:  # the loop is closed
            os.close(fd)

    thread = threading.Thread(target=run, name="flolive-open", daemon=True)
    thread.start()
    try:
        fd = await opened
    except asyncio.CancelledError:
        # Unblock the thread's open: a reader (us, for a moment) arrives.
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        raise
    return os.fdopen(fd, "wb")


@dataclass(frozen=True)
class _Opening:
    """What an export asks of its output (see :func:`open_output`)."""

    output: str
    fmt: Format
    row_type: type[Any]
    job: dict[str, str | int]
    initial: Checkpoint
    resume: bool
    overwrite: bool
    interval: float


async def open_output(
    output: str,
    fmt_name: str,
    row_type: type[Any],
    *,
    job: dict[str, str | int],
    initial: Checkpoint,
    resume: bool,
    overwrite: bool,
    interval: float,
) -> Output:
    """Open the output for a fresh export or a resume, enforcing the rules.

    ``initial`` is the checkpoint of a fresh start (nothing written yet); it is
    on disk before the first byte of the output is, so an export killed at any
    moment can be resumed.

    Raises:
        OutputError: a file operation failed (naming the output and the file).
        OutputLocked: another run holds the output's lock.
        ExportError: the rules refuse the output.
    """
    if resume and overwrite:
        raise ExportError(
            "exclude each other: resuming continues the output, overwriting starts it again",
            refused=("resume", "overwrite"),
        )
    fmt = FORMATS.get(fmt_name)
    if fmt is None:
        raise ExportError(f"unknown format {fmt_name!r}; choose one of {', '.join(FORMATS)}")
    o = _Opening(output, fmt, row_type, job, initial, resume, overwrite, interval)
    try:
        opened = _open(o)
        if isinstance(opened, Output):
            return opened
        fh = await _open_stream(opened)
        return _Appended(output, fh, _make_writer(fmt, fh, row_type, True))
    except OSError as exc:
        raise OutputError.from_os(exc, output) from None


def _open(o: _Opening) -> Output | Path:
    """The opened output, or the path of a stream still to open."""
    output, fmt = o.output, o.fmt
    if output == "-":
        if o.resume:
            raise ExportError("needs a file output, not stdout", refused=("resume",))
        if not fmt.streams:
            raise ExportError(f"{fmt.title} cannot be written to stdout")
        out = os.fdopen(os.dup(1), "wb")
        return _Appended(output, out, _make_writer(fmt, out, o.row_type, True))
    path = Path(output)
    if not path.parent.is_dir():
        raise OutputError(output, f"directory {path.parent} does not exist")
    if path.is_dir():
        raise OutputError(output, "it is a directory")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        # A device or a named pipe (/dev/null, a FIFO): nothing to clobber,
        # nothing to fsync, nothing to resume, nothing to lock.
        if o.resume:
            raise ExportError(f"needs a regular file; {output} is not one", refused=("resume",))
        if not fmt.streams:
            raise ExportError(f"{fmt.title} cannot be written to {output}: not a regular file")
        return path
    lock = _Lock(output)
    lock.acquire()
    try:
        _remove_leftovers(output)
        opened = _open_parts(o) if fmt.parts is not None else _open_appended(o)
    except BaseException:
        lock.release()
        raise
    opened.lock = lock
    return opened


def _open_appended(o: _Opening) -> Output:
    path = Path(o.output)
    if o.resume:
        ckpt = Checkpoint.load(o.output)
        if ckpt is None and path.exists():
            raise NothingToResume(o.output)
        if ckpt is not None:
            return _resume(o, ckpt)
    elif path.exists() and not o.overwrite:
        raise ExportError(f"{o.output} exists", remedy=Remedy.RESUME_OR_OVERWRITE)
    o.initial.save(o.output)  # before the first byte of the output
    try:
        fh = open(path, "wb")  # noqa: SIM115 - owned by the Output
    except OSError:
        Checkpoint.remove(o.output)
        raise

    def discard() -> None:
        path.unlink(missing_ok=True)
        Checkpoint.remove(o.output)

    writer = _make_writer(o.fmt, fh, o.row_type, True, discard)
    return _Appended(o.output, fh, writer, checkpoint=o.initial, interval=o.interval)


def _resume(o: _Opening, ckpt: Checkpoint) -> Output:
    _refuse_other_job(o, ckpt)
    path = Path(o.output)
    size = path.stat().st_size if path.exists() else 0
    if size < ckpt.offset:
        raise ExportError(
            f"{o.output} holds {size} bytes but its checkpoint says {ckpt.offset} were "
            "written: cannot resume",
            remedy=Remedy.START_AGAIN,
        )
    fh: IO[bytes] = open(path, "r+b" if path.exists() else "wb")  # noqa: SIM115
    fh.truncate(ckpt.offset)  # whatever was written after the checkpoint goes
    fh.seek(ckpt.offset)
    # A checkpoint at offset 0 was taken before the first byte: the header too
    # is still to be written.
    writer = _make_writer(o.fmt, fh, o.row_type, ckpt.offset == 0)
    return _Appended(o.output, fh, writer, checkpoint=ckpt, interval=o.interval)


def _open_parts(o: _Opening) -> Output:
    assert o.fmt.parts is not None
    output = o.output
    path = Path(output)
    directory = Path(output + PARTS_SUFFIX)
    # Overwriting starts over whatever state the old files are in: the old
    # checkpoint is not even read.
    ckpt = None if o.overwrite else Checkpoint.load(output)
    if o.resume and ckpt is not None:
        _refuse_other_job(o, ckpt)
    elif o.resume:
        # Parts without a checkpoint are a finished export's: it removes its
        # checkpoint first, then its parts.
        _remove_parts(directory)
        if path.exists():
            raise NothingToResume(output)
    elif not o.overwrite:
        if ckpt is not None and ckpt.started:
            raise ExportError(
                f"{output}: an interrupted export left {Checkpoint.path_for(output).name}",
                remedy=Remedy.RESUME_OR_START_AGAIN,
            )
        if path.exists():
            raise ExportError(f"{output} exists", remedy=Remedy.REPLACE)
    writer = o.fmt.parts(o.row_type)  # before anything is on disk: it may fail
    if o.resume and ckpt is not None:
        directory.mkdir(exist_ok=True)
        recorded = {f"{i:06d}.part" for i in range(ckpt.parts)}
        present = {entry.name for entry in directory.iterdir()}
        missing = sorted(recorded - present)
        if missing:
            raise ExportError(
                f"{directory} lacks {missing[0]}, which its checkpoint records: cannot resume",
                remedy=Remedy.START_AGAIN,
            )
        for name in present - recorded:  # written after the checkpoint
            (directory / name).unlink()
        return _InParts(output, writer, ckpt, interval=o.interval)
    _remove_parts(directory)  # an earlier export's, started again
    Checkpoint.remove(output)
    o.initial.save(output)  # before the first part
    try:
        directory.mkdir()
    except OSError:
        Checkpoint.remove(output)
        raise
    return _InParts(output, writer, o.initial, interval=o.interval)


@contextlib.contextmanager
def committing(out: Output) -> Iterator[None]:
    """Commit the output when the block succeeds, abort it on any failure
    (a cancelled block first records what was written); the lock goes last.
    An ``OSError`` on the output becomes an :class:`OutputError` naming it;
    the SDK's errors (a timeout is an ``OSError`` too) pass as they are."""
    try:
        try:
            yield
            out.commit()
        except asyncio.CancelledError:
            out.interrupted()
            out.abort()
            raise
        except BaseException:
            out.abort()
            raise
        finally:
            out.release()
    except FloliveError:
        raise
    except BrokenPipeError as exc:
        if out.output == "-":
            raise  # stdout's reader went away (`| head`): the command ends quietly
        raise OutputError(
            out.output, "its reader went away (broken pipe)", errno=exc.errno
        ) from None
    except OSError as exc:
        raise OutputError.from_os(exc, out.output) from None
