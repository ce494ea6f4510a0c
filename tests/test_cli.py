"""The `flolive` command, run as a real subprocess."""

from __future__ import annotations

import asyncio
import collections
import csv
import datetime as dt
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyte
import pytest

from flolive.cli import EXIT_MEANINGS, ExitCode, build_parser
from flolive.models import SubscriberIdType
from flolive.sandbox import DataSet, Faults, Sandbox
from flolive.sandbox.faults import FAULT_KINDS

from .conftest import PageGate
from .support.cli import (
    EXPECTED_IDS,
    EXPORT_988,
    FLOLIVE,
    arun,
    free_port,
    on_terminal,
    one_line,
    run,
    sandbox_export,
    served_export,
    spawn,
)
from .support.export import Interrupt, StopAfter
from .support.kill import KillPoint, checkpoint_next, checkpoint_of, kill, kill_at_each, until

README = Path(__file__).parent.parent / "README.md"
StartSandbox = Callable[..., Awaitable[Sandbox]]


def test_main_job_exports_the_988_participant_campaign(tmp_path: Path) -> None:
    out = tmp_path / "participants.jsonl"
    done = run(*sandbox_export(1, 1), "-o", str(out))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == EXPECTED_IDS
    assert rows[0]["iccid"] == DataSet().identifier("iccid", 1, 1, 0)
    assert "wrote 988 items from 10 pages" in one_line(done.stderr)
    assert sorted(os.listdir(tmp_path)) == ["participants.jsonl"]


