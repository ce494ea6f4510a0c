"""Sphinx configuration: furo, MyST Markdown pages, autodoc with napoleon
(Google docstrings). Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html``."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import flolive  # noqa: E402

project = "flolive-sdk"
author = "flolive-sdk developers"
copyright = "flolive-sdk developers"
release = flolive.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "flolive_docs",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

html_theme = "furo"
html_title = f"flolive-sdk {release}"
html_static_path: list[str] = []

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Optional engines the API reference imports: mocked, so that the `docs`
# extra alone builds every page (pyarrow is in the extra: flolive.arrow
# builds its schemas at import).
autodoc_mock_imports = ["dask", "distributed", "dlt", "pyspark", "pytest", "pytest_asyncio", "rich"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# Every cross-reference must resolve, except to these third-party types
# (no intersphinx: the build runs without network).
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(aiohttp|msgspec|pyarrow|pa|anyio|dask|dd|distributed|dlt|pyspark|yarl|rich|ssl|pandas|pd|concurrent|multiprocessing)(\..*)?",
    ),
    (
        r"py:.*",
        r"(collections\.abc|typing|typing_extensions|enum|datetime|uuid|pathlib|os|asyncio|threading|logging|types|contextlib|argparse|json|io)\..*",
    ),
    (r"py:class", r"(T|T_co|ItemT|PageT|UnitT|P|R|S|Self|Any|NoneType|Ellipsis)"),
]

# A docstring's short names (``ClientState``, ``ListOptions``...) are written
# in the context of their own module; every public name is documented once,
# under ``flolive`` (or its own module), so look it up there.
nitpick_ignore_regex += [
    (r"py:.*", r".*\s.*"),  # napoleon reads "name: the thing" as a type
    (r"py:.*", r"(.*\.)?_\w+(\..*)?"),  # private modules and classes
    (r"py:.*", r"(.*\.)?[A-Z]"),  # type variables: T, U, R
    (r"py:.*", r"(.*\.)?(TYPE_CHECKING|Wire\w+|EID_EVERY|DEFAULT_SUBSCRIBERS)"),
    # Aliases and the sentinel: data without a page of their own.
    (r"py:.*", r"(flolive\.)?(TokenProvider|Sleep|OnListChange|OnPage|USE_CLIENT_DEFAULT)"),
    (r"py:(attr|meth)", r"[a-z_]+"),  # a member named relative to its class
    (r"py:.*", r"(time|array)(\..*)?"),
    (r"py:mod", r"flolive\.sandbox\.(data|faults|server)"),
    # Internal bases and aliases named in docstrings.
    (r"py:.*", r"(flolive\.models\.)?Model|Pager|Cursor|LeakyBucket|FAULT_DESCRIPTIONS"),
]


def _resolve_short_name(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """``X`` or ``flolive.module.X`` that did not resolve: try ``flolive.X``,
    then the modules the API page documents."""
    if node.get("refdomain") != "py":
        return None
    given = node["reftarget"]
    names = {given, given.rsplit(".", 1)[-1]}
    if given.count(".") >= 2:  # flolive.module.X.y -> X.y
        names.add(".".join(given.split(".")[2:]))
    domain = env.get_domain("py")
    for prefix in ("flolive", "flolive.sync", "flolive.sandbox", "flolive.parts", "flolive.arrow"):
        for name in sorted(names):
            target = f"{prefix}.{name}"
            if target == given:
                continue
            for typ in ("class", "meth", "attr", "func", "data", "obj", "exc", "mod"):
                found = domain.resolve_xref(
                    env, node["refdoc"], app.builder, typ, target, node, contnode
                )
                if found is not None:
                    return found
    return None


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_short_name)
