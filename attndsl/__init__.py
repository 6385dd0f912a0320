"""attndsl: explain attention heads with small programs, and compile them into kernels.

The public API; everything else lives in private modules (leading underscore).

    >>> import attndsl
    >>> prog = attndsl.load(open("attndsl/library/previous_token.py").read())
    >>> prog(["The", " cat", " sat"])           # reference meaning: n×n float64 pattern
    >>> print(prog.text, prog.id)                # canonical form and id
    >>> kernel = attndsl.compile(prog)           # Numba or torch kernel over ragged batches
"""

from ._ast import Function
from ._builtins import BUILTINS, T
from ._canon import canonicalise
from ._check import Checked, check
from ._errors import AttnDslError, CheckError, ParseError, ProgramError, SourceError
from ._features import (
    SequenceFeatures,
    normalise_token,
    sequence_features,
    split_words,
    token_key,
)
from ._interpret import interpret
from ._library import library, library_dir
from ._parse import parse
from ._program import Program, load

__version__ = "0.1.0"

_COMPILER = ("compile", "Kernel", "Batch", "Vocab", "CompileError")


def __getattr__(name: str):
    """`attndsl.compile` and friends, imported on first use (they bring in torch and Numba)."""
    if name in _COMPILER:
        from . import compiler

        return getattr(compiler, name)
    raise AttributeError(f"module 'attndsl' has no attribute {name!r}")


__all__ = [  # noqa: RUF022 - grouped: front end, then the lazily imported compiler
    "BUILTINS",
    "Batch",
    "CompileError",
    "Kernel",
    "Vocab",
    "compile",
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
    "__version__",
    "canonicalise",
    "check",
    "interpret",
    "library",
    "library_dir",
    "load",
    "normalise_token",
    "parse",
    "sequence_features",
    "split_words",
    "token_key",
]
