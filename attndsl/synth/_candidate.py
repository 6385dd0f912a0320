"""A candidate explanation of a head: a canonical program, the hypothesis it states, and where
it came from. Synthesisers (enumeration, the LLM, the starter library) all produce these."""

from __future__ import annotations

from dataclasses import dataclass

from ..lang import Program

ORIGINS = ("library", "enum", "llm")


@dataclass(frozen=True)
class Candidate:
    """One program proposed for one or more heads."""

    program: Program  # canonical form (its `id` identifies it)
    hypothesis: str  # one line a person can read: what the head is said to do
    origin: str  # one of ORIGINS

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise ValueError(f"origin must be one of {ORIGINS}, not {self.origin!r}")

    @property
    def id(self) -> str:
        return self.program.id

    def to_json(self) -> dict:
        """Plain JSON: the canonical source, id, hypothesis and origin."""
        return {
            "id": self.id,
            "source": self.program.text,
            "hypothesis": self.hypothesis,
            "origin": self.origin,
        }

    @staticmethod
    def from_json(entry: dict) -> Candidate:
        """The inverse of `to_json` (the source is parsed and checked again)."""
        program = Program.trusted(entry["source"], filename=f"<candidate {entry['id']}>")
        return Candidate(program, entry["hypothesis"], entry["origin"])
