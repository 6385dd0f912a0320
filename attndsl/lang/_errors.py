"""Errors a program can have, each with its file, line, column, rule and a source excerpt.

A `ProgramError` carries every `SourceError` found in one program; its text is what a person
or a language model reads to repair the program:

    prog.py:4:17: error: unknown name 'foo' [unknown-name]
        4 |     out[i, j] = foo
          |                 ^~~
"""

from __future__ import annotations

from collections.abc import Sequence

EXCERPT_WIDTH = 100


class AttnDslError(Exception):
    """Base class of every error attndsl raises on purpose."""


class SourceError(AttnDslError):
    """One problem at one place in a program's source.

    Attributes: `filename`, `line`, `column` (1-based), `end_column`, `message` (one line,
    saying what is wrong and what is allowed instead), `rule` (a short stable code such as
    `unknown-name`) and `excerpt` (the source line).
    """

    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        rule: str,
        line: int = 0,
        column: int = 0,
        end_column: int = 0,
        filename: str = "<program>",
        excerpt: str = "",
    ) -> None:
        self.message = message
        self.rule = rule
        self.line = line
        self.column = column
        self.end_column = end_column
        self.filename = filename
        self.excerpt = excerpt
        super().__init__(self.format())

    @property
    def location(self) -> str:
        """`file:line:column`."""
        return f"{self.filename}:{self.line}:{self.column}"

    def format(self, with_excerpt: bool = True) -> str:
        """`file:line:col: error: message [rule]`, then the line and a caret under the place."""
        head = f"{self.location}: {self.kind}: {self.message} [{self.rule}]"
        if not with_excerpt or not self.excerpt or self.line <= 0:
            return head
        gutter = f"{self.line:>5} | "
        text, offset = self.excerpt, self.column - 1
        if len(text) > EXCERPT_WIDTH:  # show a window of a long line around the column
            start = max(0, min(offset - EXCERPT_WIDTH // 2, len(text) - EXCERPT_WIDTH))
            text = (
                ("…" if start else "")
                + text[start : start + EXCERPT_WIDTH]
                + ("…" if start + EXCERPT_WIDTH < len(text) else "")
            )
            offset = offset - start + (1 if start else 0)
        width = max(1, min(self.end_column - self.column, len(text) - offset))
        caret = " " * (len(gutter) - 2) + "| " + " " * max(0, offset) + "^" + "~" * (width - 1)
        return f"{head}\n{gutter}{text}\n{caret}"

    def __str__(self) -> str:
        return self.format()


class ParseError(SourceError):
    """The text is not in the language's syntax (or is not readable text at all)."""


class CheckError(SourceError):
    """The syntax is fine but a rule of the language is broken (a name, a type, a bound)."""


class ProgramError(AttnDslError):
    """A program was rejected; `errors` holds every problem found, in source order."""

    def __init__(self, errors: Sequence[SourceError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.line, e.column))
        super().__init__("\n".join(e.format() for e in self.errors))

    @property
    def first(self) -> SourceError:
        """The first problem in source order."""
        return self.errors[0]

    @property
    def rules(self) -> list[str]:
        """The rule code of every problem, in source order."""
        return [e.rule for e in self.errors]


def excerpt_of(source: str, line: int) -> str:
    """Line `line` (1-based) of `source`, without its newline; '' when out of range."""
    lines = source.splitlines()
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return ""
