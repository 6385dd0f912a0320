"""Prompt templates and few-shot examples for the LLM synthesiser (`attndsl.prompts`).

The templates are the markdown files beside this module, with `${name}` placeholders
(`string.Template`): `system.md` holds the language reference (`language.md`, also the reference
people read) and the worked examples (`examples.md`); `user.md` asks for programs for one head's
summary, with `known.md` showing the best program known before the first request; `repair.md`
sends back the checker's errors; `refine.md` shows the best program's results on fit text. A
worked example names a starter-library program as `${answer_<stem>}` and is rendered from that
program's file, so no program text is copied by hand. Program text sent back to the LLM sits
in a fence it cannot close (`fenced`), its hypothesis on one line.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..synth import Candidate

_LIBRARY_ANSWER = re.compile(r"\$\{answer_(\w+)\}")


@functools.cache
def template(name: str) -> str:
    """Template `name`: `system`, `user`, `repair`, `refine`, `examples` or `language`."""
    return resources.files(__name__).joinpath(f"{name}.md").read_text(encoding="utf-8")


def render(name: str, **values: object) -> str:
    """Template `name` with every placeholder filled (a missing value raises `KeyError`)."""
    return Template(template(name)).substitute({k: str(v) for k, v in values.items()}).strip()


def fenced(text: str, language: str) -> str:
    """`text` in a fenced block that nothing inside can close: the fence is one backtick
    longer than the longest run of backticks in the text (at least three)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def one_line(text: str) -> str:
    """Text on one line (runs of whitespace, newlines included, become one space)."""
    return " ".join(text.split())


def answer(hypothesis: str, source: str) -> str:
    """One program as the LLM is asked to write it: a `Hypothesis:` line and a python fence."""
    return f"Hypothesis: {one_line(hypothesis)}\n{fenced(source, 'python')}"


@functools.cache
def system_prompt() -> str:
    """The system prompt: task, language reference, worked examples, answer format."""
    from ..lang import library

    programs = library()
    stems = _LIBRARY_ANSWER.findall(template("examples"))
    answers = {}
    for stem in stems:
        program = programs[stem]
        hypothesis = (program.docstring or program.name).strip().split("\n", 1)[0]
        answers[f"answer_{stem}"] = answer(hypothesis, program.source)
    return render(
        "system", language=template("language").strip(), examples=render("examples", **answers)
    )


def user_prompt(
    layer: int,
    head: int,
    summary: str,
    count: int,
    start: tuple[Candidate, str] | None = None,
) -> str:
    """The first request for a head: its summary, how many programs to write, and the best
    program known so far with how it does (`start`), for the model to improve on."""
    known = ""
    if start is not None:
        candidate, report = start
        known = render(
            "known", program=answer(candidate.hypothesis, candidate.program.text), report=report
        )
    return render("user", layer=layer, head=head, summary=summary.strip(), count=count, known=known)


def repair_prompt(rejected: Sequence[tuple[str, str]]) -> str:
    """Send rejected programs back: (hypothesis, the checker's error text) for each."""
    errors = "\n\n".join(
        f"Program with hypothesis {hyp!r}:\n{fenced(err.strip(), 'text')}" for hyp, err in rejected
    )
    return render("repair", rejected=len(rejected), errors=errors)


def refine_prompt(
    layer: int, head: int, summary: str, candidate: Candidate, report: str, count: int
) -> str:
    """Ask for fixes to the best program so far, given how it does on fit text."""
    return render(
        "refine",
        layer=layer,
        head=head,
        summary=summary.strip(),
        program=answer(candidate.hypothesis, candidate.program.text),
        report=report.strip(),
        count=count,
    )
