"""Where the grammar's source is: `attndsl.lark`, shipped beside this module."""

from __future__ import annotations

from importlib import resources

GRAMMAR_FILE = "attndsl.lark"


def grammar_text() -> str:
    """The grammar source, as shipped with the package."""
    return (
        resources.files(__package__ or "attndsl.grammar")
        .joinpath(GRAMMAR_FILE)
        .read_text(encoding="utf-8")
    )
