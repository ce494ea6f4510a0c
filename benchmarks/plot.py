"""``python -m benchmarks --plot DIR``: the figures of a benchmark report.

Each figure is drawn from what the report holds, and skipped (with a line
saying why) when the case that feeds it did not run:

* ``concurrency.png``: wall time against concurrency (case ``scaling``): the
  SDK, the hand-written client, the round-trip model, and the sequential
  peers of case ``latency`` (concurrency does not apply to them);
* ``ratelimit.png``: accepted requests and 429s per second over time against
  a rate-limited server (case ``ratelimit-series``);
* ``memory.png``: peak memory against list length (case ``memory``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .ratelimit_series import series

__all__ = ["FIGURES", "plot", "series"]


def _save(
    plt: Any, fig: Any, report: dict[str, Any], path: Path, caption_at: float, bottom: float
) -> bool:
    """Caption the figure (at height ``caption_at``) with the run it draws,
    lay it out above ``bottom``, write it to ``path`` and close it."""
    fig.text(0.01, caption_at, _caption(report), fontsize="x-small", color="grey")
    fig.tight_layout(rect=(0, bottom, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'flolive-sdk[bench]'") from None
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _caption(report: dict[str, Any]) -> str:
    return f"{report.get('date', '')}, {report.get('machine', '')}"


def concurrency(plt: Any, report: dict[str, Any], path: Path) -> bool:
    scaling = report.get("scaling")
    if not scaling:
        return False
    cs = sorted(int(c) for c in scaling)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(cs, [scaling[str(c)]["sdk"]["wall"] for c in cs], "o-", label="flolive SDK")
    ax.plot(cs, [scaling[str(c)]["ideal"]["wall"] for c in cs], "s--", label="hand-written client")
    ax.plot(cs, [scaling[str(c)]["model"] for c in cs], ":", color="grey", label="round-trip model")
    latency = report.get("latency", {}).get("results", {})
    for name, style in (("aiohttp+json seq", "-."), ("httpx+pydantic seq", (0, (5, 1)))):
        if name in latency:
            ax.axhline(
                latency[name]["wall"],
                linestyle=style,
                color="tab:red",
                alpha=0.6,
                label=f"{name.replace(' seq', '')} (sequential)",
            )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(cs, [str(c) for c in cs])
    ax.set_xlabel("concurrency (requests in flight)")
    ax.set_ylabel("wall time (s), log scale")
    params = report.get("latency", {}).get("params")  # [total, page size, latency, C]
    per_request = f", {params[2] * 1000:g} ms per request" if params else ""
    ax.set_title(f"988 participants, 99 pages{per_request}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _save(plt, fig, report, path, caption_at=0.01, bottom=0.03)


def ratelimit(plt: Any, report: dict[str, Any], path: Path) -> bool:
    case = report.get("ratelimit_series")
    if not case:
        return False
    total, size, conc, rate, burst = case["params"]
    results = case["results"]
    fig, axes = plt.subplots(
        len(results), 1, figsize=(7, 2.2 * len(results) + 0.6), sharex=True, squeeze=False
    )
    for ax, (client, r) in zip(axes[:, 0], results.items(), strict=True):
        s = r["series"]
        width = s["t"][1] - s["t"][0] if len(s["t"]) > 1 else 0.25
        ax.bar(s["t"], s["ok"], width=width, align="edge", color="tab:green", label="accepted")
        ax.bar(
            s["t"],
            s["throttled"],
            width=width,
            align="edge",
            bottom=s["ok"],
            color="tab:red",
            label="429",
        )
        ax.axhline(rate, color="black", linestyle=":", linewidth=1, label=f"limit {rate:g}/s")
        ax.set_ylabel("requests/s")
        ax.set_title(f"{client}: {r['wall']:.2f} s, {r['throttled']} answers 429", fontsize="small")
        ax.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize="x-small", loc="upper right")
    axes[-1, 0].set_xlabel("time since the first request (s)")
    fig.suptitle(
        f"{total:,} participants in pages of {size}, concurrency {conc}, "
        f"token bucket {rate:g}/s burst {burst}",
        fontsize="medium",
    )
    return _save(plt, fig, report, path, caption_at=0.005, bottom=0.02)


def memory(plt: Any, report: dict[str, Any], path: Path) -> bool:
    case = report.get("memory")
    if not case:
        return False
    lengths = sorted(int(n) for n in case["results"])
    res = case["results"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(
        lengths,
        [res[str(n)]["sdk"]["rss_mib"] for n in lengths],
        "o-",
        label="streaming: async for",
    )
    ax.plot(
        lengths,
        [res[str(n)]["sdk.collect"]["rss_mib"] for n in lengths],
        "s--",
        label=".collect() (the whole list)",
    )
    ax.set_xscale("log")
    ax.set_xticks(lengths, [f"{n:,}" for n in lengths])
    ax.set_xlabel("participants in the list")
    ax.set_ylabel("peak RSS of the process (MiB)")
    ax.set_ylim(bottom=0)
    ax.set_title("Peak memory against list length (pages of 1000, concurrency 16)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return _save(plt, fig, report, path, caption_at=0.01, bottom=0.03)


FIGURES = {"concurrency.png": concurrency, "ratelimit.png": ratelimit, "memory.png": memory}


def plot(report: dict[str, Any], into: Path) -> list[Path]:
    """Draw every figure the report has data for into ``into``; the paths written."""
    plt = _pyplot()
    into.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in FIGURES.items():
        if draw(plt, report, into / name):
            written.append(into / name)
        else:
            print(f"{name}: not drawn, the report has no data for it", file=sys.stderr)
    return written
