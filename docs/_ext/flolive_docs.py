"""Pages generated from the code, so that they cannot drift from it.

On ``builder-inited`` this writes Markdown files into ``docs/_generated/``,
which the pages include (``{include}``):

* ``settings.md``: the settings table, from :data:`flolive._options.SETTINGS`;
* ``environment.md``: the environment variables a client reads;
* ``cli.md``: every command and flag of ``flolive``, from its argparse parser;
* ``exit-codes.md``: the command's exit codes;
* ``errors.md``: the tree of :class:`flolive.FloliveError`.

Each function is plain (text in, text out) so that tests call it too.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

GENERATED = Path(__file__).resolve().parent.parent / "_generated"

SCOPES = ("client", "derive", "listing", "cursor", "request", "worker")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    return f"`{value!r}`" if value is not None else "`None`"


def settings_markdown() -> str:
    """The settings table: one row per :data:`flolive._options.SETTINGS` entry."""
    from flolive._options import SETTINGS

    lines = [
        "| setting | type | default | " + " | ".join(SCOPES) + " | meaning |",
        "|---|---|---|" + "---|" * len(SCOPES) + "---|",
    ]
    for s in SETTINGS.values():
        if s.name == "max_response_size":
            default = f"`{s.default:_}` (64 MiB)"
        elif s.derived_default is not None:
            default = "derived (see meaning)"
        else:
            default = _code(s.default)
        marks = " | ".join("✓" if scope in s.scopes else "" for scope in SCOPES)
        lines.append(f"| `{s.name}` | `{_cell(s.type)}` | {default} | {marks} | {_cell(s.doc)} |")
    return "\n".join(lines) + "\n"


def environment_markdown() -> str:
    """The environment variables a client falls back to."""
    from flolive._base_client import ENVIRONMENT

    lines = ["| variable | stands for the argument |", "|---|---|"]
    lines += [f"| `{var}` | `{arg}` |" for arg, var in ENVIRONMENT.items()]
    return "\n".join(lines) + "\n"


# -- the command ------------------------------------------------------------------


def _find(module: str, name: str, kind: Callable[[Any], bool]) -> Any:
    """``name`` in package ``module`` or any of its submodules (the CLI may
    be one module or a package)."""
    mod = importlib.import_module(module)
    if kind(getattr(mod, name, None)):
        return getattr(mod, name)
    for info in pkgutil.walk_packages(getattr(mod, "__path__", []), module + "."):
        sub = importlib.import_module(info.name)
        if kind(getattr(sub, name, None)):
            return getattr(sub, name)
    raise LookupError(f"no {name} in {module}")


def build_parser() -> argparse.ArgumentParser:
    """The ``flolive`` command's parser, wherever ``flolive.cli`` builds it."""
    builder = _find("flolive.cli", "build_parser", callable)
    parser = builder()
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def commands(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ("flolive",)
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """Every leaf command: (words, its parser, its one-line help), in order."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield words, parser, ""
        return
    helps = {c.dest: c.help or "" for c in subs[0]._choices_actions}
    for name, child in subs[0].choices.items():
        for w, p, h in commands(child, (*words, name)):
            yield w, p, h or helps.get(name, "")


def options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """The documented options and arguments of one command."""
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        yield action


def _flag(action: argparse.Action) -> str:
    names = ", ".join(action.option_strings) or action.dest
    if action.nargs == 0:
        return f"`{names}`"
    if action.choices is not None:
        value = "{" + ",".join(map(str, action.choices)) + "}"
    else:
        value = action.metavar or action.dest.upper()
    return f"`{names} {value}`"


def _default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS, []):
        return ""
    return f"`{action.default}`"


def cli_markdown() -> str:
    """A section per command: usage, description, and a table of its flags."""
    parser = build_parser()
    out: list[str] = ["### `flolive`", "", _myst(parser.description or ""), ""]
    out += ["| flag | default | meaning |", "|---|---|---|"]
    for action in options(parser):
        if action.option_strings:
            out.append(f"| {_flag(action)} | {_default(action)} | {_cell(action.help or '')} |")
    out.append("")
    for words, p, help_ in commands(parser):
        out += [f"### `{' '.join(words)}`", ""]
        if help_:
            out += [help_[0].upper() + help_[1:] + ".", ""]
        if p.description and p is not parser:
            out += [p.description.replace("\n", " "), ""]
        usage = p.format_usage().removeprefix("usage: ").strip()
        out += ["```text", usage, "```", ""]
        out += ["| flag | default | meaning |", "|---|---|---|"]
        for action in options(p):
            help_text = (action.help or "") % {"default": action.default}
            out.append(f"| {_flag(action)} | {_default(action)} | {_cell(help_text)} |")
        out.append("")
    return "\n".join(out)


def exit_codes_markdown() -> str:
    """The table of exit codes, from ``EXIT_MEANINGS``."""
    meanings: Mapping[Any, str] = _find(
        "flolive.cli", "EXIT_MEANINGS", lambda v: isinstance(v, Mapping)
    )
    lines = ["| code | name | meaning |", "|---:|---|---|"]
    lines += [
        f"| {int(code)} | `{getattr(code, 'name', '')}` | {_cell(meaning)} |"
        for code, meaning in meanings.items()
    ]
    return "\n".join(lines) + "\n"


# -- errors -----------------------------------------------------------------------


def error_tree_markdown() -> str:
    """The exception classes of :mod:`flolive`, as a nested list under
    :class:`~flolive.FloliveError`, with the ``errorCode`` each stands for."""
    import flolive
    from flolive import FloliveError

    public = {
        obj
        for name in flolive.__all__
        if inspect.isclass(obj := getattr(flolive, name)) and issubclass(obj, FloliveError)
    }
    lines: list[str] = []

    def walk(cls: type, depth: int) -> None:
        code = getattr(cls, "error_code", None)
        doc = _myst((inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " "))
        extra = f" (`{code}`)" if code and cls.__name__ != "APIError" else ""
        lines.append(f"{'  ' * depth}- {{class}}`~flolive.{cls.__name__}`{extra}: {doc}")
        for sub in sorted(
            (c for c in public if cls in c.__bases__ and _first_base(c, public) is cls),
            key=lambda c: c.__name__,
        ):
            walk(sub, depth + 1)

    walk(FloliveError, 0)
    return "\n".join(lines) + "\n"


def _myst(text: str) -> str:
    """reST roles of a docstring (``:class:`X```) as MyST roles."""
    return re.sub(r":(\w+):`", r"{\1}`", text)


def _first_base(cls: type, public: set[type]) -> type | None:
    """The first base of ``cls`` that is a flolive error (where it is listed)."""
    return next((b for b in cls.__bases__ if b in public), None)


GENERATORS: dict[str, Callable[[], str]] = {
    "settings.md": settings_markdown,
    "environment.md": environment_markdown,
    "cli.md": cli_markdown,
    "exit-codes.md": exit_codes_markdown,
    "errors.md": error_tree_markdown,
}


def generate(into: Path = GENERATED) -> None:
    """Write every generated file; unchanged files are left alone, so that
    Sphinx does not rebuild what did not change."""
    into.mkdir(exist_ok=True)
    for name, make in GENERATORS.items():
        text = "<!-- generated by docs/_ext/flolive_docs.py: do not edit -->\n\n" + make()
        path = into / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", lambda _app: generate())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
