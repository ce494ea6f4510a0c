"""The generated parts of the docs say what the code does: the settings table,
the command's flags and exit codes, the error tree; and the benchmark figures
are drawn from a report."""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path
from typing import Any

import pytest

import flolive
from flolive import FloliveError
from flolive._options import SETTINGS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
import flolive_docs

sys.path.pop(0)


def test_the_settings_table_has_one_row_per_setting_with_its_type_and_default() -> None:
    rows = flolive_docs.settings_markdown().splitlines()[2:]
    assert [r.split("|")[1].strip() for r in rows] == [f"`{n}`" for n in SETTINGS]
    page_size = next(r for r in rows if r.startswith("| `page_size`"))
    assert "| `int` | `100` |" in page_size
    timeout = next(r for r in rows if r.startswith("| `timeout`"))
    assert "| `30.0` |" in timeout


def test_the_cli_reference_has_every_command_and_every_flag() -> None:
    text = flolive_docs.cli_markdown()
    parser = flolive_docs.build_parser()
    leaves = list(flolive_docs.commands(parser))
    assert {" ".join(w) for w, _, _ in leaves} >= {
        "flolive export participants",
        "flolive export labels",
        "flolive export subscribers",
        "flolive campaigns",
        "flolive sandbox",
    }
    for words, sub, _ in leaves:
        section = text.split(f"### `{' '.join(words)}`\n", 1)[1].split("\n### ", 1)[0]
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                assert f"`{flag}" in section or f", {flag}" in section, (words, flag)
    assert "`--version`" in text


def test_the_exit_codes_table_has_every_code() -> None:
    from flolive.cli import EXIT_MEANINGS

    rows = flolive_docs.exit_codes_markdown().splitlines()[2:]
    assert [int(r.split("|")[1]) for r in rows] == [int(c) for c in EXIT_MEANINGS]


def test_the_error_tree_lists_every_public_error_once() -> None:
    tree = flolive_docs.error_tree_markdown()
    public = [
        n
        for n in flolive.__all__
        if inspect.isclass(c := getattr(flolive, n)) and issubclass(c, FloliveError)
    ]
    for name in public:
        assert tree.count(f"`~flolive.{name}`") == 1, name
    assert "  - {class}`~flolive.CampaignNotFound` (`CUSTOMER_1037`)" in tree


def _report() -> dict[str, Any]:
    run = {"wall": 1.0, "cpu": 0.5, "rss_mib": 50.0, "items": 988}
    return {
        "date": "2026-01-01",
        "machine": "test",
        "latency": {"params": [988, 10, 0.05, 16], "results": {"aiohttp+json seq": run}},
        "scaling": {str(c): {"sdk": run, "ideal": run, "model": 1 / c} for c in (1, 4, 16)},
        "memory": {"results": {"1000": {"sdk": run, "sdk.collect": run}}},
    }


def test_the_figures_are_drawn_from_a_report(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from benchmarks.plot import plot, series

    report = _report()
    assert plot(report, tmp_path) == [tmp_path / "concurrency.png", tmp_path / "memory.png"]
    log = [(10.0, 200), (10.1, 429), (10.3, 200), (10.6, 200)]
    s = series(log)
    assert s == {"t": [0.0, 0.25, 0.5], "ok": [4.0, 4.0, 4.0], "throttled": [4.0, 0.0, 0.0]}
    result = {"wall": 1.0, "throttled": 1, "series": s}
    report["ratelimit_series"] = {"params": [600, 10, 16, 50.0, 10], "results": {"sdk": result}}
    assert plot(report, tmp_path)[1] == tmp_path / "ratelimit.png"
    for name in ("concurrency.png", "memory.png", "ratelimit.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
