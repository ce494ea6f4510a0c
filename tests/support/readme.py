"""The examples of README.md and of the pages under docs/, so that tests run
exactly what they show.

A Python example is a fenced ``python`` block. Its first line may name it
(``# example: NAME``), or say ``# needs a floLIVE account`` (such a block is
only compiled). When the block is followed by a line ``prints`` and a fenced
``text`` block, that is what the program prints. A page is read top to
bottom: its examples run in order, in one working directory, so that a later
one may read what an earlier one wrote.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
NEEDS_ACCOUNT = "# needs a floLIVE account"

_FENCE = re.compile(
    r"^(?P<fence>```+)(?P<lang>[\w+-]*)[^\n]*\n(?P<code>.*?)^(?P=fence)[ \t]*$", re.S | re.M
)
_PRINTS = re.compile(r"\s*prints:?\s*\n\s*```text\n(?P<out>.*?)^```", re.S | re.M)
_NAME = re.compile(r"\A# example: (?P<name>[\w-]+)\n")


@dataclass(frozen=True)
class Block:
    """One fenced block of a Markdown file."""

    path: Path
    line: int
    lang: str
    code: str
    #: ``# example: NAME``, if the block has that first line.
    name: str | None = None
    #: What the program prints, when the page says so.
    prints: str | None = None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def needs_account(self) -> bool:
        return self.code.startswith(NEEDS_ACCOUNT)


def pages() -> list[Path]:
    """README.md and every Markdown page of the docs, in a stable order."""
    docs = sorted(p for p in DOCS.rglob("*.md") if not {"_build", "_generated"} & set(p.parts))
    return [README, *docs]


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, in order."""
    text = path.read_text(encoding="utf-8")
    out = []
    for m in _FENCE.finditer(text):
        code = m.group("code")
        named = _NAME.match(code)
        printed = _PRINTS.match(text, m.end())
        out.append(
            Block(
                path=path,
                line=text.count("\n", 0, m.start()) + 1,
                lang=m.group("lang"),
                code=code,
                name=named.group("name") if named else None,
                prints=printed.group("out") if printed else None,
            )
        )
    return out


def python_blocks(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang in ("python", "py")]


def example(name: str, source: Path | None = None) -> str:
    """The code of example ``name`` (without its marker line): in ``source``,
    or in README.md and the docs pages."""
    for path in [source] if source else pages():
        for b in python_blocks(path):
            if b.name == name:
                return b.code.split("\n", 1)[1]
    raise LookupError(f"{source.name if source else 'README.md or docs/'} has no example {name!r}")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment an example runs in: nothing of a real account, no
    proxy, and whatever the test adds."""
    drop = ("FLOLIVE_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(drop)}
    env["PYTHONWARNINGS"] = "error"
    return env | extra


def run_block(
    block: Block, cwd: Path, *, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run one example as a program, as a user who copied it into a file
    would, in ``cwd``."""
    script = cwd / f"example_{block.line}.py"
    script.write_text(block.code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, script.name],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


def run_example(
    name: str, cwd: Path, *, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the example called ``name`` in ``cwd``; it must exit 0."""
    for path in pages():
        for b in python_blocks(path):
            if b.name == name:
                done = run_block(b, cwd, env=env)
                assert done.returncode == 0, f"{b.id} failed:\n{done.stderr}"
                return done
    raise LookupError(f"README.md or docs/ has no example {name!r}")
