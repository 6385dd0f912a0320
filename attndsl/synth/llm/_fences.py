"""Programs in an LLM's reply: fenced code blocks and the `Hypothesis:` line before each.

Pure text processing (regular expressions over lines): nothing in a reply is ever compiled or
run. Robust to any number of fences, prose between them, a missing hypothesis, a last fence cut
off by the token limit (kept, marked incomplete: the checker will say what is missing) and
replies with no fences at all (bare `def` blocks).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

_OPEN = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*([\w+.-]*)[^`]*$")
_HYPOTHESIS = re.compile(
    r"^[\s>#*_\-\d.)]*hypothesis(?:\s*\d+)?[\s*_]*:[\s*_]*(.*?)[\s*_]*$", re.IGNORECASE
)
_DEF = re.compile(r"^\s*def\s", re.MULTILINE)
#: fence tags that may hold a program (an untagged fence too)
PROGRAM_TAGS = frozenset({"", "python", "py", "python3", "attndsl"})


@dataclass(frozen=True)
class Snippet:
    """One program's text as the reply gave it, its hypothesis (None: not given), and whether
    its fence was closed."""

    source: str
    hypothesis: str | None
    complete: bool = True


def extract_programs(reply: str) -> list[Snippet]:
    """Every program in `reply`, in order: python (or untagged) fences holding a `def`; when
    the reply has no fence at all, its top-level `def` blocks."""
    lines = reply.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    snippets: list[Snippet] = []
    prose: list[str] = []  # lines since the last fence: where the hypothesis is
    fenced = False
    k = 0
    while k < len(lines):
        opened = _OPEN.match(lines[k])
        if not opened:
            prose.append(lines[k])
            k += 1
            continue
        fenced = True
        marker, tag = opened.group(1), opened.group(2).lower()
        close = re.compile(rf"^\s*{re.escape(marker[0])}{{{len(marker)},}}\s*$")
        end = next((m for m in range(k + 1, len(lines)) if close.match(lines[m])), len(lines))
        body = textwrap.dedent("\n".join(lines[k + 1 : end])).strip("\n")
        if tag in PROGRAM_TAGS and _DEF.search(body):
            snippets.append(Snippet(body + "\n", _hypothesis(prose), end < len(lines)))
        prose = []
        k = end + 1
    if not fenced:
        snippets = _bare_functions(lines)
    return snippets


def _hypothesis(prose: list[str]) -> str | None:
    """The text of the last `Hypothesis:` line among `prose` (markdown emphasis removed)."""
    for line in reversed(prose):
        found = _HYPOTHESIS.match(line)
        if found and found.group(1).strip():
            return found.group(1).strip().strip("`").strip()
    return None


def _bare_functions(lines: list[str]) -> list[Snippet]:
    """Unfenced replies: each `def` at column 0 up to the next line that is neither indented
    nor blank."""
    snippets, prose, k = [], [], 0
    while k < len(lines):
        if not lines[k].startswith("def "):
            prose.append(lines[k])
            k += 1
            continue
        end = k + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
            end += 1
        snippets.append(Snippet("\n".join(lines[k:end]).strip("\n") + "\n", _hypothesis(prose)))
        prose, k = [], end
    return snippets
