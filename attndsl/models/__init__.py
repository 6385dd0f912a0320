"""Models and text: the registry of offline models, corpora and their held-out splits, the
shipped sample corpus, head specs, attention extraction into a resumable cache, replacing
heads by surrogate patterns, replacement costs, and perplexity.

Modules that bring in torch (`_replace`, `_perplexity`, `_costs`) are imported on first use.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ._corpus import SPLITS, CorpusError, read_documents, split_sentences, split_texts, spread
from ._extract import AttentionCache, CacheError, extract, fingerprint
from ._heads import (
    BASELINES,
    COST_MEASURES,
    COST_METHODS,
    Head,
    HeadSpecError,
    as_layers,
    format_head,
    fraction_key,
    head_spec,
    heads_at,
    parse_heads,
    replacement_order,
)
from ._registry import (
    DEFAULT_MODEL,
    REGISTRY,
    ModelError,
    ModelFacts,
    ModelSpec,
    describe,
    fetch,
    is_pulled,
    load_model,
    load_tokenizer,
    pull,
)
from ._sample import CORPUS_FILE, sample_stories
from ._tokens import Ids, encode, padded

if TYPE_CHECKING:
    from ._costs import head_costs
    from ._perplexity import (
        fixed_patterns,
        head_means,
        kernel_patterns,
        mean_patterns,
        perplexity,
        perplexity_table,
    )
    from ._replace import Patterns, recording, replaced

_TORCH = {
    name: "._perplexity"
    for name in (
        "fixed_patterns",
        "head_means",
        "kernel_patterns",
        "mean_patterns",
        "perplexity",
        "perplexity_table",
    )
}
_TORCH["head_costs"] = "._costs"
_TORCH.update(dict.fromkeys(("Patterns", "recording", "replaced"), "._replace"))
__getattr__ = lazy_exports(__name__, _TORCH)

__all__ = [
    "BASELINES",
    "CORPUS_FILE",
    "COST_MEASURES",
    "COST_METHODS",
    "DEFAULT_MODEL",
    "REGISTRY",
    "SPLITS",
    "AttentionCache",
    "CacheError",
    "CorpusError",
    "Head",
    "HeadSpecError",
    "Ids",
    "ModelError",
    "ModelFacts",
    "ModelSpec",
    "Patterns",
    "as_layers",
    "describe",
    "encode",
    "extract",
    "fetch",
    "fingerprint",
    "fixed_patterns",
    "format_head",
    "fraction_key",
    "head_costs",
    "head_means",
    "head_spec",
    "heads_at",
    "is_pulled",
    "kernel_patterns",
    "load_model",
    "load_tokenizer",
    "mean_patterns",
    "padded",
    "parse_heads",
    "perplexity",
    "perplexity_table",
    "pull",
    "read_documents",
    "recording",
    "replaced",
    "replacement_order",
    "sample_stories",
    "split_sentences",
    "split_texts",
    "spread",
]
