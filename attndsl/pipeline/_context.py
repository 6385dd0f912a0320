"""What the stages of a run share: its options, its run directory, the model once loaded,
and the passages of each split."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..models import SPLITS, AttentionCache, Head, ModelFacts, parse_heads
from ..rundir import RunDir
from ._options import RunOptions

#: progress(stage, done, total, note): called as a stage advances; `note` says what is
#: happening now ("" for most stages; the LLM stage names the head and request)
Progress = Callable[[str, int, int, str], None]


@dataclass(frozen=True)
class LoadedModel:
    """A model with its tokenizer, facts and the compiler's view of its vocabulary."""

    model: Any
    tokenizer: Any
    facts: ModelFacts
    vocab: Any  # compiler.Vocab


class Context:
    """The options, the run directory and progress, and what is loaded on first use."""

    def __init__(self, options: RunOptions, run: RunDir, progress: Progress) -> None:
        self.options, self.run, self._progress = options, run, progress

    def progress(self, stage: str, done: int, total: int, note: str = "") -> None:
        """Report that `stage` has done `done` of `total` (and what it is doing now)."""
        self._progress(stage, done, total, note)

    @functools.cached_property
    def loaded(self) -> LoadedModel:
        from ..compiler import Vocab
        from ..models import describe, load_model

        model, tokenizer = load_model(self.options.model, attention="eager")
        return LoadedModel(model, tokenizer, describe(model), Vocab.from_tokenizer(tokenizer))

    @property
    def tokenizer(self) -> Any:
        return self.loaded.tokenizer

    @property
    def vocab(self) -> Any:
        return self.loaded.vocab

    @property
    def facts(self) -> ModelFacts:
        return self.loaded.facts

    def model(self, attention: str) -> Any:
        """The model, set to `attention` ("eager" to read attention, "sdpa" to replace)."""
        model = self.loaded.model
        if model.config._attn_implementation != attention:
            model.set_attn_implementation(attention)
        return model

    @functools.cached_property
    def heads(self) -> list[Head]:
        """The heads the run explains (`--heads`)."""
        return parse_heads(self.options.heads, self.facts.layers, self.facts.heads)

    @functools.cached_property
    def texts(self) -> dict[str, list[str]]:
        """The passages of each split, at most `max_passages` of them (and of the fit split
        `fit_passages`: no stage reads more of it), evenly spaced through the corpus."""
        from ..models import split_texts, spread

        options = self.options
        found = split_texts(
            options.corpus,
            options.model,
            self.tokenizer,
            options.max_tokens,
            options.seed,
            pack=options.pack,
        )
        limits = {split: options.max_passages or None for split in SPLITS}
        limits["fit"] = min(
            filter(None, (options.max_passages, options.fit_passages)), default=None
        )
        return {split: spread(found[split], limits[split]) for split in SPLITS}

    def cache(self, split: str) -> AttentionCache:
        """The attention cache of a split (written by the extract stage)."""
        return AttentionCache(self.run.path("attention", split))
