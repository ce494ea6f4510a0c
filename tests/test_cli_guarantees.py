"""The command's guarantees in front of real operating-system faults: one run
per output, signals at any moment, checkpoints checked field by field,
network errors apart from file errors, pipes and FIFOs, bulk jobs that go on
past bad rows. Every process is started, signalled or killed on an event."""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import signal
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from flolive.cli import ExitCode
from flolive.sandbox import DataSet, Sandbox

from .conftest import PageGate
from .support.cli import EXPECTED_IDS, FLOLIVE, arun, one_line, run, served_export, spawn
from .support.kill import checkpoint_next, checkpoint_of, kill_when_saved, until
from .support.signals import SoakReport, one_trial

StartSandbox = Callable[..., Awaitable[Sandbox]]


def lock_of(out: Path) -> Path:
    return Path(f"{out}.flolive-lock")


# -- one run per output ---------------------------------------------------------


@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
async def test_a_second_run_on_the_same_output_is_refused_and_changes_nothing(
    tmp_path: Path, sandbox: Sandbox, gated_sandbox: tuple[Sandbox, PageGate], ext: str
) -> None:
    if ext == "parquet":
        pytest.importorskip("pyarrow")
    full = tmp_path / f"full.{ext}"
    code, _, err = await arun(*served_export(sandbox.url), "-o", str(full))
    assert code == 0, err
    gated, gate = gated_sandbox
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    out = run_dir / f"p.{ext}"
    args = [*served_export(gated.url), "-o", str(out)]
    await gate.open_to(30)
    first = await spawn(*args, "--checkpoint-interval", "0")
    await until(lambda: checkpoint_next(out) == 30, first)  # the first run's checkpoint
    before = {p.name: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    for again in ([], ["--resume"], ["--overwrite"]):
        code, _, err = await arun(*args, *again)
        assert code == ExitCode.USAGE, err
        assert one_line(err) == (
            f"flolive: error: another export is writing {out} (it holds {lock_of(out)}); "
            "nothing was changed"
        )
        assert {p.name: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
    await gate.open_to(math.inf)
    _, err_b = await first.communicate()
    assert first.returncode == 0, err_b.decode()
    assert out.read_bytes() == full.read_bytes()
    assert os.listdir(run_dir) == [out.name]


async def test_a_killed_runs_lock_is_released_by_the_kernel(
    tmp_path: Path, gated_sandbox: tuple[Sandbox, PageGate]
) -> None:
    gated, gate = gated_sandbox
    out = tmp_path / "p.csv"
    args = [*served_export(gated.url), "-o", str(out)]
    await kill_when_saved(args, gate, out, 20)
    assert lock_of(out).exists()  # left on disk, but nobody holds it
    await gate.open_to(math.inf)
    code, _, err = await arun(*args, "--resume", "-q")
    assert code == 0, err
    assert [int(line.split(",")[0]) for line in out.read_text().splitlines()[1:]] == EXPECTED_IDS
    assert os.listdir(tmp_path) == [out.name]


# -- signals ----------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
async def test_a_signal_stops_cancels_in_flight_checkpoints_and_resume_is_exact(
    tmp_path: Path, sandbox: Sandbox, gated_sandbox: tuple[Sandbox, PageGate], signum: int
) -> None:
    full = tmp_path / "full.jsonl"
    code, _, err = await arun(*served_export(sandbox.url), "-o", str(full))
    assert code == 0, err
    gated, gate = gated_sandbox
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    out = run_dir / "p.jsonl"
    args = [*served_export(gated.url), "-o", str(out)]
    await gate.open_to(40)
    # Checkpoints only every hour: what the signal makes it record is its own.
    proc = await spawn(*args, "--checkpoint-interval", "3600")
    await gate.until_held(40)  # pages 0-39 served; requests for page 40 on held
    async with asyncio.timeout(60):  # bounds a broken test only
        while (on_disk := len(out.read_bytes().splitlines())) < 300:
            await asyncio.sleep(0.005)
    assert checkpoint_next(out) == 0
    proc.send_signal(signum)
    _, err_b = await proc.communicate()  # held requests do not keep it waiting
    assert proc.returncode == 128 + signum
    assert one_line(err_b.decode()) == f"flolive: interrupted by {signal.Signals(signum).name}"
    # What was read is written and recorded: at least what was on disk.
    recorded = checkpoint_next(out)
    assert recorded is not None
    assert on_disk // 10 <= recorded <= 40
    await gate.open_to(math.inf)
    code, _, err = await arun(*args, "--resume")
    assert code == 0, err
    assert f"resumed at {recorded}" in one_line(err)
    assert out.read_bytes() == full.read_bytes()
    assert os.listdir(run_dir) == [out.name]


#: Trials of the soak (a few hundred in CI; FLOLIVE_SOAK_TRIALS to change).
SOAK_TRIALS = int(os.environ.get("FLOLIVE_SOAK_TRIALS", "200"))


@pytest.mark.soak
@pytest.mark.timeout(1800)
async def test_soak_of_randomly_timed_double_signals(
    tmp_path: Path, start_sandbox: StartSandbox
) -> None:
    """Double signals (any of SIGINT, SIGTERM, SIGHUP), sent a random offset
    after an event: the first checkpoint written (most trials), or the
    command's handlers installed (the rest of start-up ahead). Every trial
    must end promptly with exit 128 + the first signal and one line, and
    --resume must finish the output byte for byte. Fixed seed; four trials
    run at once. A few trials are timed from the spawn, to measure how often
    a signal lands before the handlers exist (while the interpreter starts
    and imports `flolive`): those are counted, not checked."""
    # Slow enough pages that a signal lands mid-export.
    sandbox = await start_sandbox(latency=0.004)
    args = [*served_export(sandbox.url), "--concurrency", "2"]
    full = tmp_path / "full.jsonl"
    code, _, err = await arun(*args, "-o", str(full), "-q")
    assert code == 0, err
    expected = full.read_bytes()
    rng = random.Random(20261202)
    report = SoakReport()
    slots = asyncio.Semaphore(4)

    async def trial(i: int) -> None:
        on = "spawn" if i % 16 == 0 else "start" if i % 8 == 0 else "checkpoint"
        trial_rng = random.Random(rng.random())
        directory = tmp_path / f"t{i}"
        directory.mkdir()
        async with slots:
            await one_trial(report, trial_rng, args, directory / "p.jsonl", expected, on)

    await asyncio.gather(*(trial(i) for i in range(SOAK_TRIALS)))
    print(f"signal soak: {report.line()}")
    for wrong in report.wrong:
        print(f"  {wrong}")
    assert report.trials == SOAK_TRIALS
    assert (report.hangs, report.tracebacks, report.wrong) == (0, 0, [])


# -- checkpoints ---------------------------------------------------------------------

BAD_CHECKPOINTS: dict[str, tuple[Callable[[dict[str, object]], object], str]] = {
    "version 99": (
        lambda c: c.update(version=99),
        "version 99 is newer than this flolive reads (4)",
    ),
    "negative offset": (lambda c: c.update(offset=-5), "Expected `int` >= 0 - at `$.offset`"),
    "negative items": (lambda c: c.update(items=-1), "Expected `int` >= 0 - at `$.items`"),
    "page base 7": (lambda c: c.update(page_base=7), "Expected `int` <= 1 - at `$.page_base`"),
    "unknown kind": (
        lambda c: c["job"].update(kind="campaigns"),  # type: ignore[attr-defined]
        "unknown job kind 'campaigns' (expected one of labels, participants, "
        "subscriber-details, subscribers)",
    ),
    "offset and parts": (
        lambda c: c.update(parts=3),
        "both offset {offset} and parts 3 are set",
    ),
    "page size 0": (lambda c: c.update(page_size=0), "page_size 0 is not positive"),
}


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
async def test_a_bad_checkpoint_is_one_line_naming_it_and_overwrite_starts_over(
    tmp_path: Path, gated_sandbox: tuple[Sandbox, PageGate], case: str
) -> None:
    gated, gate = gated_sandbox
    out = tmp_path / "p.jsonl"
    args = [*served_export(gated.url), "-o", str(out)]
    await kill_when_saved(args, gate, out, 5)
    await gate.open_to(math.inf)
    saved = json.loads(checkpoint_of(out).read_bytes())
    change, problem = BAD_CHECKPOINTS[case]
    change(saved)
    checkpoint_of(out).write_text(json.dumps(saved))
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if not p.name.endswith("-lock")}
    code, _, err = await arun(*args, "--resume")
    assert code == ExitCode.USAGE
    assert one_line(err) == (
        f"flolive: error: checkpoint {checkpoint_of(out)} is invalid: "
        f"{problem.format(offset=saved['offset'])}; use --overwrite to start again"
    )
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in files} == files
    code, _, err = await arun(*args, "--overwrite", "-q")
    assert code == 0, err
    assert len(out.read_text().splitlines()) == 988
    assert os.listdir(tmp_path) == [out.name]


