"""The offline enumerative synthesiser: weighted mixtures of primitives, fitted per head.

For each head, `_search` finds the best mixtures of the rules in
`_primitives` (up to `max_terms` rules plus the first-token sink) on the fit passages,
once for the rows of each class of query token (`QUERY_CLASSES`: punctuation, stop words,
the rest). A head's candidates are then, best first by fit score: programs with one mixture per
query class, and plain mixtures (one mixture for every row, the best class's mixture refined on
all rows). A plain mixture is preferred unless the classes gain at least `BRANCH_GAIN`.

Each candidate is one documented, canonical program in the language (`_mixture`) for
the select split to choose from; duplicates are removed by canonical id. No network, no
model, no key.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ...lang import AttnDslError
from ...models import AttentionCache, Head, spread
from .._candidate import Candidate
from . import _kernels as K
from ._data import FitData, attractors, fit_data, head_attention, word_output
from ._mixture import explanation_program, name_terms
from ._primitives import QUERY_CLASSES, Primitive, primitives, word_rule
from ._search import Mixture, Search

#: fit tokens the constants are fitted on (32 passages of ~100 tokens; twice as many scored
#: no better on select, at twice the time)
MAX_FIT_TOKENS = 3072
BRANCH_GAIN = 0.005  # fit score a program with query classes must gain over a plain mixture
WORD_SETS = (4, 12)  # each head's own word rules (`word_rule`): how many attractor words
PLAIN_TRIES = 2  # each class's best mixtures tried on all rows
PLAIN_REFINED = 2  # of those, the best refined on all rows


class EnumError(AttnDslError):
    """An enumeration asked for with heads or passages the cache does not have."""


@dataclass(frozen=True)
class Explanation:
    """Mixtures by query class ((class key, mixture), in `QUERY_CLASSES` order), or one
    ("all", mixture); its fit score is the sum of theirs."""

    branches: tuple[tuple[str, Mixture], ...]
    rules: tuple[Primitive | None, ...]  # the rules the mixtures' indices refer to

    @property
    def score(self) -> float:
        return sum(m.score for _, m in self.branches)

    @property
    def rank(self) -> float:
        """The score used to order candidates: classes must pay for themselves."""
        return self.score - BRANCH_GAIN * (len(self.branches) > 1)

    def candidate(self) -> Candidate:
        """The explanation as one canonical, documented program."""
        branches = [(key, m.program_terms(self.rules)) for key, m in self.branches]
        program = explanation_program(branches)
        if len(branches) == 1:
            name, hypothesis = name_terms(branches[0][1])
            return Candidate(program, f"{name}: {hypothesis}", "enum")
        words = {key: words for key, _, words in QUERY_CLASSES}
        parts = [f"{words[key]}: {name_terms(terms)[0]}" for key, terms in branches]
        return Candidate(program, "By query class: " + "; ".join(parts) + ".", "enum")


def enumerate_candidates(
    cache: AttentionCache,
    passages: Sequence[int],
    vocab,
    heads: Sequence[Head] | None = None,
    max_terms: int = 3,
    keep: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> dict[Head, list[Candidate]]:
    """Each head's `keep` best programs (mixtures of up to `max_terms` rules plus the sink,
    by query class or not), fitted on evenly spaced `passages` holding about
    `MAX_FIT_TOKENS` tokens, best first."""
    found = search(cache, passages, vocab, heads, max_terms, keep, progress)
    out = {}
    for head, explanations in found.items():
        unique: dict[str, Candidate] = {}
        for explanation in explanations:
            candidate = explanation.candidate()
            unique.setdefault(candidate.id, candidate)
        out[head] = list(unique.values())
    return out


def search(
    cache: AttentionCache,
    passages: Sequence[int],
    vocab,
    heads: Sequence[Head] | None = None,
    max_terms: int = 3,
    keep: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> dict[Head, list[Explanation]]:
    """The search behind `enumerate_candidates`: each head's best explanations, best first."""
    heads = (
        list(heads)
        if heads is not None
        else [(layer, head) for layer in range(cache.layers) for head in range(cache.heads)]
    )
    bad = [h for h in heads if not (0 <= h[0] < cache.layers and 0 <= h[1] < cache.heads)]
    if bad:
        raise EnumError(
            f"{cache.folder}: no head {bad[0][0]}.{bad[0][1]} (the model has "
            f"{cache.layers} layers × {cache.heads} heads)"
        )
    chosen = fit_passages(cache, passages)
    if not chosen:
        raise EnumError(f"{cache.folder}: no fit passages to enumerate on")
    data, attention, asum = _prepared(cache, tuple(chosen), vocab)
    groups = query_classes(data.queries, vocab)
    results: dict[Head, list[Explanation]] = {}
    for done, head in enumerate(heads, start=1):
        k = head[0] * cache.heads + head[1]
        results[head] = explain(data, groups, attention[k], asum[k], max_terms, keep)
        if progress:
            progress(done, len(heads))
    return results


