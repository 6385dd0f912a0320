"""`attndsl report DIR`: a run's results as one self-contained HTML file.

The page holds the run's summary, the perplexity curve (inline SVG), a gallery of every
head's real and predicted attention (drawn by inline JS from embedded JSON), one head in
detail with token labels, the per-head table, and every program of the library. Nothing is
fetched: CSS, JS and data are inline. Everything taken from the run (tokens, program text,
names) is escaped, and the embedded JSON cannot close its script element.
"""

from __future__ import annotations

import json
import math
import re
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..models import format_head
from ..rundir import WINDOW, RunResults, describe_share, write_text

GALLERY_WIDTH = 1100  # px the gallery of all heads should fit in
SERIES = {"programs": "#2f6fb0", "mean": "#2da44e", "uniform": "#d4822a", "first": "#cf222e"}


def _template() -> str:
    template = resources.files("attndsl.views") / "templates" / "report.html"
    return template.read_text(encoding="utf-8")


def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    css = HtmlFormatter(style="default").get_style_defs(".code")
    return "\n".join(line for line in css.splitlines() if line.startswith(".code "))


def _highlight(source: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return highlight(source, PythonLexer(), HtmlFormatter(nowrap=True))


def _json_for_script(value: Any) -> str:
    """JSON that is safe inside a <script> element (no `<`, `>` or `&` left)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _triangle(matrix: np.ndarray) -> list[int]:
    """The lower triangle, row by row, in hundredths."""
    rows, cols = np.tril_indices(matrix.shape[0])
    return np.rint(np.clip(matrix[rows, cols], 0, 1) * 100).astype(int).tolist()


def _bar(value: float) -> str:
    width = round(80 * min(max(value, 0.0), 1.0))
    return f'<span class="barbox"><span class="bar" style="width:{width}px"></span></span>'


def _percent(fraction: float) -> str:
    return f"{100 * fraction:g}%"


# ----------------------------------------------------------------- sections


def _headline_table(results: RunResults) -> str:
    s = results.summary
    facts = [
        ("heads explained", s["heads"]),
        ("mean held-out soft IoU", f"{s['mean_iou']:.3f}"),
        ("heads above 0.75", s["heads_above_0.75"]),
        ("library (unique programs)", s["library_size"]),
        ("candidates scored", results.selection.get("candidates", "–")),
    ]
    if "llm" in s:
        facts.append(("LLM", describe_share(s["llm"])))
    rows = "".join(
        f"<tr><td>{escape(k)}</td><td class=num>{escape(str(v))}</td></tr>" for k, v in facts
    )
    seconds = s.get("stage_seconds") or {}
    times = "".join(
        f"<tr><td>{escape(k)}</td><td class=num>{v:.1f} s</td></tr>" for k, v in seconds.items()
    )
    return (
        f'<div class="row"><table><thead><tr><th colspan=2>summary</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>{_perplexity_table(results.perplexity)}"
        f"<table><thead><tr><th colspan=2>time per stage</th></tr></thead>"
        f"<tbody>{times}</tbody></table></div>"
    )


def _perplexity_table(rows: list[dict[str, Any]]) -> str:
    names = [name for name in SERIES if any(name in row for row in rows)]
    head = "".join(f"<th class=num>{escape(name)}</th>" for name in names)
    body = ""
    base = rows[0]["programs"] if rows else 0
    for row in rows:
        cells = "".join(
            f"<td class=num>{row[name]:.2f}</td>" if name in row else "<td class=num>–</td>"
            for name in names
        )
        change = (
            f" <span class=muted>({row['programs'] / base - 1:+.1%})</span>"
            if row["heads"] and base
            else ""
        )
        body += (
            f"<tr><td class=num>{_percent(row['fraction'])}</td>"
            f"<td class=num>{row['heads']}</td>{cells}<td>{change}</td></tr>"
        )
    return (
        f"<table><thead><tr><th class=num>replaced</th><th class=num>heads</th>{head}"
        f"<th></th></tr></thead><tbody>{body}</tbody></table>"
    )


def _log_ticks(low: float, high: float) -> list[float]:
    ticks = [
        m * 10**e
        for e in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
        for m in (1, 2, 5)
    ]
    inside = [t for t in ticks if low <= t <= high]
    return inside if len(inside) >= 2 else [low, high]


def perplexity_svg(rows: list[dict[str, Any]], width: int = 620, height: int = 300) -> str:
    """The perplexity curve over the fraction of heads replaced, programs beside the
    baselines, as inline SVG (log scale)."""
    names = [name for name in SERIES if any(name in row for row in rows)]
    values = [row[name] for row in rows for name in names if name in row]
    if not rows or not values or min(values) <= 0:
        return "<p class=muted>no perplexity measured</p>"
    left, right, top, bottom = 58, 100, 14, 40
    low, high = min(values) / 1.05, max(values) * 1.05
    span = max(row["fraction"] for row in rows) or 1.0

    def x(f: float) -> float:
        return left + f / span * (width - left - right)

    def y(v: float) -> float:
        return top + (math.log(high) - math.log(v)) / (math.log(high) - math.log(low)) * (
            height - top - bottom
        )

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" id="perplexity-curve">'
    ]
    for tick in _log_ticks(low, high):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}" stroke="#eaeef2"/><text x="{left - 6}" '
            f'y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11">{tick:g}</text>'
        )
    for row in rows:
        parts.append(
            f'<text x="{x(row["fraction"]):.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle" font-size="11">{_percent(row["fraction"])}</text>'
        )
    middle = (top + height - bottom) / 2
    parts.append(
        f'<text x="{(left + width - right) / 2:.0f}" y="{height - 6}" '
        'text-anchor="middle" font-size="12">heads replaced (lowest cost first)</text>'
        f'<text x="14" y="{middle:.0f}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle:.0f})">perplexity (log)</text>'
    )
    for k, name in enumerate(names):
        points = [(x(r["fraction"]), y(r[name]), r) for r in rows if name in r]
        colour, heavy = SERIES[name], name == "programs"
        line = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width='
            f'"{3 if heavy else 1.6}" points="{line}" class="series" '
            f'data-series="{name}"/>'
        )
        parts += [
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"><title>'
            f"{name}, {_percent(r['fraction'])} replaced: {r[name]:.2f}</title></circle>"
            for px, py, r in points
        ]
        ly = top + 8 + 18 * k
        parts.append(
            f'<line x1="{width - right + 12}" x2="{width - right + 32}" y1="{ly}" '
            f'y2="{ly}" stroke="{colour}" stroke-width="{3 if heavy else 1.6}"/>'
            f'<text x="{width - right + 38}" y="{ly + 4}" font-size="12">{name}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _gallery(results: RunResults, n: int) -> str:
    by_head = {(e["layer"], e["head"]): e for e in results.heads()}
    layers = sorted({layer for layer, _ in by_head})
    width, height = 2 * (2 * n) + 4, 2 * n  # 2 px a cell (the JS's scale)
    shown = max(40, min(width, GALLERY_WIDTH // max(results.cache.heads, 1) - 10))
    head_row = "".join(f"<th>h{h}</th>" for h in range(results.cache.heads))
    body = ""
    for layer in layers:
        cells = ""
        for h in range(results.cache.heads):
            entry = by_head.get((layer, h))
            if entry is None:
                cells += "<td></td>"
                continue
            spec = format_head((layer, h))
            tip = escape(f"{spec} {entry['name']} (held-out IoU {entry['test_iou']:.2f})")
            cells += (
                f'<td><a href="#head-{spec}" data-head="{spec}" title="{tip}">'
                f'<canvas width="{width}" height="{height}" data-head="{spec}" '
                f'style="width:{shown}px">'
                "</canvas></a></td>"
            )
        body += f"<tr><th>L{layer}</th>{cells}</tr>"
    return (
        f'<div class="scroll" id="gallery"><table><thead><tr><th></th>{head_row}</tr>'
        f"</thead><tbody>{body}</tbody></table></div>"
    )


def _heads_table(results: RunResults) -> str:
    rows = "".join(
        f'<tr><td class=num><a href="#head-{format_head((e["layer"], e["head"]))}">'
        f"{format_head((e['layer'], e['head']))}</a></td>"
        f"<td class=num>{e['test_iou']:.3f}</td><td>{_bar(e['test_iou'])}</td>"
        f"<td class=num>{e['select_iou']:.3f}</td>"
        f'<td><a href="#prog-{escape(e["program_id"])}">{escape(e["name"])}</a></td>'
        f"<td class=mono>{escape(e['program_id'])}</td><td>{escape(e['origin'])}</td></tr>"
        for e in results.heads()
    )
    return (
        '<div class="scroll"><table id="heads"><thead><tr><th class=num>head</th>'
        "<th class=num>held-out IoU</th><th></th><th class=num>select IoU</th>"
        "<th>program</th><th>id</th><th>origin</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )


def _programs(results: RunResults) -> str:
    parts = []
    for p in results.programs():
        heads = " ".join(f'<a href="#head-{escape(h)}">{escape(h)}</a>' for h in p["heads"])
        parts.append(
            f'<div class="program" id="prog-{escape(p["id"])}"><h3>{escape(p["name"])} '
            f'<span class="muted mono">{escape(p["id"])} · {escape(p["origin"])}</span></h3>'
            f"<div>{escape(p['hypothesis'] or '')}</div>"
            f'<div class="muted">mean held-out IoU {p["mean_iou"]:.3f} over '
            f"{len(p['heads'])} head{'s' if len(p['heads']) != 1 else ''}: {heads}</div>"
            f'<pre class="code">{_highlight(p["source"])}</pre></div>'
        )
    return "".join(parts)


# ----------------------------------------------------------------- the page


def _data(results: RunResults, passage: int, width: int) -> dict[str, Any]:
    heads, predicted = [], {}
    window = None
    for entry in results.heads():
        window = results.window(entry, passage, width)
        heads.append(
            {
                "spec": format_head((entry["layer"], entry["head"])),
                "program": entry["program_id"],
                "name": entry["name"],
                "iou": round(entry["test_iou"], 4),
                "passage_iou": round(window.iou, 4),
                "real": _triangle(window.real),
            }
        )
        predicted.setdefault(entry["program_id"], _triangle(window.predicted))
    best = max(results.heads(), key=lambda e: e["test_iou"], default=None)
    return {
        "passage": passage,
        "total": window.total if window else 0,
        "tokens": window.tokens if window else [],
        "heads": heads,
        "predicted": predicted,
        "initial": format_head((best["layer"], best["head"])) if best else None,
    }


def render_report(results: RunResults, passage: int = 0, width: int = WINDOW) -> str:
    """The report page for a run (one HTML document)."""
    data = _data(results, passage, width)
    settings = results.settings
    facts = " · ".join(
        f"{k} {v}"
        for k, v in settings.items()
        if k in ("model", "corpus", "seed", "synth", "heads", "max_tokens", "pack")
        and v not in (None, "")
    )
    n = len(data["tokens"])
    body = (
        f"<h1>attndsl report <span class=muted>{escape(results.folder.name)}</span></h1>"
        f'<div class="muted">{escape(facts)}</div>'
        f"<h2>Summary</h2>{_headline_table(results)}"
        "<h2>Perplexity with heads replaced</h2>"
        "<p class=muted>Test-split perplexity as a growing fraction of heads (in order of "
        "measured replacement cost) is replaced by their programs, beside the same heads "
        "replaced by their mean output, uniform causal attention, or attention on the first "
        f"token.</p>{perplexity_svg(results.perplexity)}"
        "<h2>Real and predicted attention</h2>"
        f"<p class=muted>Test passage {passage}, query and key tokens 0–{n - 1} of "
        f"{data['total']}; each pair shows the head's real attention (left) and its program's "
        "pattern (right); darker is more weight (√ scale). Click a head for detail.</p>"
        f"{_gallery(results, n)}"
        '<div id="detail" data-head=""><h3 id="detail-title"></h3>'
        '<div class="muted"><span id="detail-facts"></span> · '
        '<a id="detail-program" href="#">program</a></div>'
        '<div class="row" id="detail-maps"></div></div>'
        f"<h2>Heads</h2>{_heads_table(results)}"
        f"<h2>Programs ({len(results.selection['programs'])})</h2>{_programs(results)}"
    )
    values = {
        "TITLE": escape(f"attndsl report: {results.folder.name}"),
        "BODY": body,
        "DATA": _json_for_script(data),
        "PYGMENTS": _pygments_css(),
    }
    return re.sub(r"@@([A-Z]+)@@", lambda m: values[m.group(1)], _template())


def write_report(run_dir: str | Path, out: str | Path | None = None, passage: int = 0) -> Path:
    """Write the run's report (default `run_dir/report.html`) and return its path."""
    results = RunResults(run_dir)
    path = Path(out) if out is not None else results.run.path("report.html")
    write_text(path, render_report(results, passage))
    return path
