"""What the CLI's command modules share: the parser class, option types, the usage error,
and reading program files."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from ..lang import MAX_SOURCE_BYTES, AttnDslError, Program
from ..models import head_spec


class Parser(argparse.ArgumentParser):
    """argparse with one line for a bad command line: `attndsl CMD: error: ...`, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def count(text: str) -> int:
    """An option that counts something: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def positive(text: str) -> int:
    """A whole number, 1 or more."""
    value = count(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def llm_heads(text: str) -> str:
    """`all`, or `worst:N` with N at least 1."""
    from ..pipeline import worst_count

    try:
        worst_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def positive_float(text: str) -> float:
    """A number above 0 (seconds, say)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not above 0")
    return value


def folder(text: str) -> str:
    """A folder to write into: absent (it will be made) or a folder, never a file."""
    if os.path.lexists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    return text


def heads(text: str) -> str:
    """A head spec (`0.3,5.*`) whose syntax is checked before any work starts."""
    try:
        return head_spec(text)
    except AttnDslError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def fraction(text: str) -> float:
    """A share of something: a number in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction in (0, 1]")
    return value


class UsageError(AttnDslError):
    """A problem with the command line or its files (exit status 2)."""


def read_input(name: str) -> tuple[bytes, str]:
    """The bytes of a program file (or stdin). Reading stops one byte past the size limit,
    however big (or endless, as /dev/zero) the file: such a file is a usage error."""
    try:
        if name == "-":
            data, name = sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1), "<stdin>"
        else:
            with open(name, "rb") as handle:
                data = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > MAX_SOURCE_BYTES:
        raise UsageError(
            f"cannot read {name} as a program: it is over {MAX_SOURCE_BYTES:,} "
            "bytes, and a program is one small function"
        )
    return data, name


def load_program_file(name: str) -> Program:
    data, filename = read_input(name)
    return Program.from_source(data, filename)
