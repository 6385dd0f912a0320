"""Synthesis: what a head does in a form a synthesiser reads (`HeadSummary`), the programs
proposed for it (`Candidate`), and how well a program fits a head (`scores`).

The synthesisers are subpackages: `enum` (offline enumeration of weighted mixtures of
primitive rules) and `llm` (an OpenAI-compatible endpoint). `scores` brings in torch and
Numba; import it as `attndsl.synth.scores`.
"""

from ._candidate import ORIGINS, Candidate
from ._summary import (
    CLASSES,
    OFFSETS,
    STARTERS_SHOWN,
    HeadSummary,
    SummaryError,
    summarise,
    summarise_all,
)

__all__ = [
    "CLASSES",
    "OFFSETS",
    "ORIGINS",
    "STARTERS_SHOWN",
    "Candidate",
    "HeadSummary",
    "SummaryError",
    "summarise",
    "summarise_all",
]
