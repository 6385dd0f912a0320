"""The grammar of the attndsl language, its parser, and the grammars derived from it that
hold an LLM's decoding to the language (`gbnf`, `lark`).

`attndsl.lark` beside this file is the single source of the surface syntax.
"""

from __future__ import annotations

import threading

from lark import Lark
from lark.indenter import Indenter

from ._decoding import DecodingGrammarError, gbnf, lark, reply_rules
from ._source import GRAMMAR_FILE, grammar_text


class ProgramIndenter(Indenter):
    """Python's layout rules: leading spaces become _INDENT/_DEDENT tokens. (Lark declares
    these settings as abstract properties and reads them as class attributes, as here.)"""

    NL_type = "_NL"  # pyright: ignore[reportAssignmentType]
    OPEN_PAREN_types = ["LPAR", "LSQB"]  # noqa: RUF012  # pyright: ignore[reportAssignmentType]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]  # noqa: RUF012  # pyright: ignore[reportAssignmentType]
    INDENT_type = "_INDENT"  # pyright: ignore[reportAssignmentType]
    DEDENT_type = "_DEDENT"  # pyright: ignore[reportAssignmentType]
    tab_len = 8  # pyright: ignore[reportAssignmentType]


_local = threading.local()


def load_parser() -> Lark:
    """The LALR parser for the language: one per thread (the indenter keeps state while it
    runs), built from Lark's on-disk cache after the first time."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _build()
    return parser


def _build() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        postlex=ProgramIndenter(),
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


__all__ = [
    "GRAMMAR_FILE",
    "DecodingGrammarError",
    "ProgramIndenter",
    "gbnf",
    "grammar_text",
    "lark",
    "load_parser",
    "reply_rules",
]
