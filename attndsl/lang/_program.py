"""`Program`: a checked program with its canonical form and id.

The front end's passes are parse (`_parse`), check (`_check`) and canonicalise (`_canon`);
`attndsl.compiler`'s docstring lists every pass and what it adds.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import _ast as A
from ._canon import canonical_text
from ._check import Checked, check
from ._errors import AttnDslError
from ._features import SequenceFeatures
from ._interpret import interpret
from ._parse import MAX_SOURCE_BYTES, parse, read_source

ID_LENGTH = 16


class Program:
    """A program that parsed and checked. Build one with `attndsl.load` or `Program.load`."""

    def __init__(self, checked: Checked) -> None:
        self.checked = checked

    @classmethod
    def from_source(cls, source: str | bytes, filename: str = "<program>") -> Program:
        """Parse and check program text; raise `ProgramError` listing every problem."""
        text = read_source(source, filename)
        return cls(check(parse(text, filename), text, filename))

    @classmethod
    def trusted(cls, source: str, filename: str = "<program>") -> Program:
        """A program whose source is canonical already (as the run directory stores them):
        parsed and checked, and its own canonical form rather than canonicalised again."""
        return _own_canonical(cls.from_source(source, filename))

    @classmethod
    def load(cls, path: str | Path) -> Program:
        """Read, parse and check a program file."""
        path = Path(path)
        try:
            with path.open("rb") as handle:  # one byte past the limit says "too long"
                data = handle.read(MAX_SOURCE_BYTES + 1)
        except OSError as exc:
            raise AttnDslError(f"{path}: cannot read program: {exc.strerror or exc}") from None
        return cls.from_source(data, str(path))

    # ------------------------------------------------------------ identity
    @property
    def function(self) -> A.Function:
        return self.checked.function

    @property
    def source(self) -> str:
        return self.checked.source

    @property
    def filename(self) -> str:
        return self.checked.filename

    @property
    def docstring(self) -> str | None:
        return self.function.docstring

    @property
    def name(self) -> str:
        """The program's name: its docstring's text before the first colon, else its id."""
        doc = (self.docstring or "").strip().split("\n", 1)[0]
        if ":" in doc and doc.index(":") <= 60:
            return doc.split(":", 1)[0].strip()
        return doc[:60] or self.id

    @functools.cached_property
    def canonical(self) -> Program:
        """The canonical form; it is its own canonical form (not canonicalised again:
        `canonicalise` does that, and the tests check that it changes nothing)."""
        return _own_canonical(canonicalise(self))

    @property
    def text(self) -> str:
        """The canonical program's source (docstring included)."""
        return self.canonical.source

    @functools.cached_property
    def id(self) -> str:
        """Hash of the canonical body (docstring excluded): equal ids, equal programs."""
        from ._printer import print_function

        body = print_function(self.canonical.function, docstring=False)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()[:ID_LENGTH]

    # ---------------------------------------------------------------- running
    def __call__(self, tokens: Sequence[str] | SequenceFeatures) -> np.ndarray:
        """The normalised causal attention pattern on one token sequence (reference meaning)."""
        return interpret(self, tokens)

    def __repr__(self) -> str:
        return f"Program({self.name!r}, id={self.id})"


def load(source: str | bytes | Path, filename: str | None = None) -> Program:
    """A checked `Program` from source text (str/bytes) or from a file path (`Path`)."""
    if isinstance(source, Path):
        return Program.load(source)
    return Program.from_source(source, filename or "<program>")


def canonicalise(program: Program) -> Program:
    """The canonical `Program` equal in meaning to `program` (computed afresh)."""
    return Program.from_source(canonical_text(program.checked), program.filename)


def _own_canonical(program: Program) -> Program:
    """Mark a program whose text is canonical as its own canonical form."""
    program.__dict__["canonical"] = program
    return program