def test_csv_and_stdout_and_page_options(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    done = run(
        *EXPORT_988,
        "-o",
        str(out),
        "--page-size",
        "37",
        "--concurrency",
        "3",
        "--page-base",
        "1",
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [int(r["id"]) for r in rows] == EXPECTED_IDS
    assert rows[0]["timestamp"] == "2022-02-11T14:21:55"  # as JSONL writes it
    assert "from 27 pages" in done.stderr
    piped = run(*sandbox_export(1, 5), "-o", "-", "-q")
    assert piped.returncode == 0, piped.stderr
    assert [json.loads(x)["id"] for x in piped.stdout.splitlines()] == EXPECTED_IDS[:25]
    assert piped.stderr == ""


def test_parquet_export(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "p.parquet"
    done = run(*sandbox_export(1, 1), "-o", str(out))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == EXPECTED_IDS
    assert table.column("timestamp")[0].as_py() == dt.datetime(2022, 2, 11, 14, 21, 55)
    assert table.column("status").to_pylist()[:2] == ["PENDING", "PROGRESS"]
    assert sorted(os.listdir(tmp_path)) == ["p.parquet"]
    again = run(*EXPORT_988, "-o", str(out), "--resume")
    assert again.returncode == ExitCode.OK
    assert "nothing to resume" in one_line(again.stderr)
    refused = run(*EXPORT_988, "-o", str(out))
    assert refused.returncode == ExitCode.USAGE
    assert (
        one_line(refused.stderr) == f"flolive: error: {out} exists; use --overwrite to replace it"
    )


def test_existing_output_is_refused_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "p.jsonl"
    out.write_text("keep me\n")
    args = [*sandbox_export(1, 5), "-o", str(out)]
    refused = run(*args)
    assert refused.returncode == ExitCode.USAGE
    assert (
        one_line(refused.stderr)
        == f"flolive: error: {out} exists; use --resume to continue it or --overwrite"
    )
    assert out.read_text() == "keep me\n"
    # No checkpoint: finished (an export removes it last), or not an export.
    resumed = run(*args, "--resume")
    assert resumed.returncode == ExitCode.OK
    assert one_line(resumed.stderr).startswith(
        f"flolive: nothing to resume: {out} has no checkpoint"
    )
    both = run(*args, "--resume", "--overwrite")
    assert both.returncode == ExitCode.USAGE
    assert "argument --overwrite: not allowed with argument --resume" in one_line(both.stderr)
    assert out.read_text() == "keep me\n"
    assert run(*args, "--overwrite").returncode == 0
    assert len(out.read_text().splitlines()) == 25


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (sandbox_export(1, 99), ExitCode.NOT_FOUND, "CUSTOMER_1037"),
        (sandbox_export(77, 1), ExitCode.NOT_FOUND, "CUSTOMER_1002"),
        (
            ["export", "participants", "--customer", "1", "--campaign", "1"],
            ExitCode.USAGE,
            "no API given",
        ),
        (
            ["export", "participants", "--sandbox", "--customer", "x", "--campaign", "1"],
            ExitCode.USAGE,
            "not an integer",
        ),
        ([*sandbox_export(1, 1), "--concurrency", "0"], ExitCode.USAGE, ">= 1"),
        (
            ["export", "labels", "--sandbox", "--type", "iccid", "--value", "8935779999999999999"],
            ExitCode.NOT_FOUND,
            "SUBSCRIBER_1002",
        ),
        (
            [
                "export",
                "labels",
                "--sandbox",
                "--type",
                "iccid",
                "--value",
                DataSet().identifier("iccid", 1, 3, 1008),
            ],
            ExitCode.API,
            "SUBSCRIBER_1029",
        ),
    ],
)
def test_exit_codes_and_one_line_errors(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    done = run(*args, "-o", str(tmp_path / "x.jsonl"), env={"FLOLIVE_BASE_URL": ""})
    assert done.returncode == code, done.stderr
    assert message in one_line(done.stderr)
    assert os.listdir(tmp_path) == []  # nothing was written: nothing is left


def _read_only_dir(tmp_path: Path) -> Path:
    if os.geteuid() == 0:
        # Permissions do not bind root: sysfs refuses to create files for anyone.
        return Path("/sys")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return ro


def _error_cases(tmp_path: Path) -> dict[str, tuple[list[str], int, str]]:
    """name -> (arguments after the export command, exit code, expected line)."""
    ro = _read_only_dir(tmp_path)
    full = tmp_path / "full.jsonl"
    full.symlink_to("/dev/full")  # every write: ENOSPC
    d = tmp_path / "a-directory"
    d.mkdir()
    missing = tmp_path / "no-such-dir" / "x.jsonl"
    return {
        "missing directory": (
            ["-o", str(missing)],
            ExitCode.FILE,
            f"flolive: error: cannot write {missing}: directory {missing.parent} does not exist",
        ),
        "read-only directory": (
            ["-o", str(ro / "x.jsonl")],
            ExitCode.FILE,
            f"flolive: error: cannot write {ro / 'x.jsonl'}: Permission denied "
            f"({ro / 'x.jsonl.flolive-lock'})",
        ),
        "output is a directory": (
            ["-o", str(d)],
            ExitCode.FILE,
            f"flolive: error: cannot write {d}: it is a directory",
        ),
        "output is a directory, overwrite": (
            ["-o", str(d), "--overwrite"],
            ExitCode.FILE,
            f"flolive: error: cannot write {d}: it is a directory",
        ),
        "disk full": (
            ["-o", str(full), "-q"],
            ExitCode.FILE,
            f"flolive: error: cannot write {full}: No space left on device",
        ),
        "timeout inf": (
            ["-o", str(tmp_path / "x.jsonl"), "--timeout", "inf"],
            ExitCode.USAGE,
            "flolive export participants: error: argument --timeout: must be a finite "
            "number > 0: inf (see flolive export participants --help)",
        ),
        "timeout nan": (
            ["-o", str(tmp_path / "x.jsonl"), "--timeout", "nan"],
            ExitCode.USAGE,
            "flolive export participants: error: argument --timeout: must be a finite "
            "number > 0: nan (see flolive export participants --help)",
        ),
        "timeout 0": (
            ["-o", str(tmp_path / "x.jsonl"), "--timeout", "0"],
            ExitCode.USAGE,
            "flolive export participants: error: argument --timeout: must be a finite "
            "number > 0: 0 (see flolive export participants --help)",
        ),
    }


ERROR_CASES = [
    "missing directory",
    "read-only directory",
    "output is a directory",
    "output is a directory, overwrite",
    "disk full",
    "timeout inf",
    "timeout nan",
    "timeout 0",
]


@pytest.mark.parametrize("case", ERROR_CASES)
def test_expected_errors_are_one_line_with_a_documented_code(tmp_path: Path, case: str) -> None:
    args, code, line = _error_cases(tmp_path)[case]
    before = sorted(os.listdir(tmp_path))
    done = run(*sandbox_export(1, 5), *args)
    assert done.returncode == code, done.stderr
    assert one_line(done.stderr) == line
    assert code in EXIT_MEANINGS
    assert sorted(os.listdir(tmp_path)) == before  # no output, checkpoint or temp file left


def test_values_from_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "ids.txt"
    done = run(
        *("export", "labels", "--sandbox", "--type", "iccid", "--values-from", str(missing)),
        *("-o", str(tmp_path / "x.jsonl")),
    )
    assert done.returncode == ExitCode.FILE
    assert (
        one_line(done.stderr) == f"flolive: error: cannot read {missing}: No such file or directory"
    )
    assert os.listdir(tmp_path) == []


def test_stdout_into_dev_null_and_a_device_as_output(tmp_path: Path) -> None:
    with open(os.devnull, "wb") as null:
        done = subprocess.run(
            [*FLOLIVE, *sandbox_export(1, 1), "-o", "-"],
            stdin=subprocess.DEVNULL,
            stdout=null,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert "wrote 988 items from 10 pages to stdout" in one_line(done.stderr)
    device = run(*sandbox_export(1, 1), "-o", os.devnull)
    assert device.returncode == 0, device.stderr
    assert f"wrote 988 items from 10 pages to {os.devnull}" in one_line(device.stderr)
    assert not Path(os.devnull + ".flolive-checkpoint").exists()
    refused = run(*sandbox_export(1, 1), "-o", os.devnull, "--resume")
    assert refused.returncode == ExitCode.USAGE
    assert "--resume needs a regular file" in one_line(refused.stderr)


def test_exit_codes_are_documented_from_one_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert set(EXIT_MEANINGS) == set(ExitCode)
    parser = build_parser()
    for argv in ([], ["export", "participants"], ["export", "labels"], ["export", "subscribers"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*argv, "--help"])
        words = " ".join(capsys.readouterr().out.split())
        for code, meaning in EXIT_MEANINGS.items():
            assert f"{int(code)} {meaning}" in words
    # The docs' table of exit codes is generated from EXIT_MEANINGS
    # (docs/_ext/flolive_docs.py; tests/test_docs.py checks it).


def test_fault_kinds_and_id_types_come_from_their_definitions() -> None:
    parser = build_parser()
    for kind in FAULT_KINDS:
        args = parser.parse_args(["sandbox", f"--fault-{kind.replace('_', '-')}", "0.25"])
        assert getattr(args, f"fault_{kind}") == 0.25
    for id_type in SubscriberIdType:
        args = parser.parse_args(
            ["export", "labels", "--type", id_type.value, "--value", "1", "-o", "-"]
        )
        assert args.id_type == id_type.value


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sandbox", "--latency", "nan"], "argument --latency: must be a finite number >= 0: nan"),
        (["sandbox", "--fault-drop", "nan"], "must be a finite number between 0 and 1: nan"),
        (["sandbox", "--retry-after=-inf"], "must be a finite number >= 0: -inf"),
        (["sandbox", "--port", "70000"], "must be between 0 and 65535: 70000"),
        (
            [*EXPORT_988, "-o", "x", "--checkpoint-interval", "inf"],
            "must be a finite number >= 0: inf",
        ),
    ],
)
def test_numbers_must_be_finite_and_in_range(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == ExitCode.USAGE
    assert message in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("case", "ext"), [("unknown campaign", "csv"), ("401", "jsonl"), ("refused", "parquet")]
)
async def test_a_run_that_fails_before_writing_leaves_nothing_behind(
    tmp_path: Path, start_sandbox: StartSandbox, case: str, ext: str
) -> None:
    sandbox = await start_sandbox(token="s3cret")
    out = tmp_path / f"p.{ext}"
    url, campaign, env = sandbox.url, 1, {"FLOLIVE_TOKEN": "s3cret"}
    if case == "unknown campaign":
        campaign, code = 99, ExitCode.NOT_FOUND
    elif case == "401":
        env, code = {"FLOLIVE_TOKEN": "wrong"}, ExitCode.AUTH
    else:
        url, code = f"http://127.0.0.1:{free_port()}", ExitCode.UNREACHABLE
    failed, _, err = await arun(*served_export(url, campaign), "-o", str(out), env=env)
    assert failed == code, err
    one_line(err)
    assert os.listdir(tmp_path) == []
    # The next run, fixed, is not blocked: neither plainly nor with --resume.
    fixed = [*served_export(sandbox.url), "-o", str(out)]
    ok, _, err = await arun(*fixed, env={"FLOLIVE_TOKEN": "s3cret"})
    assert ok == 0, err
    assert os.listdir(tmp_path) == [out.name]
    out.unlink()
    if ext != "parquet":
        ok, _, err = await arun(*fixed, "--resume", env={"FLOLIVE_TOKEN": "s3cret"})
        assert ok == 0, err
        assert os.listdir(tmp_path) == [out.name]


async def test_auth_failure_and_password_from_environment(start_sandbox: StartSandbox) -> None:
    sandbox = await start_sandbox(users={"alice": "wonder"})
    args = ["campaigns", "--base-url", sandbox.url, "--customer", "1", "--username", "alice"]
    code, out, err = await arun(*args, env={"FLOLIVE_PASSWORD": "wrong"})
    assert (code, out) == (ExitCode.AUTH, "")
    assert "HTTP 401" in one_line(err)
    assert "wrong" not in err
    code, _, err = await arun(*args, env={"FLOLIVE_PASSWORD": ""})
    assert code == ExitCode.AUTH
    env = {k: v for k, v in os.environ.items() if k != "FLOLIVE_PASSWORD"}
    proc = await asyncio.create_subprocess_exec(
        *FLOLIVE,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    _, err_b = await proc.communicate()
    assert proc.returncode == ExitCode.USAGE
    assert "set FLOLIVE_PASSWORD" in one_line(err_b.decode())
    code, out, err = await arun(*args, env={"FLOLIVE_PASSWORD": "wonder"})
    assert code == 0, err
    assert [json.loads(x)["id"] for x in out.splitlines()] == [1, 2, 3, 4, 5]


def test_labels_of_many_subscribers_in_input_order(tmp_path: Path) -> None:
    data = DataSet()
    values = [data.identifier("iccid", 1, 3, i) for i in (999, 5, 1008, 7)] + [
        "8935779999999999999"
    ]
    src = tmp_path / "iccids.txt"
    src.write_text("# subscribers\n" + "\n".join(values) + "\n\n")
    out = tmp_path / "labels.csv"
    done = run(
        *("export", "labels", "--type", "iccid", "--values-from", str(src), "--sandbox"),
        *("-o", str(out), "--page-size", "10"),
    )
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    expected = []
    for i in (999, 5, 7):
        sub = data.find_subscriber("iccid", data.identifier("iccid", 1, 3, i))
        assert sub is not None
        expected += [
            (data.identifier("iccid", 1, 3, i), lb.id)
            for lb in data.labels(sub, 0, data.label_count(sub))
        ]
    assert [(r["idValue"], r["id"]) for r in rows] == expected
    assert len([r for r in rows if r["idValue"] == values[0]]) == 45
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith(f"flolive: warning: {values[2]}: ")
    assert "SUBSCRIBER_1029" in lines[0]
    assert lines[1].startswith(f"flolive: warning: {values[4]}: ")
    assert "SUBSCRIBER_1002" in lines[1]
    assert lines[2].startswith(f"flolive: wrote {len(rows)} items from 5 identifiers to {out}")
    assert lines[3:] == ["flolive: warning: 2 identifiers failed"]


# -- completeness -------------------------------------------------------------


async def test_a_short_export_warns_once_and_exits_8(
    tmp_path: Path, start_sandbox: StartSandbox
) -> None:
    gate = PageGate(math.inf)
    sandbox = await start_sandbox(before_page=gate)  # zero-based
    out = tmp_path / "p.jsonl"
    # A one-based client on a zero-based server never asks for the first page.
    args = [*served_export(sandbox.url), "--page-base", "1", "-o", str(out), "-q"]
    code, _, err = await arun(*args)
    assert code == ExitCode.INCOMPLETE
    assert one_line(err) == (
        f"flolive: warning: {out}: the list ended after 978 items but the server reported "
        "totalElements 988; items may be missing. A likely cause is the page base: "
        "page_base=1 is in use; if the server numbers pages from 0, set page_base=0"
    )
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == EXPECTED_IDS[10:]
    # The same after a resume (the SDK itself only checks full passes).
    out.unlink()
    await gate.open_to(40)
    proc = await spawn(*args, "--checkpoint-interval", "0")
    await until(lambda: checkpoint_next(out) == 40, proc)
    await kill(proc)
    await gate.open_to(math.inf)
    code, _, err = await arun(*args, "--resume")
    assert code == ExitCode.INCOMPLETE
    assert "the list ended after 978 items but the server reported totalElements 988" in (
        one_line(err)
    )
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == EXPECTED_IDS[10:]


# -- kill -9 and resume -------------------------------------------------------


def ids_in(path: Path) -> list[int]:
    if path.suffix == ".parquet":
        pq = pytest.importorskip("pyarrow.parquet")
        return list(pq.read_table(path).column("id").to_pylist())
    if path.suffix == ".csv":
        return [int(r["id"]) for r in csv.DictReader(io.StringIO(path.read_text()))]
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


# Kill points of one export, in order, each followed by `--resume` (see
# tests.support.kill.KillPoint).
KILL_POINTS: list[KillPoint] = [
    ("spawn",),
    ("checkpoint",),
    ("held", 0, 0.5),
    ("held", 3, 0.5),
    ("saved", 6),
    ("held", 11, 0.5),
    ("saved", 17),
    ("held", 24, 0.5),
    ("saved", 33),
]


@pytest.mark.parametrize("ext", ["jsonl", "csv", "parquet"])
async def test_kill_9_at_any_moment_then_resume_gives_every_item_exactly_once(
    tmp_path: Path, sandbox: Sandbox, gated_sandbox: tuple[Sandbox, PageGate], ext: str
) -> None:
    if ext == "parquet":
        pytest.importorskip("pyarrow")
    full = tmp_path / f"full.{ext}"
    code, _, err = await arun(*served_export(sandbox.url), "-o", str(full))
    assert code == 0, err
    gated, gate = gated_sandbox
    out = tmp_path / f"killed.{ext}"
    args = [*served_export(gated.url), "-o", str(out)]

    def parquet_stays_in_parts() -> None:
        if ext == "parquet":  # only parts and a checkpoint until complete
            assert not out.exists()

    await kill_at_each(KILL_POINTS, args, gate, out, parquet_stays_in_parts)
    await gate.open_to(math.inf)
    code, _, err = await arun(*args, "--resume", "--checkpoint-interval", "0")
    assert code == 0, err
    assert one_line(err).startswith(f"flolive: wrote 658 items from 66 pages to {out} in ")
    assert err.rstrip().endswith(
        f"resumed at 33; {out} now holds 988 items from 99 pages; 0 retries, 0 throttled answers"
    )
    ids = ids_in(out)
    assert len(ids) - len(set(ids)) == 0  # none duplicated
    assert set(EXPECTED_IDS) - set(ids) == set()  # none lost
    assert out.read_bytes() == full.read_bytes()
    assert sorted(os.listdir(tmp_path)) == sorted([full.name, out.name])
    # A kill after the export finished, before its process ended, leaves just
    # this: a complete output without checkpoint. --resume has nothing to do.
    code, _, err = await arun(*args, "--resume")
    assert code == 0, err
    assert "nothing to resume" in one_line(err)
    assert out.read_bytes() == full.read_bytes()


async def test_the_states_a_kill_can_leave_while_opening_all_resume(
    tmp_path: Path, sandbox: Sandbox, gated_sandbox: tuple[Sandbox, PageGate]
) -> None:
    """Every file state between spawn and the first page, as a kill during the
    first checkpoint write or the output's creation leaves it, resumes."""
    full = tmp_path / "full.csv"
    code, _, err = await arun(*served_export(sandbox.url), "-o", str(full))
    assert code == 0, err
    gated, gate = gated_sandbox
    out = tmp_path / "p.csv"
    ckpt = checkpoint_of(out)
    tmp = Path(str(ckpt) + ".tmp")
    args = [*served_export(gated.url), "-o", str(out)]
    proc = await spawn(*args)
    await gate.until_held(0)  # checkpoint and output both exist; nothing written
    await kill(proc)
    saved = ckpt.read_bytes()
    assert out.stat().st_size == 0
    states: dict[str, Callable[[], None]] = {
        "checkpoint, empty output": lambda: None,
        "checkpoint, half a header": lambda: out.write_bytes(full.read_bytes()[:7]),
        "checkpoint, no output": lambda: out.unlink(),
        "checkpoint written, not renamed": lambda: (
            out.unlink(),
            ckpt.unlink(),
            tmp.write_bytes(saved),
        ),
        "checkpoint half written": lambda: (
            out.unlink(),
            ckpt.unlink(),
            tmp.write_bytes(saved[: len(saved) // 2]),
        ),
    }
    await gate.open_to(math.inf)
    for name, make in states.items():
        out.write_bytes(b"")
        ckpt.write_bytes(saved)
        make()
        code, _, err = await arun(*args, "--resume")
        assert code == 0, f"{name}: {err}"
        assert out.read_bytes() == full.read_bytes(), name
        assert sorted(os.listdir(tmp_path)) == ["full.csv", "p.csv"], name


async def test_the_states_a_kill_can_leave_while_joining_parquet_all_resume(
    tmp_path: Path, sandbox: Sandbox, gated_sandbox: tuple[Sandbox, PageGate]
) -> None:
    """The file states a kill can leave while Parquet parts are joined, and
    between the rename, the checkpoint's removal and the parts' removal, each
    built on disk from a killed export: each resumes to the same file as an
    uninterrupted export, and leaves nothing else."""
    pytest.importorskip("pyarrow")
    full = tmp_path / "full.parquet"
    code, _, err = await arun(*served_export(sandbox.url), "-o", str(full))
    assert code == 0, err
    gated, gate = gated_sandbox
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    out = run_dir / "p.parquet"
    ckpt = checkpoint_of(out)
    parts = Path(f"{out}.flolive-parts")
    partial = Path(f"{out}.flolive-partial")
    args = [*served_export(gated.url), "-o", str(out)]
    await gate.open_to(98)
    proc = await spawn(*args, "--checkpoint-interval", "0")
    await until(lambda: checkpoint_next(out) == 98, proc)
    await kill(proc)
    stash = tmp_path / "stash"
    shutil.copytree(parts, stash)
    saved = ckpt.read_bytes()

    def killed() -> None:
        """Back to the killed export's checkpoint and parts."""
        for path in (out, partial):
            path.unlink(missing_ok=True)
        shutil.rmtree(parts, ignore_errors=True)
        shutil.copytree(stash, parts)
        ckpt.write_bytes(saved)

    await gate.open_to(math.inf)
    states: dict[str, Callable[[], object]] = {
        "killed while joining": lambda: partial.write_bytes(full.read_bytes()[:1000]),
        "killed after the rename": lambda: out.write_bytes(full.read_bytes()),
    }
    for name, make in states.items():
        killed()
        make()
        code, _, err = await arun(*args, "--resume", "-q")
        assert code == 0, f"{name}: {err}"
        assert out.read_bytes() == full.read_bytes(), name
        assert os.listdir(run_dir) == [out.name], name
    # Killed after the checkpoint went, before the parts did: the export is
    # complete, and the next --resume clears what it left.
    killed()
    ckpt.unlink()
    out.write_bytes(full.read_bytes())
    code, _, err = await arun(*args, "--resume")
    assert code == 0, err
    assert "nothing to resume" in one_line(err)
    assert out.read_bytes() == full.read_bytes()
    assert os.listdir(run_dir) == [out.name]


# -- terminals and the sandbox command ----------------------------------------


#: The end of the details line of a finished export.
DONE_TIMES = r"elapsed \d+:\d\d:\d\d · left 0:00:00"


def test_progress_bar_fits_80_columns_with_its_total_and_labelled_times(tmp_path: Path) -> None:
    pytest.importorskip("rich")
    code, lines = on_terminal([*EXPORT_988, "-o", str(tmp_path / "p.jsonl")])
    assert code == 0
    assert len(lines) == 3, lines
    bar, details, summary = lines
    assert re.fullmatch(r"participants ━+ 100% 988/988 items", bar)
    assert len(bar) == 80  # the bar fills the width, and no more
    assert re.fullmatch(rf"  10/10 pages · [\d,]+ items/s · {DONE_TIMES}", details)
    assert summary.startswith(f"flolive: wrote 988 items from 10 pages to {tmp_path / 'p.jsonl'}")
    assert summary.endswith("; 0 retries, 0 throttled answers")


def test_progress_of_a_long_resumed_export_fits_80_columns() -> None:
    pytest.importorskip("rich")
    from rich.console import Console

    from flolive.cli import RichProgress

    drawn = io.StringIO()
    console = Console(file=drawn, width=80, force_terminal=True)
    bar = RichProgress("participants", "pages", console=console)
    bar.start(12_345_678, items=4_000_000, pages=40_000, total_pages=123_457)
    bar.advance(1_000_000, 10_000)
    bar.stop()
    screen = pyte.Screen(200, 50)
    # A terminal's line discipline turns each LF into CR LF: so does this.
    pyte.Stream(screen).feed(drawn.getvalue().replace("\n", "\r\n"))
    lines = [line.rstrip() for line in screen.display if line.strip()]
    assert len(lines) == 3, lines
    assert re.fullmatch(
        r"participants \(resumed\) [━╸╺]+  41% 5,000,000/12,345,678 items", lines[0]
    )
    assert len(lines[0]) == 80
    # One advance is no rate yet, hence no time left: both say so.
    assert re.fullmatch(
        r"  50,000/123,457 pages · -- items/s · elapsed \d+:\d\d:\d\d · left -:--:--", lines[1]
    )
    assert lines[2] == "  this run: 1,000,000 items, 10,000 pages"


async def test_progress_bar_after_a_resume_tells_this_run_apart(tmp_path: Path) -> None:
    pytest.importorskip("rich")
    from flolive import Client
    from flolive.export import export_participants

    out = tmp_path / "p.jsonl"
    async with Sandbox() as url, Client(base_url=url) as client:
        with pytest.raises(Interrupt):
            await export_participants(
                client, 1, 1, str(out), progress=StopAfter(3), checkpoint_interval=0
            )
    assert checkpoint_next(out) == 3
    code, lines = await asyncio.to_thread(on_terminal, [*EXPORT_988, "-o", str(out), "--resume"])
    assert code == 0
    assert len(lines) == 4, lines
    assert re.fullmatch(r"participants \(resumed\) ━+ 100% 988/988 items", lines[0])
    assert len(lines[0]) == 80
    assert re.fullmatch(rf"  10/10 pages · [\d,]+ items/s · {DONE_TIMES}", lines[1])
    assert lines[2] == "  this run: 688 items, 7 pages"
    assert lines[3].startswith("flolive: wrote 688 items from 7 pages")
    assert "now holds 988 items from 10 pages" in lines[3]


def test_a_label_export_shows_its_total_and_prints_failures_above_the_bar(
    tmp_path: Path,
) -> None:
    pytest.importorskip("rich")
    data = DataSet()
    values = [data.identifier("iccid", 1, 3, i) for i in (999, 5, 1008, 7)]
    values.append("8935779999999999999")
    items = 0
    for i in (999, 5, 7):
        sub = data.find_subscriber("iccid", data.identifier("iccid", 1, 3, i))
        assert sub is not None
        items += data.label_count(sub)
    src = tmp_path / "ids.txt"
    src.write_text("\n".join(values) + "\n")
    code, lines = on_terminal(
        [
            *("export", "labels", "--sandbox", "--type", "iccid", "--values-from", str(src)),
            *("-o", str(tmp_path / "labels.csv"), "--page-size", "10"),
        ]
    )
    assert code == ExitCode.PARTIAL
    assert len(lines) == 6, lines
    # Each failure is a whole line above the bar, printed while it ran.
    assert lines[0] == (
        f"flolive: warning: {values[2]}: SUBSCRIBER_1029: Failed to retrieve subscriber "
        "label details (line 3)"
    )
    assert lines[1] == (
        f"flolive: warning: {values[4]}: SUBSCRIBER_1002: Subscriber does not exist (line 5)"
    )
    assert re.fullmatch(r"labels ━+ 100% 5/5 identifiers", lines[2])
    assert len(lines[2]) == 80
    assert re.fullmatch(rf"  {items} items · [\d,]+ identifiers/s · {DONE_TIMES}", lines[3])
    assert lines[4].startswith(f"flolive: wrote {items} items from 5 identifiers")
    assert lines[5] == "flolive: warning: 2 identifiers failed"


def _retried_pages(sandbox: Sandbox) -> collections.Counter[int]:
    """Retries per page: requests for it beyond the first, from the sandbox's log."""
    asked = collections.Counter(
        int(parse_qs(urlsplit(path).query)["page"][0])
        for _, path in sandbox.log
        if "/participants" in path
    )
    return collections.Counter({page: n - 1 for page, n in asked.items() if n > 1})


FAULTY = Faults(rate_limited=0.05, server_error=0.05, truncate=0.05, retry_after=0)


def _fault_counts(sandbox: Sandbox) -> tuple[int, int]:
    """(retries, pushback answers) the sandbox's faults cause: every fault is
    retried; 429s and 500s are pushback, cut-short bodies are not."""
    faults = sandbox.stats.faults
    throttles = faults["rate_limited"] + faults["server_error"]
    # The test means something only if there were both kinds.
    assert throttles > 0
    assert faults["truncate"] > 0
    return throttles + faults["truncate"], throttles


async def test_the_summary_counts_retries_and_throttled_answers(
    tmp_path: Path, start_sandbox: StartSandbox
) -> None:
    sandbox = await start_sandbox(faults=FAULTY, record=True)
    code, _, err = await arun(*served_export(sandbox.url), "-o", str(tmp_path / "p.jsonl"))
    assert code == 0, err
    retries, throttles = _fault_counts(sandbox)
    assert sum(_retried_pages(sandbox).values()) == retries
    assert one_line(err).endswith(f"; {retries} retries, {throttles} throttled answers")


async def test_verbose_logs_each_retry_above_the_bar(
    tmp_path: Path, start_sandbox: StartSandbox
) -> None:
    pytest.importorskip("rich")
    sandbox = await start_sandbox(faults=FAULTY, record=True)
    args = [*served_export(sandbox.url), "-o", str(tmp_path / "p.jsonl"), "-v"]
    code, lines = await asyncio.to_thread(on_terminal, args)
    assert code == 0, lines
    retries, throttles = _fault_counts(sandbox)
    # -v is INFO: each retry, with its page, error and request id; push-back
    # and rate changes have lines of their own; then the bar and the summary.
    retry_lines = [line for line in lines if line.startswith("flolive.retry: info: retry ")]
    assert len(retry_lines) == retries, lines
    rest = [line for line in lines if not re.match(r"flolive\.\w+: info: ", line)]
    assert len(rest) == 3, lines
    logged: collections.Counter[int] = collections.Counter()
    for line in retry_lines:
        match = re.fullmatch(
            r"flolive\.retry: info: retry [123] of 3 in \d+\.\d\d s: GET "
            r"/api/v2/customer/1/campaign/1/participants\?page=(\d+)&size=10: "
            r"(RateLimited|ServerError|TransportError): .*\(GET "
            r"/api/v2/customer/1/campaign/1/participants, page \d+\)"
            r"( request_id=\S+)?",
            line,
        )
        assert match, line
        if match[2] != "TransportError":
            assert match[3], line  # an answer came: its request id is named
        logged[int(match[1])] += 1
    assert logged == _retried_pages(sandbox)
    assert re.fullmatch(r"participants ━+ 100% 988/988 items", rest[0])
    assert re.fullmatch(rf"  99/99 pages · [\d,]+ items/s · {DONE_TIMES}", rest[1])
    assert rest[2].endswith(f"; {retries} retries, {throttles} throttled answers")


# The CLI as a user without the `cli` extra runs it: rich cannot be imported.
WITHOUT_RICH = [
    sys.executable,
    "-c",
    "import sys; sys.modules['rich'] = None; from flolive.cli import main; "
    "raise SystemExit(main(sys.argv[1:]))",
]


def test_a_terminal_without_rich_gets_a_hint_instead_of_a_bar(tmp_path: Path) -> None:
    code, lines = on_terminal(
        [*sandbox_export(1, 5), "-o", str(tmp_path / "a.jsonl")], command=WITHOUT_RICH
    )
    assert code == 0
    assert len(lines) == 2, lines
    assert lines[0] == "flolive: hint: pip install 'flolive-sdk[cli]' for a progress bar"
    assert lines[1].startswith("flolive: wrote 25 items from 1 page to ")
    # No terminal, no bar to miss: no hint.
    piped = subprocess.run(
        [*WITHOUT_RICH, *sandbox_export(1, 5), "-o", str(tmp_path / "b.jsonl")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert piped.returncode == 0
    assert one_line(piped.stderr).startswith("flolive: wrote 25 items from 1 page to ")


async def test_an_export_without_sandbox_never_imports_aiohttp_web(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    probe = (
        "import sys; from flolive.cli import main; code = main(sys.argv[1:]); "
        "print('aiohttp.web' in sys.modules, code)"
    )
    for args, loaded in ((served_export(sandbox.url, 5), False), (sandbox_export(1, 5), True)):
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-c", probe, *args, "-o", str(tmp_path / f"{loaded}.jsonl"), "-q"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert out.decode().split() == [str(loaded), "0"], err.decode()


def test_sandbox_command_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [*FLOLIVE, "sandbox", "--port", "0", "--latency", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line
        url = line.split("listening on ")[1].split()[0]
        done = run("campaigns", "--base-url", url, "--customer", "2", "--format", "jsonl")
        assert done.returncode == 0, done.stderr
        names = [json.loads(x)["name"] for x in done.stdout.splitlines()]
        assert names == [f"campaign-2-{i}" for i in range(1, 6)]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
    assert proc.returncode == ExitCode.INTERRUPTED
