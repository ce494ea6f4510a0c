"""Running the ``flolive`` command in tests: as a subprocess (blocking or on
the loop), on a pseudo-terminal, and the arguments of the usual exports."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import socket
import struct
import subprocess
import sys
import termios

import pyte

FLOLIVE = [sys.executable, "-m", "flolive"]
#: The ids of the sandbox's 988-participant campaign (customer 1, campaign 1).
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


#: The main job: the sandbox's 988-participant campaign.
EXPORT_988 = sandbox_export()


def served_export(url: str, campaign: int = 1) -> list[str]:
    """Arguments of a participants export (pages of 10) from a sandbox the test serves."""
    return [
        "export",
        "participants",
        "--base-url",
        url,
        "--customer",
        "1",
        "--campaign",
        str(campaign),
        "--page-size",
        "10",
    ]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the command to its end (blocking)."""
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


async def spawn(*args: str) -> asyncio.subprocess.Process:
    """Start the command (stderr piped), leaving it running."""
    return await asyncio.create_subprocess_exec(
        *FLOLIVE,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


def free_port() -> int:
    """A port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_line(stderr: str) -> str:
    """The only line of ``stderr`` (fails if there are more, or a traceback)."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def on_terminal(
    args: list[str], *, command: list[str] | None = None, columns: int = 80
) -> tuple[int, list[str]]:
    """Run the CLI with stderr on a pseudo-terminal ``columns`` wide; (exit
    code, the non-empty lines of the screen it left). A terminal emulator
    (pyte) 1000 columns wide renders the screen, so a line drawn longer than
    the width the CLI was told shows as such, and text printed over the
    progress display shows where it landed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(
        [*(command or FLOLIVE), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env={**os.environ, "COLUMNS": str(columns), "TERM": "xterm"},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the CLI closed its end
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    screen = pyte.Screen(1000, 500)
    pyte.ByteStream(screen).feed(b"".join(chunks))
    return proc.returncode, [line.rstrip() for line in screen.display if line.strip()]
