"""Each optional module names its own extra, and a format that needs a
missing extra is refused with the hint, never silently replaced."""

from __future__ import annotations

import subprocess
import sys

import pytest

# A fresh interpreter per case: blocking a package in sys.modules of this
# process would leak into every later test that imports it.
BLOCK = "import sys\nfor name in {blocked!r}: sys.modules[name] = None\n"


def run(blocked: list[str], code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK.format(blocked=blocked) + code, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=60,
    )


IMPORT = "try:\n    {stmt}\nexcept ImportError as e:\n    print(e)\nelse:\n    print('no error')"


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [
        ("flolive.dlt", ["pyarrow"], "dlt"),  # pyarrow is the dlt extra's too
        ("flolive.dlt", ["dlt"], "dlt"),
        ("flolive.arrow", ["pyarrow"], "arrow"),
    ],
)
def test_an_optional_module_names_its_own_extra(
    module: str, blocked: list[str], extra: str
) -> None:
    out = run(blocked, IMPORT.format(stmt=f"import {module}"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(f"pip install 'flolive-sdk[{extra}]'"), out.stdout


def test_dask_without_pyarrow_names_the_dask_extra() -> None:
    code = (
        "from flolive import ResumeToken\n"
        "from flolive.dask import from_parts\n"
        + IMPORT.format(stmt="from_parts([object()])")  # fails on the import, before the part
    )
    out = run(["pyarrow"], code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("pip install 'flolive-sdk[dask]'"), out.stdout


CLI = "from flolive.cli import main\nraise SystemExit(main(sys.argv[1:]))"


def test_campaigns_format_table_without_rich_is_refused_with_the_hint() -> None:
    out = run(["rich"], CLI, "campaigns", "--sandbox", "--customer", "1", "--format", "table")
    assert out.returncode == 2
    assert out.stdout == ""  # nothing else was printed in its place
    assert out.stderr == (
        "flolive: error: --format table needs rich: pip install 'flolive-sdk[cli]'\n"
    )


def test_campaigns_format_jsonl_needs_no_rich() -> None:
    out = run(["rich"], CLI, "campaigns", "--sandbox", "--customer", "1", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 5  # the sandbox's five campaigns
    assert out.stderr == ""


def test_export_parquet_without_pyarrow_is_refused_with_the_hint(tmp_path: object) -> None:
    out = run(
        ["pyarrow"],
        CLI,
        *("export", "participants", "--sandbox", "--customer", "1", "--campaign", "5"),
        *("-o", f"{tmp_path}/p.parquet"),
    )
    assert out.returncode != 0
    assert "pip install 'flolive-sdk[parquet]'" in out.stderr
    assert "Traceback" not in out.stderr
