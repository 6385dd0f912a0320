"""A finished (or partly finished) run's results, read back for `review` and `report`.

`RunResults` reads the run directory's files (see `attndsl.pipeline`) on demand; `window` gives one
head's real attention beside its program's prediction on the first tokens of a test passage.
Predicted patterns come from the reference interpreter on the passage's token texts, so no
tokenizer or model is loaded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..lang import AttnDslError, Program
from ..models import AttentionCache, Head, format_head, parse_heads
from ..synth import HeadSummary
from ._files import PERPLEXITY, SELECTION, SUMMARY, RunDir, read_json, read_jsonl
from ._selection import run_summary

WINDOW = 32  # most tokens a heatmap shows


class ReviewError(AttnDslError):
    """A run that cannot be reviewed: not a run directory, or asked for a head or passage it
    does not hold."""


@dataclass(frozen=True)
class Window:
    """A head's attention (`real`) and its program's pattern (`predicted`) on tokens 0..w-1
    of test passage `passage` (`total` tokens long; `iou`: soft IoU over the whole passage).
    Rows are queries, columns keys; the window starts at token 0, so its rows are complete."""

    passage: int
    total: int
    tokens: list[str]
    real: np.ndarray
    predicted: np.ndarray
    iou: float

    def to_json(self, digits: int = 3) -> dict[str, Any]:
        return {
            "passage": self.passage,
            "total_tokens": self.total,
            "tokens": self.tokens,
            "iou": round(self.iou, 4),
            "real": np.round(self.real, digits).tolist(),
            "predicted": np.round(self.predicted, digits).tolist(),
        }


class RunResults:
    """Read access to a run directory's results (each file read once, when first needed)."""

    def __init__(self, folder: str | Path) -> None:
        self.run = RunDir(folder)
        self.folder = self.run.folder
        if not self.folder.is_dir():
            raise ReviewError(
                f"{self.folder}: no such directory; give the folder that "
                "`attndsl run --out DIR` wrote"
            )
        if not self.run.exists():
            raise ReviewError(
                f"{self.folder}: not a run directory (no run.json); give the "
                "folder that `attndsl run --out DIR` wrote"
            )
        self.manifest = self.run.read_manifest()
        self.selection = read_json(self.run.path("selection.json"), SELECTION)

    @property
    def settings(self) -> dict[str, Any]:
        return self.manifest.get("settings", {})

    @functools.cached_property
    def summary(self) -> dict[str, Any]:
        """The run's headline numbers (`summary.json`, or computed from the run's files when
        it has not been written yet)."""
        path = self.run.path("summary.json")
        if path.is_file():
            return read_json(path, SUMMARY)
        return run_summary(self.run)

    @functools.cached_property
    def perplexity(self) -> list[dict[str, Any]]:
        """Rows of `perplexity.json`: fraction, heads, and perplexity with programs and with
        each baseline."""
        return read_json(self.run.path("perplexity.json"), PERPLEXITY)["rows"]

    def heads(self) -> list[dict[str, Any]]:
        """Every explained head's selection entry, by layer then head."""
        return sorted(self.selection["heads"], key=lambda e: (e["layer"], e["head"]))

    def programs(self) -> list[dict[str, Any]]:
        """The library: each unique program with its id and the mean held-out IoU over the
        heads it explains, most heads first."""
        ious: dict[str, list[float]] = {}
        for entry in self.selection["heads"]:
            ious.setdefault(entry["program_id"], []).append(entry["test_iou"])
        found = [
            {"id": pid, **entry, "mean_iou": float(np.mean(ious.get(pid, [0.0])))}
            for pid, entry in self.selection["programs"].items()
        ]
        return sorted(found, key=lambda p: (-len(p["heads"]), -p["mean_iou"], p["id"]))

    @functools.cached_property
    def cache(self) -> AttentionCache:
        """The test split's attention cache."""
        folder = self.run.path("attention", "test")
        if not (folder / "manifest.json").is_file():
            raise ReviewError(
                f"{folder}: missing; the extract stage has not run (finish the "
                "run with `attndsl run --resume --out DIR`)"
            )
        return AttentionCache(folder)

    def entry(self, spec: str) -> dict[str, Any]:
        """The selection entry of the one head `spec` names (e.g. `12.3`)."""
        heads = parse_heads(spec, self.cache.layers, self.cache.heads)
        if len(heads) != 1:
            raise ReviewError(
                f"head spec {spec!r} names {len(heads)} heads; name one, e.g. "
                f"{format_head(heads[0])}"
            )
        head = heads[0]
        for found in self.selection["heads"]:
            if (found["layer"], found["head"]) == head:
                return found
        explained = ", ".join(format_head((e["layer"], e["head"])) for e in self.heads()[:6])
        raise ReviewError(
            f"head {format_head(head)} was not explained in {self.folder} (it "
            f"explains {len(self.selection['heads'])} heads: {explained}, ...); "
            "list them with `attndsl review DIR`"
        )

    def head_summary(self, head: Head) -> HeadSummary:
        """The head's summary from `summaries.jsonl`."""
        path = self.run.path("summaries.jsonl")
        if not path.is_file():
            raise ReviewError(f"{path}: missing; the summarise stage has not run")
        for line in read_jsonl(path):
            if (line["layer"], line["head"]) == head:
                return HeadSummary.from_json(line)
        raise ReviewError(f"{path}: holds no summary of head {format_head(head)}")

    def tokens(self, passage: int) -> list[str]:
        """The token texts of a test passage (as the language's programs see them)."""
        self._record(passage)
        return self.cache.tokens(passage)

    def _record(self, passage: int) -> Any:
        count = len(self.cache)
        if not 0 <= passage < count:
            raise ReviewError(
                f"passage {passage} is not in the test split of {self.folder} "
                f"(it has {count} passages, numbered from 0)"
            )
        return self.cache.records[passage]

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one RunResults per command
    def predicted(self, program_id: str, passage: int) -> np.ndarray:
        """A program's pattern on a whole test passage: float64 [n, n]."""
        entry = self.selection["programs"].get(program_id)
        if entry is None:
            raise ReviewError(f"{self.run.path('selection.json')}: no program {program_id}")
        program = Program.trusted(entry["source"], f"{program_id}.py")
        return program(self.tokens(passage))

    @functools.lru_cache(maxsize=4)  # noqa: B019 - one RunResults per command
    def attention(self, passage: int) -> np.ndarray:
        """Every head's attention on a test passage: float32 [layers, heads, n, n]."""
        self._record(passage)
        return self.cache.attention(passage)

    def window(self, entry: dict[str, Any], passage: int = 0, width: int = WINDOW) -> Window:
        """The head of selection `entry`: real and predicted attention on the first `width`
        tokens of test `passage`."""
        from ..synth.scores import soft_iou

        real = self.attention(passage)[entry["layer"], entry["head"]]
        predicted = self.predicted(entry["program_id"], passage)
        w = min(width, real.shape[0])
        return Window(
            passage,
            real.shape[0],
            self.tokens(passage)[:w],
            real[:w, :w].astype(np.float64),
            predicted[:w, :w],
            soft_iou(predicted, real),
        )
