"""The `flolive` command, run as a real subprocess."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flolive.sandbox import DataSet, Sandbox

FLOLIVE = [sys.executable, "-m", "flolive"]
EXPECTED_IDS = [1_030_247 + i for i in range(988)]


def sandbox_export(customer: int = 1, campaign: int = 1) -> list[str]:
    """Arguments of a participants export from the embedded sandbox."""
    return [
        "export",
        "participants",
        "--sandbox",
        "--customer",
        str(customer),
        "--campaign",
        str(campaign),
    ]


# The main job: the sandbox's 988-participant campaign.
EXPORT_988 = sandbox_export()


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLOLIVE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


async def arun(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the CLI without blocking the loop (for tests serving a sandbox in-process)."""
    proc = await asyncio.create_subprocess_exec(
        *FLOLIVE,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def test_main_job_exports_the_988_participant_campaign(tmp_path: Path) -> None:
    out = tmp_path / "participants.jsonl"
    done = run(*sandbox_export(1, 1), "-o", str(out))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == EXPECTED_IDS
    assert rows[0]["iccid"] == DataSet().identifier("iccid", 1, 1, 0)
    assert "wrote 988 items from 10 pages" in done.stderr
    assert not (tmp_path / "participants.jsonl.flolive-checkpoint").exists()


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
    assert rows[0]["timestamp"] == "2022-02-11 14:21:55"
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
    refused = run(
        *EXPORT_988,
        "-o",
        str(out),
        "--resume",
    )
    assert refused.returncode == 2
    assert "Parquet output cannot be resumed" in refused.stderr


def test_existing_output_is_refused_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "p.jsonl"
    out.write_text("keep me\n")
    args = [
        *sandbox_export(1, 5),
        "-o",
        str(out),
    ]
    refused = run(*args)
    assert refused.returncode == 2
    assert (
        refused.stderr.strip()
        == f"flolive: error: {out} exists; use --resume to continue it or --overwrite"
    )
    assert out.read_text() == "keep me\n"
    resumed = run(*args, "--resume")
    assert resumed.returncode == 2
    assert "no checkpoint" in resumed.stderr
    assert run(*args, "--overwrite").returncode == 0
    assert len(out.read_text().splitlines()) == 25


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            sandbox_export(1, 99),
            3,
            "CUSTOMER_1037",
        ),
        (
            sandbox_export(77, 1),
            3,
            "CUSTOMER_1002",
        ),
        (["export", "participants", "--customer", "1", "--campaign", "1"], 2, "no API given"),
        (
            ["export", "participants", "--sandbox", "--customer", "x", "--campaign", "1"],
            2,
            "not an integer",
        ),
        (
            [
                *sandbox_export(1, 1),
                "--concurrency",
                "0",
            ],
            2,
            ">= 1",
        ),
    ],
)
def test_exit_codes_and_one_line_errors(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    done = run(*args, "-o", str(tmp_path / "x.jsonl"), env={"FLOLIVE_BASE_URL": ""})
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    if code != 2 or "no API" in message:
        assert len(done.stderr.strip().splitlines()) == 1


def test_unreachable_server_exit_code(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = run(
        "export",
        "participants",
        "--base-url",
        f"http://127.0.0.1:{port}",
        "--customer",
        "1",
        "--campaign",
        "1",
        "-o",
        str(tmp_path / "x.jsonl"),
    )
    assert done.returncode == 5
    assert "Cannot connect" in done.stderr
    assert "Traceback" not in done.stderr


async def test_auth_failure_and_password_from_environment(tmp_path: Path) -> None:
    async with Sandbox(users={"alice": "wonder"}) as url:
        args = ["campaigns", "--base-url", url, "--customer", "1", "--username", "alice"]
        code, out, err = await arun(*args, env={"FLOLIVE_PASSWORD": "wrong"})
        assert (code, out) == (4, "")
        assert "HTTP 401" in err
        assert "wrong" not in err
        code, _, err = await arun(*args, env={"FLOLIVE_PASSWORD": ""})
        assert code == 4
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
        assert proc.returncode == 2
        assert "set FLOLIVE_PASSWORD" in err_b.decode()
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
        "export",
        "labels",
        "--type",
        "iccid",
        "--values-from",
        str(src),
        "--sandbox",
        "-o",
        str(out),
        "--page-size",
        "10",
    )
    assert done.returncode == 7, done.stderr
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
    assert "SUBSCRIBER_1029" in done.stderr
    assert "SUBSCRIBER_1002" in done.stderr
    assert "2 identifiers failed" in done.stderr


def _wait_for_progress(ckpt: Path, after: int, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the export finished before it could be killed"
        try:
            state = json.loads(ckpt.read_bytes())
        except (FileNotFoundError, json.JSONDecodeError):
            state = None
        if state and state["next"] > after:
            return int(state["next"])
        time.sleep(0.01)
    raise AssertionError("no checkpoint progress")


@pytest.mark.parametrize("ext", ["jsonl", "csv"])
def test_kill_9_and_resume_gives_every_item_exactly_once(tmp_path: Path, ext: str) -> None:
    full = tmp_path / f"full.{ext}"
    base = [
        *sandbox_export(1, 3),
        "--page-size",
        "50",
        "-q",
    ]
    assert run(*base, "-o", str(full)).returncode == 0
    out = tmp_path / f"killed.{ext}"
    ckpt = Path(str(out) + ".flolive-checkpoint")
    reached = -1
    for attempt in range(3):
        cmd = [*FLOLIVE, *base, "-o", str(out)] + (["--resume"] if attempt else [])
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            reached = _wait_for_progress(ckpt, reached, proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
    assert reached < 2000  # killed before the end, each time
    done = run(*base, "-o", str(out), "--resume")
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == full.read_bytes()
    assert not ckpt.exists()


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    pytest.importorskip("rich")
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [
            *FLOLIVE,
            *EXPORT_988,
            "-o",
            str(tmp_path / "p.jsonl"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env={**os.environ, "COLUMNS": "160", "TERM": "xterm"},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "participants" in screen
    assert "988/988" in screen
    assert "10 pages" in screen


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
    assert proc.returncode == 130
