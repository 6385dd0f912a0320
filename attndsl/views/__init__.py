"""Views of a run for people: the terminal review (`review`: overview, library, one head's
heatmaps and summary, as `rich` output or JSON) and the self-contained HTML report."""

from ._report import render_report, write_report
from ._review import review

__all__ = ["render_report", "review", "write_report"]
