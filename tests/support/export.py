"""Exporter test support: progress sinks that interrupt an export, and the
files an export leaves."""

from __future__ import annotations

import os
from pathlib import Path

from flolive.export import LOCK_SUFFIX


class Interrupt(Exception):
    """Raised by :class:`StopAfter` to stop an export in process."""


class StopAfter:
    """A progress sink that interrupts the export after some advances."""

    def __init__(self, advances: int) -> None:
        self.left = advances
        self.started: tuple[int | None, int, int, int | None] | None = None

    def start(self, total: int | None, **counts: int | None) -> None:
        items, pages = counts.get("items") or 0, counts.get("pages") or 0
        self.started = (total, items, pages, counts.get("total_pages"))

    def advance(self, items: int, pages: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise Interrupt

    def stop(self) -> None:
        pass


class SeeParts(StopAfter):
    """Interrupts after ``at`` advances, noting the part files there were then."""

    def __init__(self, parts: Path, at: int) -> None:
        super().__init__(at - 1)
        self.parts = parts
        self.listing: list[str] = []

    def advance(self, items: int, pages: int) -> None:
        if self.left == 0:
            self.listing = sorted(os.listdir(self.parts))
        super().advance(items, pages)


def files_of(directory: Path) -> dict[Path, bytes]:
    """Every file under ``directory`` with its bytes, but a lock file a killed
    run left (not held; the next run on that output removes it)."""
    return {
        p: p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file() and not p.name.endswith(LOCK_SUFFIX)
    }
