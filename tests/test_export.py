"""The export layer in-process: checkpoints, resume rules, label failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flolive import Client
from flolive.export import Checkpoint, ExportError, export_labels, export_participants
from flolive.sandbox import DataSet, Sandbox


class Interrupt(Exception):
    pass


class StopAfter:
    """A progress sink that interrupts the export after some advances."""

    def __init__(self, advances: int) -> None:
        self.left = advances

    def start(self, total: int | None) -> None:
        pass

    def advance(self, items: int, pages: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise Interrupt

    def stop(self) -> None:
        pass


async def test_label_failures_survive_a_resume(tmp_path: Path) -> None:
    data = DataSet()
    values = [
        "8935779999999999999",  # no such subscriber
        data.identifier("iccid", 1, 3, 999),
        data.identifier("iccid", 1, 3, 5),
        data.identifier("iccid", 1, 3, 7),
    ]
    out = str(tmp_path / "labels.jsonl")
    async with Sandbox() as url, Client(base_url=url) as client:
        with pytest.raises(Interrupt):
            await export_labels(
                client, "iccid", values, out, progress=StopAfter(1), checkpoint_interval=0
            )
        ckpt = Checkpoint.load(out)
        assert ckpt is not None
        assert ckpt.next == 2
        assert [v for v, _ in ckpt.failed] == [values[0]]
        result = await export_labels(client, "iccid", values, out, resume=True)
    assert [v for v, _ in result.failed] == [values[0]]
    assert "SUBSCRIBER_1002" in result.failed[0][1]
    rows = [json.loads(line) for line in Path(out).read_text().splitlines()]
    counts = {v: sum(r["idValue"] == v for r in rows) for v in values}
    sub = {i: data.find_subscriber("iccid", data.identifier("iccid", 1, 3, i)) for i in (999, 5, 7)}
    assert counts == {
        values[0]: 0,
        values[1]: 45,
        values[2]: data.label_count(sub[5]),  # type: ignore[arg-type]
        values[3]: data.label_count(sub[7]),  # type: ignore[arg-type]
    }


async def test_resume_refuses_another_jobs_checkpoint(tmp_path: Path) -> None:
    out = str(tmp_path / "p.jsonl")
    async with Sandbox() as url, Client(base_url=url, page_size=10) as client:
        with pytest.raises(Interrupt):
            await export_participants(
                client, 1, 1, out, progress=StopAfter(3), checkpoint_interval=0
            )
        with pytest.raises(ExportError, match="belongs to another export"):
            await export_participants(client, 1, 5, out, resume=True)
        with pytest.raises(ExportError, match="belongs to another export"):
            await export_participants(client, 1, 1, out, resume=True, fmt="csv")
        # Bytes written after the checkpoint are dropped on resume.
        with open(out, "ab") as fh:
            fh.write(b'{"partial": ')
        result = await export_participants(client, 1, 1, out, resume=True)
    ids = [json.loads(line)["id"] for line in Path(out).read_text().splitlines()]
    assert ids == [1_030_247 + i for i in range(988)]
    assert result.resumed_at is not None
    assert result.resumed_at > 0


async def test_a_server_page_size_cap_is_recorded_and_reused(tmp_path: Path) -> None:
    out = str(tmp_path / "p.csv")
    sandbox = Sandbox(max_page_size=40, record=True)
    async with sandbox as url, Client(base_url=url) as client:
        with pytest.raises(Interrupt):
            await export_participants(
                client,
                1,
                1,
                out,
                fmt="csv",
                page_size=500,
                progress=StopAfter(2),
                checkpoint_interval=0,
            )
        ckpt = Checkpoint.load(out)
        assert ckpt is not None
        assert (ckpt.page_size, ckpt.page_base) == (40, 0)
        sandbox.log.clear()
        await export_participants(client, 1, 1, out, fmt="csv", page_size=500, resume=True)
    assert {qs.split("size=")[1] for _, qs in sandbox.log} == {"40"}
    lines = Path(out).read_text().splitlines()
    assert lines[0].startswith("id,iccid,status")
    assert len(lines) == 989
