"""A soak of randomly timed double signals against ``flolive export``: each
trial starts an export, waits for an event (its first checkpoint, or just the
start of the process), sends a signal after a random offset and a second one
after another, then checks how the process ended and that ``--resume``
finishes the output exactly."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .cli import FLOLIVE, arun
from .kill import checkpoint_of

#: The signals a trial draws from.
STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class SoakReport:
    """What the trials of a soak saw."""

    trials: int = 0
    #: trials whose export ended before the first signal (nothing to check but the file)
    finished_first: int = 0
    hangs: int = 0
    #: trials timed from the spawn (not checked: see :func:`one_trial`)
    spawn_trials: int = 0
    #: of those, the ones Python's default handling ended (a traceback or a
    #: death by the signal): it landed before the command's handlers existed
    before_handlers: int = 0
    tracebacks: int = 0
    wrong: list[str] = field(default_factory=list)
    codes: Counter[int] = field(default_factory=Counter)

    def line(self) -> str:
        return (
            f"{self.trials} trials: {self.hangs} hangs, {self.tracebacks} tracebacks, "
            f"{len(self.wrong)} wrong, {self.finished_first} finished before the signal, "
            f"of {self.spawn_trials} timed from the spawn {self.before_handlers} landed before "
            "the handlers existed; "
            f"exit codes {dict(sorted(self.codes.items()))}"
        )


def _stopped_by(code: int, lines: list[str], sent: tuple[int, int]) -> bool:
    """Whether the process ended as stopped by the first signal it received:
    exit 128 + N and one line naming N. Two signals sent a moment apart may
    be pending together, and the kernel then delivers the lower number first,
    so either of the two sent may be the first received."""
    if code - 128 not in sent or len(lines) != 1:
        return False
    return lines[0] == f"flolive: interrupted by {signal.Signals(code - 128).name}"


def handles_signals(pid: int) -> bool:
    """Whether process ``pid`` catches SIGTERM and SIGHUP (the command's
    handlers are installed: ``SigCgt`` in ``/proc/PID/status``)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            caught = int(line.split()[1], 16)
            return all(caught >> (sig - 1) & 1 for sig in (signal.SIGTERM, signal.SIGHUP))
    return False


async def _event(proc: asyncio.subprocess.Process, out: Path, on: str) -> None:
    """Wait for the trial's event: ``"spawn"`` (none), ``"start"`` (the
    command's handlers are installed: the rest of start-up is ahead), or
    ``"checkpoint"`` (the first checkpoint on disk)."""
    if on == "spawn":
        return
    ready = (lambda: handles_signals(proc.pid)) if on == "start" else checkpoint_of(out).exists
    async with asyncio.timeout(60):  # bounds a broken test only
        while not ready() and proc.returncode is None:
            await asyncio.sleep(0.001)


async def one_trial(
    report: SoakReport,
    rng: random.Random,
    args: Sequence[str],
    out: Path,
    full: bytes,
    on: str,
    hang_after: float = 30,
) -> None:
    """One trial (see the module's doc); its findings go into ``report``."""
    first, second = rng.choice(STOPPING), rng.choice(STOPPING)
    offset, gap = rng.uniform(0, 0.15), rng.uniform(0, 0.02)
    proc = await asyncio.create_subprocess_exec(
        *FLOLIVE,
        *args,
        "-o",
        str(out),
        "-q",
        "--checkpoint-interval",
        "0",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    await _event(proc, out, on)
    await asyncio.sleep(offset)  # a random offset after the event
    sent = proc.returncode is None
    if sent:
        proc.send_signal(first)
        await asyncio.sleep(gap)
        if proc.returncode is None:
            proc.send_signal(second)
    try:
        async with asyncio.timeout(hang_after):
            _, err_b = await proc.communicate()
    except TimeoutError:
        report.hangs += 1
        proc.kill()
        await proc.communicate()
        return
    finally:
        report.trials += 1
    err = err_b.decode()
    assert proc.returncode is not None
    report.codes[proc.returncode] += 1
    if on == "spawn":
        # Before the command's handlers exist (interpreter start, `import
        # flolive`) Python's defaults act: only counted.
        report.before_handlers += proc.returncode in (-first, -second) or "Traceback" in err
        report.spawn_trials += 1
        return
    if "Traceback" in err or "Exception ignored" in err:
        report.tracebacks += 1
        report.wrong.append(f"{on}: traceback: {err[-300:]!r}")
        return
    lines = err.strip().splitlines()
    if proc.returncode == 0 and not sent:
        report.finished_first += 1
    elif proc.returncode == 0 and not lines:
        report.finished_first += 1  # ended (quietly, -q) before the signal landed
    elif not _stopped_by(proc.returncode, lines, (first, second)):
        report.wrong.append(f"{on}: {first!r}, {second!r}: exit {proc.returncode}, stderr {err!r}")
        return
    if out.exists() or checkpoint_of(out).exists():
        code, _, err = await arun(*args, "-o", str(out), "-q", "--resume")
        if code != 0:
            report.wrong.append(f"{on}: resume exit {code}: {err!r}")
            return
    else:
        code, _, err = await arun(*args, "-o", str(out), "-q")  # stopped before any file
        if code != 0:
            report.wrong.append(f"{on}: rerun exit {code}: {err!r}")
            return
    if out.read_bytes() != full:
        report.wrong.append(f"{on}: the resumed output differs")
    leftovers = sorted(p.name for p in out.parent.iterdir() if p != out)
    if leftovers:
        report.wrong.append(f"{on}: files left: {leftovers}")
