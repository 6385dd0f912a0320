"""`attndsl review DIR`: a run's results in the terminal (80 columns), or as JSON.

Three views: every head with its program and held-out IoU under the run's summary; one head
(`head="12.3"`) with its program, hypothesis, summary and real-vs-predicted heatmaps; and
the library of unique programs with the heads each explains.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from ..models import BASELINES, format_head
from ..rundir import WINDOW, RunResults, Window, describe_share, nothing_answered
from ._heatmap import render_heatmaps, terminal_width

BAR = 8


def _bar(value: float, width: int = BAR) -> Text:
    full = round(min(max(value, 0.0), 1.0) * width)
    return Text("█" * full, style="cyan") + Text("·" * (width - full), style="dim")


def _percent(fraction: float) -> str:
    return f"{100 * fraction:g}%"


# ----------------------------------------------------------------- data


def _overview(results: RunResults) -> dict[str, Any]:
    settings = results.settings
    return {
        "run": str(results.folder),
        "settings": {k: settings.get(k) for k in ("model", "corpus", "synth", "heads")},
        "summary": results.summary,
        "perplexity": results.perplexity,
    }


def heads_data(results: RunResults) -> dict[str, Any]:
    """The run's summary and every explained head (what the default view shows)."""
    keys = ("layer", "head", "test_iou", "select_iou", "name", "program_id", "origin")
    return {**_overview(results), "heads": [{k: e[k] for k in keys} for e in results.heads()]}


def library_data(results: RunResults) -> dict[str, Any]:
    """The unique programs with the heads each explains (what `--library` shows)."""
    keys = ("id", "name", "origin", "hypothesis", "heads", "mean_iou", "source")
    return {
        "run": str(results.folder),
        "programs": [{k: p[k] for k in keys} for p in results.programs()],
    }


def head_data(
    results: RunResults, spec: str, passage: int = 0, width: int = WINDOW
) -> tuple[dict[str, Any], Window]:
    """One head: its selection entry, program source, summary and attention window (also
    returned as a `Window`)."""
    entry = results.entry(spec)
    head = (entry["layer"], entry["head"])
    window = results.window(entry, passage, width)
    return {
        "run": str(results.folder),
        "spec": format_head(head),
        **entry,
        "source": results.selection["programs"][entry["program_id"]]["source"],
        "summary": results.head_summary(head).to_json(),
        "window": window.to_json(),
    }, window


# ----------------------------------------------------------------- views


def _headline_view(data: dict[str, Any]) -> RenderableType:
    summary, settings = data["summary"], data["settings"]
    facts = " · ".join(f"{k} {v}" for k, v in settings.items() if v not in (None, ""))
    head = Text.assemble(
        ("run ", "bold"),
        (data["run"], "bold"),
        "\n",
        (facts, "dim"),
        "\n",
        f"{summary['heads']} heads explained · mean held-out IoU ",
        (f"{summary['mean_iou']:.3f}", "bold"),
        f" · {summary['heads_above_0.75']} above 0.75 · library {summary['library_size']} programs",
    )
    title = Text(
        "perplexity on the test split, heads replaced by programs (or baselines)", style="bold"
    )
    table = Table(box=None, pad_edge=False, header_style="bold")
    rows = data["perplexity"]
    shown = [b for b in BASELINES if any(b in row for row in rows)]
    for name in ("replaced", "heads", "programs", *shown):
        table.add_column(name, justify="right", no_wrap=True)
    for row in rows:
        base = rows[0]["programs"]
        change = f" ({row['programs'] / base - 1:+.1%})" if row["heads"] and base else ""
        table.add_row(
            _percent(row["fraction"]),
            str(row["heads"]),
            f"{row['programs']:.2f}{change}",
            *(f"{row[b]:.2f}" if b in row else "–" for b in shown),
        )
    seconds = summary.get("stage_seconds") or {}
    times = Text(
        "time per stage: " + " · ".join(f"{k} {v:.0f} s" for k, v in seconds.items()), style="dim"
    )
    lines: list[RenderableType] = [head, times]
    if "llm" in summary:
        style = "bold red" if nothing_answered(summary["llm"]) else ""
        lines.append(Text("LLM: " + describe_share(summary["llm"]), style=style))
    return Group(*lines, Text(), title, table)


