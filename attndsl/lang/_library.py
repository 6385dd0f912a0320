"""The starter library: hand-written programs for well-known head types, shipped as `.py`
files in `attndsl/library/` (each also valid Python)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from ._program import Program


def library_dir() -> Path:
    """The folder holding the starter library's `.py` files."""
    return Path(str(resources.files("attndsl.lang").joinpath("library")))


@functools.cache
def library() -> dict[str, Program]:
    """Every starter program, by file stem, checked (raises `ProgramError` if one is broken)."""
    return {path.stem: Program.load(path) for path in sorted(library_dir().glob("*.py"))}