async def test_overwrite_starts_over_past_a_damaged_parquet_checkpoint(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "p.parquet"
    checkpoint_of(out).write_bytes(b'{"version": 4, "job": ')
    (tmp_path / "p.parquet.flolive-parts").mkdir()
    (tmp_path / "p.parquet.flolive-parts" / "000000.part").write_bytes(b"junk")
    args = [*served_export(sandbox.url), "-o", str(out)]
    code, _, err = await arun(*args)
    assert code == ExitCode.USAGE
    assert one_line(err) == (
        f"flolive: error: checkpoint {checkpoint_of(out)} is invalid: not a checkpoint "
        "(unreadable JSON); use --overwrite to start again"
    )
    code, _, err = await arun(*args, "--overwrite", "-q")
    assert code == 0, err
    assert pq.read_table(out).column("id").to_pylist() == EXPECTED_IDS
    assert os.listdir(tmp_path) == [out.name]


# -- network errors are not file errors ---------------------------------------------


async def test_a_server_that_stops_answering_is_a_network_error(
    tmp_path: Path, gated_sandbox: tuple[Sandbox, PageGate]
) -> None:
    gated, gate = gated_sandbox
    await gate.open_to(3)  # page 3 is never answered
    out = tmp_path / "p.jsonl"
    code, _, err = await arun(*served_export(gated.url), "-o", str(out), "--timeout", "0.2")
    assert code == ExitCode.UNREACHABLE, err
    line = one_line(err)
    assert line.startswith("flolive: error: ")
    assert "cannot write" not in line
    assert "/participants" in line


# -- pipes and FIFOs ------------------------------------------------------------------


def test_stdout_into_head_ends_quietly_with_141(tmp_path: Path) -> None:
    # The shell's `flolive export ... -o - | head -n 1`.
    command = [*FLOLIVE, "export", "participants", "--sandbox", "--customer", "1"]
    command += ["--campaign", "1", "--page-size", "10", "-o", "-"]
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as head does
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert json.loads(first)["id"] == EXPECTED_IDS[0]
    assert err == ""


FIFO_EXPORT = ["export", "participants", "--sandbox", "--customer", "1", "--campaign", "1"]


async def test_a_fifo_without_reader_never_blocks_past_ctrl_c(tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    proc = await spawn(*FIFO_EXPORT, "-o", str(fifo), "-v")
    assert proc.stderr is not None
    # The event: the command says (-v) it waits for a reader, in open().
    waiting = await asyncio.wait_for(proc.stderr.readline(), 60)
    assert waiting.decode() == f"flolive.export: info: waiting for a reader of {fifo}\n"
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 130
    assert one_line(err.decode()) == "flolive: interrupted by SIGINT"


async def test_a_fifo_whose_reader_left_is_an_error_line(tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    proc = await spawn(*FIFO_EXPORT, "--page-size", "10", "-o", str(fifo))
    reader = await asyncio.to_thread(open, fifo, "rb")
    first = await asyncio.to_thread(reader.readline)
    reader.close()  # the reader goes away mid-export
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert json.loads(first)["id"] == EXPECTED_IDS[0]
    assert proc.returncode == ExitCode.FILE
    assert one_line(err.decode()) == (
        f"flolive: error: cannot write {fifo}: its reader went away (broken pipe)"
    )


# -- bulk jobs go on past bad rows ------------------------------------------------------


def _label_job(tmp_path: Path, values: list[str]) -> tuple[Path, list[str]]:
    src = tmp_path / "ids.txt"
    src.write_text("# subscribers\n" + "\n".join(values) + "\n")
    args = ["export", "labels", "--sandbox", "--type", "iccid", "--values-from", str(src)]
    return src, args


def test_a_bulk_job_names_each_bad_row_with_its_line_and_goes_on(tmp_path: Path) -> None:
    data = DataSet()
    good = [data.identifier("iccid", 1, 3, i) for i in (5, 7)]
    values = [good[0], "89357712x4", "12345", "8935779999999999999", good[1]]
    _, args = _label_job(tmp_path, values)
    out, errors = tmp_path / "labels.jsonl", tmp_path / "errors.jsonl"
    done = run(*args, "-o", str(out), "--errors", str(errors))
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[:3] == [
        "flolive: warning: 89357712x4: INVALID_IDENTIFIER: not an ICCID: only digits are "
        "allowed (line 3)",
        "flolive: warning: 12345: INVALID_IDENTIFIER: not an ICCID: 5 digits, 18 to 22 "
        "expected (line 4)",
        "flolive: warning: 8935779999999999999: SUBSCRIBER_1002: Subscriber does not exist "
        "(line 5)",
    ]
    assert lines[3].startswith("flolive: wrote ")
    assert lines[4:] == [f"flolive: warning: 3 identifiers failed; see {errors}"]
    written = [json.loads(x) for x in errors.read_text().splitlines()]
    assert [(e["line"], e["identifier"], e["code"]) for e in written] == [
        (3, "89357712x4", "INVALID_IDENTIFIER"),
        (4, "12345", "INVALID_IDENTIFIER"),
        (5, "8935779999999999999", "SUBSCRIBER_1002"),
    ]
    assert written[2]["message"] == "Subscriber does not exist"
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert {r["idValue"] for r in rows} == set(good)


def test_fail_fast_stops_at_the_first_bad_row(tmp_path: Path) -> None:
    data = DataSet()
    values = [data.identifier("iccid", 1, 3, 5), "not-an-iccid", data.identifier("iccid", 1, 3, 7)]
    _, args = _label_job(tmp_path, values)
    out, errors = tmp_path / "labels.jsonl", tmp_path / "errors.jsonl"
    done = run(*args, "-o", str(out), "--errors", str(errors), "--fail-fast")
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    assert done.stderr.strip().splitlines() == [
        "flolive: warning: not-an-iccid: INVALID_IDENTIFIER: not an ICCID: only digits are "
        "allowed (line 3)",
        "flolive: error: stopped at the first identifier that failed (--fail-fast): line 3, "
        "not-an-iccid",
    ]
    assert [json.loads(x)["line"] for x in errors.read_text().splitlines()] == [3]