def _heads_view(data: dict[str, Any]) -> RenderableType:
    table = Table(
        title="heads (IoU: held-out soft IoU on the test split)",
        title_justify="left",
        title_style="bold",
        box=None,
        pad_edge=False,
        header_style="bold",
        expand=True,
    )
    table.add_column("head", justify="right", no_wrap=True)
    table.add_column("IoU", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("program", overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column("id", no_wrap=True, style="dim")
    table.add_column("origin", no_wrap=True)
    for e in data["heads"]:
        table.add_row(
            format_head((e["layer"], e["head"])),
            f"{e['test_iou']:.2f}",
            _bar(e["test_iou"]),
            Text(e["name"]),
            e["program_id"],
            e["origin"],
        )
    return Group(_headline_view(data), Text(), table)


def _library_view(data: dict[str, Any]) -> RenderableType:
    table = Table(
        title=f"library: {len(data['programs'])} unique programs (IoU: mean "
        "held-out IoU over the heads each explains)",
        title_justify="left",
        title_style="bold",
        box=None,
        pad_edge=False,
        header_style="bold",
        show_lines=True,
        expand=True,
    )
    table.add_column("program", overflow="fold", ratio=2)
    table.add_column("IoU", justify="right", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("heads", overflow="fold", ratio=3)
    for p in data["programs"]:
        name = Text(p["name"]) + Text(f"\n{p['id']} {p['origin']}", style="dim")
        table.add_row(
            name, f"{p['mean_iou']:.2f}", str(len(p["heads"])), Text(" ".join(p["heads"]))
        )
    return table


def _head_view(data: dict[str, Any], window: Window) -> RenderableType:
    from ..synth import HeadSummary
    from ._summary_view import render_summary

    title = Text.assemble(
        (f"head {data['spec']}", "bold"),
        " · ",
        (data["name"], "bold"),
        f" · {data['program_id']} · {data['origin']} · held-out IoU "
        f"{data['test_iou']:.2f} (select {data['select_iou']:.2f})",
    )
    hypothesis = Text.assemble(("hypothesis: ", "bold"), data["hypothesis"] or "–")
    code = Syntax(
        data["source"].rstrip("\n"),
        "python",
        theme="ansi_dark",
        background_color="default",
        word_wrap=True,
    )
    maps = render_heatmaps(window, f"real {data['spec']}", f"predicted: {data['name']}")
    return Group(
        title,
        hypothesis,
        Text(),
        code,
        Text(),
        render_summary(HeadSummary.from_json(data["summary"])),
        Text(),
        maps,
    )


def review(
    run_dir: str | Path,
    head: str | None = None,
    library: bool = False,
    passage: int = 0,
    as_json: bool = False,
    console: Console | None = None,
) -> dict[str, Any]:
    """Show a run's results: all heads (default), one head (`head`, e.g. "12.3", with
    heatmaps on test passage `passage`) or the program library (`library`). Prints JSON to
    stdout with `as_json`, else rich output to `console`; returns the data shown."""
    results = RunResults(run_dir)
    console = console or Console()
    if head is not None:
        width = WINDOW if as_json else terminal_width(console.width)
        data, window = head_data(results, head, passage, width)
        view = None if as_json else _head_view(data, window)
    elif library:
        data = library_data(results)
        view = None if as_json else _library_view(data)
    else:
        data = heads_data(results)
        view = None if as_json else _heads_view(data)
    if view is None:
        print(json.dumps(data, indent=1, ensure_ascii=False))
    else:
        console.print(view)
    return data
