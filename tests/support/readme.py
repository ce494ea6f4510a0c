"""The README's Python examples, so that tests run exactly what it shows.

An example is a fenced ``python`` block whose first line is ``# example: NAME``.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"```python\n# example: (?P<name>[\w-]+)\n(?P<code>.*?)```", re.S)


def example(name: str) -> str:
    """The code of README example ``name`` (without its marker line)."""
    for m in _BLOCK.finditer(README.read_text(encoding="utf-8")):
        if m.group("name") == name:
            return m.group("code")
    raise LookupError(f"README.md has no example {name!r}")
