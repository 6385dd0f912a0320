"""The language: program text → checked, canonical `Program` → its reference meaning.

Passes run in this order: `parse` (Lark grammar → typed syntax tree), `check` (types, scope,
limits), `canonicalise` (one spelling per meaning, hence the program id). `interpret` is the
definition of what a program means, and every compiler backend is tested against it. `syntax`
(the tree's node classes) and `semantics` (operations on values) are public for the compiler.
Starter programs ship in `library/`.
"""

from . import _ast as syntax
from . import _semantics as semantics
from ._ast import Function, map_children
from ._builtins import BUILTINS, T
from ._check import Checked, check, int_literal
from ._errors import AttnDslError, CheckError, ParseError, ProgramError, SourceError
from ._features import (
    LAYOUT_FLAGS,
    STRUCTURAL,
    TOKEN_TESTS,
    SequenceFeatures,
    layout_flags,
    normalise_token,
    sequence_features,
    spelling_scheme,
    split_words,
    structure,
    token_key,
)
from ._interpret import interpret
from ._library import library, library_dir
from ._parse import MAX_SOURCE_BYTES, parse
from ._program import Program, canonicalise, load

__all__ = [
    "BUILTINS",
    "LAYOUT_FLAGS",
    "MAX_SOURCE_BYTES",
    "STRUCTURAL",
    "TOKEN_TESTS",
    "AttnDslError",
    "CheckError",
    "Checked",
    "Function",
    "ParseError",
    "Program",
    "ProgramError",
    "SequenceFeatures",
    "SourceError",
    "T",
    "canonicalise",
    "check",
    "int_literal",
    "interpret",
    "layout_flags",
    "library",
    "library_dir",
    "load",
    "map_children",
    "normalise_token",
    "parse",
    "semantics",
    "sequence_features",
    "spelling_scheme",
    "split_words",
    "structure",
    "syntax",
    "token_key",
]
