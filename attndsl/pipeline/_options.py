"""Every option of a pipeline run, documented in one place (as `attndsl run --help` shows
them). The options that decide results are the run's settings: resuming a run with other
settings is refused."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..models import COST_METHODS
from ..synth.llm import GRAMMARS, LLMConfig

SYNTHESISERS = ("enum", "llm", "both", "none")
#: run options whose `LLMConfig` field has another name (the others share theirs)
LLM_OPTIONS = {
    "llm_model": "model",
    "llm_max_tokens": "max_tokens",
    "llm_seed": "seed",
    "llm_stop": "stop",
}
#: the LLM options' defaults, read once from where they are documented
_LLM: dict[str, Any] = {f.name: f.default for f in fields(LLMConfig)}


def worst_count(llm_heads: str) -> int | None:
    """N of `worst:N`, None for `all`; anything else raises ValueError."""
    kind, _, number = llm_heads.partition(":")
    if llm_heads == "all":
        return None
    if kind == "worst" and number.isdigit() and int(number) > 0:
        return int(number)
    raise ValueError(f"{llm_heads!r} is neither 'all' nor 'worst:N' (N at least 1)")


@dataclass
class RunOptions:
    """Options of `attndsl run` (and of `attndsl.pipeline.run`).

    model: registry name (`smollm2`, `gemma3-270m`), Hugging Face id or local folder.
    corpus: text, JSON Lines or `hf:NAME[:SPLIT]`; None is the shipped stories.
    seed: seed of the fit / select / test split of the corpus's documents.
    max_tokens: most tokens per passage (a longer sentence is cut).
    pack: pack consecutive sentences of a document into passages of up to `max_tokens`
        tokens; by default each sentence is its own passage, as in the paper.
    max_passages: most passages used from the select and test splits (0: all of them);
        passage limits take passages evenly spaced through a split.
    heads: which heads to explain, e.g. `0.3,5.*` (`*`: all).
    synth: `enum` (offline enumeration, the default), `llm`, `both`, or `none` (the
        starter library alone, which every run also offers each head).
    fit_passages: most passages of the fit split used (summaries, starter scores, head
        means; the enumerator fits its constants on about 3,000 tokens of them).
    cost_passages: select passages on which each head's replacement cost is measured (0:
        all of them).
    costs: how replacement costs are measured: `screened` (every head by attribution, then
        the cheapest exactly, 20% of the heads more than the largest fraction), `attribution`
        (first order: every head from one forward and one backward pass per batch) or
        `exact` (one forward pass per head).
    perplexity_passages: test passages perplexity is measured on (0: all of them).
    fractions: fractions of all heads replaced in the perplexity table.
    base_url, llm_model: the LLM synthesiser's endpoint and model (`--synth llm|both`; key
        from OPENAI_API_KEY).
    llm_heads: the heads the LLM is asked about: `all`, or `worst:N`, the N heads whose best
        starter or enumerated program fits worst on the select split.
    concurrency, timeout_s, programs_per_request, repair_rounds, refine_rounds, temperature,
        llm_max_tokens (its `max_tokens`), llm_seed (its `seed`), llm_stop (its `stop`),
        frequency_penalty, grammar, head_tokens, head_seconds: as
        `attndsl.synth.llm.LLMConfig` documents them.
    dry_run: write the LLM prompts into the run directory and send nothing.
    """

    model: str = "smollm2"
    corpus: str | None = None
    seed: int = 0
    max_tokens: int = 128
    pack: bool = False
    max_passages: int = 512
    heads: str = "*"
    synth: str = "enum"
    fit_passages: int = 384
    cost_passages: int = 32
    costs: str = "screened"
    perplexity_passages: int = 256
    fractions: tuple[float, ...] = (0.1, 0.25, 0.5)
    base_url: str | None = None
    llm_model: str = _LLM["model"]
    llm_heads: str = "all"
    concurrency: int | None = _LLM["concurrency"]
    timeout_s: float = _LLM["timeout_s"]
    programs_per_request: int = _LLM["programs_per_request"]
    repair_rounds: int = _LLM["repair_rounds"]
    refine_rounds: int = _LLM["refine_rounds"]
    temperature: float = _LLM["temperature"]
    llm_max_tokens: int = _LLM["max_tokens"]
    llm_seed: int | None = _LLM["seed"]
    llm_stop: tuple[str, ...] = ()
    frequency_penalty: float = _LLM["frequency_penalty"]
    grammar: str = _LLM["grammar"]
    head_tokens: int | None = _LLM["head_tokens"]
    head_seconds: float | None = _LLM["head_seconds"]
    dry_run: bool = False
    _unsettled: tuple[str, ...] = field(
        default=("concurrency", "timeout_s", "head_seconds", "dry_run"), repr=False
    )

    def __post_init__(self) -> None:
        if self.synth not in SYNTHESISERS:
            raise ValueError(f"synth must be one of {SYNTHESISERS}, not {self.synth!r}")
        if self.grammar not in GRAMMARS:
            raise ValueError(f"grammar must be one of {GRAMMARS}, not {self.grammar!r}")
        worst_count(self.llm_heads)
        if self.costs not in COST_METHODS:
            raise ValueError(f"costs must be one of {COST_METHODS}, not {self.costs!r}")
        self.fractions = tuple(sorted({float(f) for f in self.fractions}))
        self.llm_stop = tuple(self.llm_stop)

    def settings(self) -> dict:
        """The options that decide a run's results (checked when a run resumes)."""
        values = asdict(self)
        values.pop("_unsettled")
        for name in self._unsettled:
            values.pop(name)
        values["fractions"] = list(self.fractions)
        values["llm_stop"] = list(self.llm_stop)
        return values

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls) if not f.name.startswith("_")]
