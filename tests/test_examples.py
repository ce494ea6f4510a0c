"""Every example of README.md and docs/ runs as copied.

A Python block is a complete program: it is written to a file and run with
this interpreter, in a working directory shared by the blocks of its page
(in order), with no account in the environment; when the page says what it
prints, the output must be exactly that. A block that starts with
``# needs a floLIVE account`` is only compiled. A block of test functions
(the pytest plugin's page) is run by pytest. Shell blocks: each ``flolive``
command with ``--sandbox`` is run and must exit 0; the others (an account,
a server that runs until stopped) are parsed by the command's parser.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .support.readme import Block, blocks, clean_env, pages, python_blocks, run_block

SHELL = ("sh", "bash", "console", "shell")


def _page_id(path: Path) -> str:
    return path.name if path.name == "README.md" else f"docs/{path.name}"


def _missing(code: str) -> str | None:
    """A top-level package the example imports that is not installed here."""
    for node in ast.walk(ast.parse(code)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if importlib.util.find_spec(top) is None:
                return top
    if "pyspark" in code and shutil.which("java") is None:
        return "java (for pyspark)"
    return None


def _is_test_module(code: str) -> bool:
    return any(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test_")
        for n in ast.parse(code).body
    )


def _env(cwd: Path) -> dict[str, str]:
    # dlt writes its pipelines and telemetry state under these: keep them here.
    return clean_env(
        DLT_DATA_DIR=str(cwd / ".dlt-data"),
        DLT_PROJECT_DIR=str(cwd),
        RUNTIME__DLTHUB_TELEMETRY="false",
    )


CLI = "import sys; from flolive.cli import main; raise SystemExit(main(sys.argv[1:]))"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """This interpreter with ``args``, in ``cwd``, as a user would run it."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=_env(cwd),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )


def _run_python(block: Block, cwd: Path) -> None:
    if block.needs_account:
        compile(block.code, block.id, "exec")
        return
    missing = _missing(block.code)
    if missing:
        pytest.skip(f"{block.id} needs {missing}")
    if _is_test_module(block.code):
        script = cwd / f"test_example_{block.line}.py"
        script.write_text(block.code, encoding="utf-8")
        ini = ["-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function"]
        done = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider", *ini, script.name], cwd)
        assert done.returncode == 0, f"{block.id}:\n{done.stdout}\n{done.stderr}"
        return
    done = run_block(block, cwd, env=_env(cwd))
    assert done.returncode == 0, f"{block.id} failed:\n{done.stderr}"
    if block.prints is not None:
        assert done.stdout == block.prints, f"{block.id} printed another output"


#: Programs a shell example may use besides ``flolive`` to be run whole.
SHELL_TOOLS = frozenset(
    {"flolive", "echo", "printf", "cat", "head", "tail", "wc", "sleep", "kill", "timeout"}
    | {"touch", "ls", "rm", "test", "true"}
)


def _parts(block: Block) -> list[list[str]]:
    """Each simple command of a shell block (split at &&, ;, | and a final &)."""
    out = []
    for raw in block.code.splitlines():
        line = raw.strip().removeprefix("$ ")
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"&&|;|\||&\s*$", line):
            words = shlex.split(part, comments=True)
            if words:
                out.append(words)
    return out


def _commands(block: Block) -> list[list[str]]:
    """The arguments of each ``flolive`` command of a shell block."""
    out = []
    for words in _parts(block):
        names = [Path(w).name for w in words]
        # The command itself, or run by a wrapper (timeout ...): not a path
        # that ends in flolive among another program's arguments.
        if names[0] == "flolive" or (names[0] in ("timeout", "nohup") and "flolive" in names):
            out.append(words[names.index("flolive") + 1 :])
    return out


def _run_shell(block: Block, cwd: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
    try:
        import flolive_docs
    finally:
        sys.path.pop(0)
    parser = flolive_docs.build_parser()
    commands = _commands(block)
    for args in commands:
        parser.parse_args(args)  # a usage error is a SystemExit: the test fails
    if block.needs_account or not commands:
        return
    sandboxed = all("--sandbox" in a and a[0] != "sandbox" for a in commands)
    if sandboxed and all(Path(w[0]).name in SHELL_TOOLS for w in _parts(block)):
        # A script of the command and a few tools: run it whole, as shown.
        env = _env(cwd)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        done = subprocess.run(
            ["bash", "-c", block.code],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{block.id}:\n{done.stderr}"
        return
    for args in commands:  # within other commands (a venv, pip): run the flolive ones
        if "--sandbox" in args and args[0] != "sandbox":
            done = _run(["-c", CLI, *args], cwd)
            assert done.returncode == 0, f"{block.id}: flolive {shlex.join(args)}\n{done.stderr}"


@pytest.mark.parametrize("page", pages(), ids=_page_id)
def test_every_example_of_the_page_runs_as_written(page: Path, tmp_path: Path) -> None:
    ran = 0
    for block in blocks(page):
        if block.lang in ("python", "py"):
            _run_python(block, tmp_path)
            ran += 1
        elif block.lang in SHELL:
            _run_shell(block, tmp_path)
    assert ran == len(python_blocks(page))


def test_the_collector_finds_the_examples() -> None:
    every = [b for page in pages() for b in python_blocks(page)]
    assert len(every) >= 20
    readme = python_blocks(pages()[0])
    assert sum(b.needs_account for b in readme) <= 2  # the README's rule
    names = [b.name for b in every if b.name]
    assert len(names) == len(set(names)), "two examples with one name"
