"""Killing and signalling the ``flolive`` command on events (never after a
delay): waits for a checkpoint or a held page request, the kill loop of the
resume tests, and what a checkpoint on disk says."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flolive.export import CHECKPOINT_SUFFIX

from .cli import spawn

if TYPE_CHECKING:
    from tests.conftest import PageGate

#: A kill point (see :func:`kill_at_each`): ``("spawn",)`` at 0 ms, right after
#: the process started; ``("checkpoint",)`` as soon as the checkpoint file
#: exists (the output may not yet); ``("held", n, interval)`` once page n is
#: requested, with pages below n served and checkpoints every ``interval``
#: s (so pages may be written past the checkpoint); ``("saved", n)``: pages
#: below n served, a checkpoint after every page, killed as soon as the
#: checkpoint says page n is next.
KillPoint = tuple[object, ...]


async def kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL, and check it was the kill that ended the process."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)
    _, err = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()


async def until(
    condition: Callable[[], bool], proc: asyncio.subprocess.Process, timeout: float = 60
) -> None:
    """Wait for ``condition`` (an event on disk) while ``proc`` runs; the
    timeout only bounds a broken test."""
    async with asyncio.timeout(timeout):
        while not condition():
            assert proc.returncode is None, "the export ended before the awaited event"
            await asyncio.sleep(0.005)


def checkpoint_of(out: Path) -> Path:
    """The checkpoint file of output ``out``."""
    return Path(str(out) + CHECKPOINT_SUFFIX)


def checkpoint_next(out: Path) -> int | None:
    """The ``next`` the checkpoint of ``out`` records, or ``None`` without one."""
    try:
        return int(json.loads(checkpoint_of(out).read_bytes())["next"])
    except FileNotFoundError:
        return None


async def kill_when_saved(args: Sequence[str], gate: PageGate, out: Path, page: int) -> None:
    """Serve the pages below ``page``, run the export ``args`` with a
    checkpoint after every page, and SIGKILL it once its checkpoint says
    ``page`` is next."""
    await gate.open_to(page)
    proc = await spawn(*args, "--checkpoint-interval", "0")
    await until(lambda: checkpoint_next(out) == page, proc)
    await kill(proc)


async def kill_at_each(
    points: Sequence[KillPoint],
    args: Sequence[str],
    gate: PageGate,
    out: Path,
    after_each: Callable[[], None] = lambda: None,
) -> None:
    """Run the export ``args`` (its output ``out``) once per kill point, each
    run but the first with ``--resume``, and SIGKILL it at that point;
    ``after_each()`` checks the files after each kill."""
    for i, (kind, *point) in enumerate(points):
        resume = ["--resume"] if i else []
        mark = len(gate.log)
        if kind == "spawn":
            await kill(await spawn(*args, *resume))
        elif kind == "checkpoint":
            proc = await spawn(*args, *resume)
            await until(checkpoint_of(out).exists, proc)
            await kill(proc)
        elif kind == "held":
            page, interval = point
            assert isinstance(page, int)
            await gate.open_to(page)
            proc = await spawn(*args, *resume, "--checkpoint-interval", str(interval))
            await gate.until_held(page, since=mark)
            await kill(proc)
        else:
            (page,) = point
            assert isinstance(page, int)
            await kill_when_saved([*args, *resume], gate, out, page)
        after_each()