def fit_passages(cache: AttentionCache, passages: Sequence[int]) -> list[int]:
    """Evenly spaced `passages` holding about `MAX_FIT_TOKENS` tokens in all."""
    unique = sorted(set(passages))
    lengths = [cache.records[i].n for i in unique if 0 <= i < len(cache)]
    mean = sum(lengths) / len(lengths) if lengths else 1
    return spread(unique, max(1, round(MAX_FIT_TOKENS / mean)))


def query_classes(ids: np.ndarray, vocab) -> np.ndarray:
    """Index into `QUERY_CLASSES` of each query token id (the first class whose test holds)."""
    out = np.full(len(ids), len(QUERY_CLASSES) - 1, np.int64)
    for number, (_, test, _) in reversed(list(enumerate(QUERY_CLASSES[:-1]))):
        out[vocab.holds(test)[ids]] = number
    return out


def explain(
    data: FitData,
    groups: np.ndarray,
    attention: np.ndarray,
    asum: np.ndarray,
    max_terms: int,
    keep: int,
) -> list[Explanation]:
    """One head's `keep` best explanations on the fit data, best first."""
    *by_class, rules = own_rules(data, groups, attention)
    found: list[tuple[str, list[Mixture]]] = []
    for number, (key, _, _) in enumerate(QUERY_CLASSES):
        mask = groups == number
        if mask.any():
            search = Search(data.rows(mask), attention, asum[mask], max_terms, by_class[number])
            found.append((key, search.run(keep)))
    whole = Search(data, attention, asum, max_terms, rules)
    tried = {m.terms for _, ms in found for m in ms[:PLAIN_TRIES]}
    plain = sorted((whole.exactly(terms) for terms in sorted(tried)), key=lambda m: -m.score)
    plain[:PLAIN_REFINED] = [whole.refine(m) for m in plain[:PLAIN_REFINED]]
    explanations = [Explanation((("all", m),), rules) for m in plain]
    if len(found) == len(QUERY_CLASSES):  # every class has rows: a branch for each
        for c in range(keep):
            explanations.append(
                Explanation(tuple((key, ms[min(c, len(ms) - 1)]) for key, ms in found), rules)
            )
    ranked = sorted(explanations, key=lambda e: -e.rank)
    return _unique(ranked)[:keep]


def own_rules(
    data: FitData, groups: np.ndarray, attention: np.ndarray
) -> list[tuple[Primitive | None, ...]]:
    """For each query class, then for all rows: the primitives plus the head's own word
    rules for those rows (its `attractors`, the first WORD_SETS[k] of them), their outputs
    put in `data`'s slots (WORD_SETS slots per query class), and None in the slots of
    the other classes; for all rows, every class's word rules."""
    fixed, sets = primitives(), len(WORD_SETS)
    every: list[Primitive | None] = [None] * data.slots
    per_class = []
    most = max(WORD_SETS)
    for number in range(len(QUERY_CLASSES)):
        mask = groups == number
        words = attractors(data.rows(mask), attention, most) if mask.any() else []
        mine: list[Primitive | None] = [None] * data.slots
        made = set()
        for k, size in enumerate(WORD_SETS):
            slot, chosen = number * sets + k, tuple(words[:size])
            fresh = bool(chosen) and chosen not in made
            made.add(chosen)
            data.fill(
                slot, word_output(data, chosen) if fresh else np.zeros(data.entries, np.float32)
            )
            mine[slot] = every[slot] = word_rule(chosen) if fresh else None
        per_class.append((*fixed, *mine))
    return [*per_class, (*fixed, *every)]


def _unique(explanations: list[Explanation]) -> list[Explanation]:
    seen, out = set(), []
    for e in explanations:
        key = tuple((k, m.terms) for k, m in e.branches)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


@functools.lru_cache(maxsize=1)
def _memo(folder: str, manifest: str, chosen: tuple[int, ...], vocab_id: str, vocab):
    cache = AttentionCache(folder)
    data = fit_data(cache, chosen, primitives(), vocab, slots=len(WORD_SETS) * len(QUERY_CLASSES))
    every = [(layer, head) for layer in range(cache.layers) for head in range(cache.heads)]
    attention = head_attention(cache, chosen, every)
    return data, attention, K.row_sums(attention, data.starts, data.lens)


def _prepared(
    cache: AttentionCache, chosen: tuple[int, ...], vocab
) -> tuple[FitData, np.ndarray, np.ndarray]:
    """Fit data and every head's attention on the chosen passages, kept between calls (the
    pipeline enumerates one layer at a time)."""
    return _memo(
        str(cache.folder.resolve()),
        str(sorted(cache.manifest.items())),
        chosen,
        vocab.fingerprint,
        vocab,
    )
