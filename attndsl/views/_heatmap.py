"""Side-by-side terminal heatmaps of a head's real and predicted attention (`rich`).

One line per query token, labelled with the token; one character per key, its shade
(`·░▒▓█`) giving the weight, so the picture reads without colour too. Keys after the query
(j > i, masked in a causal model) stay blank.
"""

from __future__ import annotations

import numpy as np
from rich.console import Group, RenderableType
from rich.text import Text

from ..rundir import WINDOW, Window

#: (lowest weight, glyph, style) from the top: a weight at or above the bound gets the glyph
SHADES = (
    (0.6, "█", "bold bright_cyan"),
    (0.3, "▓", "bright_cyan"),
    (0.1, "▒", "cyan"),
    (0.01, "░", "cyan"),
    (0.0, "·", "dim"),
)
LABEL = 10  # "nn token…" before each row
GAP = 3  # between the two maps


def terminal_width(columns: int) -> int:
    """Most tokens two maps side by side can show in `columns` characters."""
    return max(1, min(WINDOW, (columns - LABEL - 1 - GAP) // 2))


def _cell(value: float) -> tuple[str, str]:
    for bound, glyph, style in SHADES:
        if value >= bound:
            return glyph, style
    return SHADES[-1][1], SHADES[-1][2]


def label(token: str, width: int = LABEL - 3) -> str:
    """A token as a short row label: stripped, whitespace escaped, cut with `…`."""
    text = token.strip() or token.encode("unicode_escape").decode("ascii") or "''"
    text = text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return text if len(text) <= width else text[: width - 1] + "…"


def _row(matrix: np.ndarray, i: int) -> Text:
    line = Text()
    for j in range(matrix.shape[1]):
        if j > i:
            line.append(" ")
        else:
            glyph, style = _cell(float(matrix[i, j]))
            line.append(glyph, style=style)
    return line


def _ticks(width: int) -> str:
    line = [" "] * width
    for j in range(0, width, 5):
        for k, digit in enumerate(str(j)):
            if j + k < width:
                line[j + k] = digit
    return "".join(line)


def _title(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_heatmaps(window: Window, left: str, right: str) -> RenderableType:
    """Real (titled `left`) and predicted (titled `right`) attention side by side."""
    w = len(window.tokens)
    pad = " " * (LABEL + 1)
    gap = " " * GAP
    lines = [
        Text(pad)
        + Text(_title(left, w).ljust(w), style="bold")
        + gap
        + Text(_title(right, w), style="bold"),
        Text(pad + _ticks(w) + gap + _ticks(w), style="dim"),
    ]
    for i, token in enumerate(window.tokens):
        lines.append(
            Text(f"{i:>2} {label(token):<{LABEL - 3}} ")
            + _row(window.real, i)
            + gap
            + _row(window.predicted, i)
        )
    legend = Text("weight: ", style="dim")
    for bound, glyph, style in reversed(SHADES):
        legend.append(glyph, style=style)
        legend.append(f" ≥{bound:g} " if bound else " <0.01 ", style="dim")
    shown = (
        f"rows: query tokens 0–{w - 1} of {window.total} in test passage "
        f"{window.passage}; columns: keys. Soft IoU on the whole passage: "
        f"{window.iou:.2f}"
    )
    return Group(*lines, legend, Text(shown, style="dim"))
