"""The whole pipeline, stage by stage, in a run directory:

extract → summarise → synthesise → select → replace → report

Each stage reads the files earlier stages wrote and writes its own (see `_rundir`), records
its wall time in `run.json`, and is skipped when a resumed run already finished it; stages
that work head by head (synthesis, replacement costs) also resume inside, after the last
head they finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._candidate import Head
from ._options import RunOptions
from ._rundir import RunDir, write_json

STAGES = ("extract", "summarise", "synthesise", "select", "replace", "report")
SPLITS = ("fit", "select", "test")

#: progress(stage, done, total): called as a stage advances
Progress = Callable[[str, int, int], None]


@dataclass
class Context:
    """What the stages share: options, the run directory, and the model once loaded."""

    options: RunOptions
    run: RunDir
    progress: Progress
    _loaded: dict[str, Any] = field(default_factory=dict)

    def _load(self) -> None:
        from ._models import describe, load_model
        from .compiler import Vocab

        model, tokenizer = load_model(self.options.model, attention="eager")
        self._loaded.update(model=model, tokenizer=tokenizer, facts=describe(model),
                            vocab=Vocab.from_tokenizer(tokenizer))

    def get(self, name: str) -> Any:
        """`model`, `tokenizer`, `vocab` or `facts` (the model is loaded on first use)."""
        if not self._loaded:
            self._load()
        return self._loaded[name]

    def model(self, attention: str) -> Any:
        """The model, set to `attention` ("eager" to read attention, "sdpa" to replace)."""
        model = self.get("model")
        if model.config._attn_implementation != attention:
            model.set_attn_implementation(attention)
        return model

    def heads(self) -> list[Head]:
        from ._heads import parse_heads

        facts = self.get("facts")
        return parse_heads(self.options.heads, facts["layers"], facts["heads"])

    def texts(self) -> dict[str, list[str]]:
        """The passages of each split, at most `max_passages` of them (and of the fit split
        `fit_passages`: no stage reads more of it), evenly spaced through the corpus."""
        if "texts" not in self._loaded:
            from ._corpus import split_texts, spread

            options = self.options
            found = split_texts(options.corpus, options.model, self.get("tokenizer"),
                                options.max_tokens, options.seed, pack=options.pack)
            limits = {split: options.max_passages or None for split in SPLITS}
            limits["fit"] = min(filter(None, (options.max_passages, options.fit_passages)),
                                default=None)
            self._loaded["texts"] = {split: spread(found[split], limits[split])
                                     for split in SPLITS}
        return self._loaded["texts"]

    def cache(self, split: str) -> Any:
        from ._extract import AttentionCache

        return AttentionCache(self.run.path("attention", split))


def run_pipeline(options: RunOptions, out: str, resume: bool = False,
                 progress: Progress | None = None) -> dict | None:
    """Run every stage not yet finished; return the run's summary (`_stages.summary`), or
    None after a dry run (which writes the LLM prompts and stops before sending any)."""
    from . import _stages

    if options.synth in ("llm", "both") and not options.dry_run:  # fail before any work
        from ._llm_client import LLMConfig

        LLMConfig(model=options.llm_model, base_url=options.base_url,
                  cache_dir=Path(out) / "llm" / "cache").require_key()
    run = RunDir(out)
    run.start(options.settings(), resume)
    context = Context(options, run, progress or (lambda stage, done, total: None))
    for name in STAGES:
        if run.stage_done(name):
            context.progress(name, 1, 1)
            continue
        start = time.perf_counter()
        facts = getattr(_stages, f"stage_{name}")(context) or {}
        if name == "synthesise" and options.dry_run:
            return None
        run.finish_stage(name, time.perf_counter() - start, **facts)
    summary = _stages.summary(run)
    write_json(run.path("summary.json"), summary)
    return summary
