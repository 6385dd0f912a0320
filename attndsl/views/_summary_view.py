"""A head summary as a `rich` renderable for the review view, made to fit 80 columns."""

from __future__ import annotations

from itertools import zip_longest

from rich.console import Group, JustifyMethod, RenderableType
from rich.table import Table
from rich.text import Text

from ..synth import CLASSES, OFFSETS, STARTERS_SHOWN, HeadSummary

BAR_WIDTH = 10

#: short names of the key classes (their meaning in the language: `attndsl.synth.CLASSES`)
LABELS = {
    "punct": "punctuation",
    "word_start": "word start",
    "upper": "capitalised",
    "stop": "stop word",
    "newline": "newline",
    "repeat": "same token as q",
    "induction": "after q's token",
    "same_word": "q's word",
    "sentence_start": "q's sentence start",
}
assert set(LABELS) == set(CLASSES)


def _bar(value: float, width: int = BAR_WIDTH) -> Text:
    full = round(min(max(value, 0.0), 1.0) * width)
    return Text("█" * full, style="cyan") + Text("·" * (width - full), style="dim")


def _shares(summary: HeadSummary) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("offset j-i", "left"),
        ("", "right"),
        ("", "left"),
        ("key class (0<j<i)", "left"),
        ("", "right"),
        ("", "left"),
        ("unif.", "right"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True)
    for offset, name in zip_longest(OFFSETS, CLASSES):
        left = (
            [offset, f"{summary.offsets[offset]:.2f}", _bar(summary.offsets[offset])]
            if offset
            else ["", "", ""]
        )
        value = summary.classes[name]
        table.add_row(
            *left,
            LABELS[name],
            f"{value:.2f}",
            _bar(value),
            Text(f"{summary.baseline.get(name, 0.0):.2f}", style="dim"),
        )
    return table


def _examples(summary: HeadSummary) -> Table:
    table = Table(
        box=None,
        pad_edge=False,
        padding=(0, 1),
        header_style="bold",
        title=Text("strongest pairs (first position excluded): query [q], key {k}"),
        title_justify="left",
        title_style="bold",
    )
    table.add_column("w", justify="right", no_wrap=True)
    table.add_column("j-i", justify="right", no_wrap=True)
    table.add_column("where", no_wrap=True, style="dim")
    table.add_column("context", overflow="fold", ratio=1)
    for e in summary.examples:
        table.add_row(f"{e.weight:.2f}", str(e.offset), f"p{e.passage}:{e.query}", Text(e.context))
    return table


def _rows(summary: HeadSummary) -> Table:
    table = Table(
        box=None,
        pad_edge=False,
        padding=(0, 1),
        show_header=False,
        title='typical queries → top keys ("token" j-i weight)',
        title_justify="left",
        title_style="bold",
    )
    table.add_column("where", no_wrap=True, style="dim")
    table.add_column("row", overflow="fold", ratio=1)
    for row in summary.rows:
        table.add_row(f"p{row.passage}:{row.query}", Text(row.text()))
    return table


def _starters(summary: HeadSummary) -> Table:
    table = Table(
        box=None,
        pad_edge=False,
        padding=(0, 1),
        title="starter programs (soft IoU)",
        title_justify="left",
        title_style="bold",
        show_header=False,
    )
    table.add_column("program", overflow="ellipsis", max_width=40)
    table.add_column("iou", justify="right", no_wrap=True)
    table.add_column("bar", no_wrap=True)
    for name, iou in summary.starters[:STARTERS_SHOWN]:
        table.add_row(Text(name), f"{iou:.2f}", _bar(iou))
    return table


def render_summary(summary: HeadSummary) -> RenderableType:
    """The summary for a terminal: shares with bars, strongest pairs, typical rows, starters."""
    title = Text.assemble(
        (f"layer {summary.layer} head {summary.head}", "bold"),
        f"  {summary.passages} passages, {summary.tokens} tokens, entropy "
        f"{summary.entropy:.2f} nats ({summary.entropy_norm:.2f} of max)",
    )
    parts: list[RenderableType] = [title, _shares(summary)]
    if summary.examples:
        parts.append(_examples(summary))
    if summary.rows:
        parts.append(_rows(summary))
    if summary.starters:
        parts.append(_starters(summary))
    return Group(*parts)
