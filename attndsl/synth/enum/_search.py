"""The search for one head on some rows: a beam search over weighted mixtures of primitives.

The best single rules first; then each beam member grows by one rule at a time — every rule is
tried with a coarse grid of weights, the most promising ones with a fine grid — up to
`max_terms` rules plus the first-token sink; each grown mixture's weights are then refined
(one weight scaled at a time while the fit score rises). Weights are always rounded as the
program writes them (`_mixture.canonical_weights`), so what is scored is what is
emitted. The fit score is the paper's soft IoU, computed by `_kernels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _kernels as K
from ._data import FitData
from ._mixture import canonical_weights
from ._primitives import Primitive, primitives

BEAM = 2  # mixtures grown at each size
#: weight of a new rule relative to the mixture's mass at an average row: every rule is tried
#: on the coarse grid, the SHORTLIST most promising on the fine one
COARSE = np.array([0.1, 0.3, 0.8, 2.5])
FINE = np.array([0.03, 0.06, 0.1, 0.15, 0.22, 0.33, 0.5, 0.75, 1.1, 1.7, 2.5, 4.0, 6.0, 10.0])
SHORTLIST = 8
FACTORS = (2.0, 1.4, 1.18, 1.08, 1.03)  # weight moves of the refinement, coarse to fine
MAX_MOVES = 8  # moves per factor


def _filled(rules: Sequence[Primitive | None], index: int) -> Primitive:
    """Rule `index` of a search (a mixture uses only slots the search has filled)."""
    rule = rules[index]
    assert rule is not None, f"rule slot {index} is empty"
    return rule


@dataclass(frozen=True)
class Mixture:
    """Rules (indices into `primitives()`, ascending) with their canonical weights, and the
    fit score of exactly these weights (its share of the mean over all fit rows)."""

    terms: tuple[tuple[int, float], ...]
    score: float

    @property
    def rules(self) -> tuple[int, ...]:
        return tuple(rule for rule, _ in self.terms)

    @property
    def weights(self) -> np.ndarray:
        return np.array([w for _, w in self.terms], np.float64)

    def program_terms(self, rules: Sequence[Primitive | None]) -> list[tuple[Primitive, float]]:
        """The terms with their rules (`rules`: the search's rules, indexed as in `terms`)."""
        return [(_filled(rules, rule), weight) for rule, weight in self.terms]


class Search:
    """The beam search for one head."""

    def __init__(
        self,
        data: FitData,
        attention: np.ndarray,
        asum: np.ndarray,
        max_terms: int,
        rules: Sequence[Primitive | None] | None = None,
    ) -> None:
        """rules: one per row of `data.comps` (None for an empty slot); default: the
        primitives, for data without slots."""
        self.data, self.a, self.asum, self.max_terms = data, attention, asum, max_terms
        self.rules = list(primitives()) + [None] * data.slots if rules is None else list(rules)
        self.sink = [p.key if p else None for p in self.rules].index("first")
        self.mean_mass = data.csum @ data.weight.astype(np.float32)  # per rule
        self.seen: dict[tuple, Mixture] = {}
        self.exact: set[tuple] = set()

    # ------------------------------------------------------------ scoring
    def score(self, rules: Sequence[int], weights: np.ndarray) -> np.ndarray:
        """Fit scores of weight vectors (one per row) over the same rules."""
        d = self.data
        return K.score_mixtures(
            self.a,
            self.asum,
            d.comps,
            d.csum,
            np.asarray(rules, np.int64),
            np.asarray(weights, np.float64).reshape(-1, len(rules)),
            d.starts,
            d.lens,
            d.weight,
            d.bounds,
        )

    def canonical(self, rules: Sequence[int], weights: Sequence[float]) -> tuple:
        """The terms as the program writes them (weights rounded, see `_mixture`)."""
        order = np.argsort(rules, kind="stable")
        rules = [int(rules[k]) for k in order]
        weights = canonical_weights(
            [_filled(self.rules, r) for r in rules], [weights[k] for k in order]
        )
        return tuple(zip(rules, weights))

    def record(self, terms: tuple, score: float, exact: bool = False) -> Mixture:
        """Remember a mixture; `exact`: its score is of exactly these weights (else an
        estimate from the grids, scored again before it is returned)."""
        if exact or terms not in self.seen:
            self.seen[terms] = Mixture(terms, float(score))
            if exact:
                self.exact.add(terms)
        return self.seen[terms]

    def exactly(self, terms: tuple) -> Mixture:
        if terms not in self.exact:
            rules, weights = zip(*terms)
            self.record(terms, float(self.score(rules, np.array(weights))[0]), exact=True)
        return self.seen[terms]

    # ------------------------------------------------------------ steps
    def singles(self) -> list[Mixture]:
        d = self.data
        cands = np.arange(len(self.rules), dtype=np.int64)
        scores = K.scan(
            self.a,
            self.asum,
            np.zeros(d.entries, np.float32),
            np.zeros(len(d.starts), np.float32),
            d.comps,
            d.csum,
            cands,
            np.ones((len(cands), 1)),
            d.starts,
            d.lens,
            d.weight,
            d.bounds,
        )[:, 0]
        return [
            self.record(((r, 1.0),), scores[r], exact=True)
            for r in range(len(self.rules))
            if self.rules[r] is not None
        ]

    def allowed(self, mixture: Mixture) -> np.ndarray:
        """Rules that may join: any new rule that fires while there is room, the sink
        always."""
        others = sum(1 for r in mixture.rules if r != self.sink)
        return np.array(
            [
                r
                for r in range(len(self.rules))
                if r not in mixture.rules
                and self.rules[r] is not None
                and self.mean_mass[r] > 0
                and (r == self.sink or others < self.max_terms)
            ],
            np.int64,
        )

    def _scan(
        self, mixture: Mixture, cands: np.ndarray, shares: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores [C, G] of adding rule cands[c] at weight g[c, k] (shares[k] of the current
        mass at an average row), and the weights g."""
        d = self.data
        rules = np.array(mixture.rules, np.int64)
        weights = np.array([w for _, w in mixture.terms], np.float64)
        cur = K.mix(d.comps, rules, weights)
        cursum = (weights[:, None] * d.csum[rules]).sum(0).astype(np.float32)
        mean = float(cursum @ d.weight)
        grid = np.outer(mean / self.mean_mass[cands], shares)
        return K.scan(
            self.a,
            self.asum,
            cur,
            cursum,
            d.comps,
            d.csum,
            cands,
            grid,
            d.starts,
            d.lens,
            d.weight,
            d.bounds,
        ), grid

    def grow(self, mixture: Mixture) -> list[Mixture]:
        """Mixtures with one more rule, its weight from the grids, rounded."""
        cands = self.allowed(mixture)
        if not len(cands):
            return []
        coarse, _ = self._scan(mixture, cands, COARSE)
        short = cands[np.argsort(-coarse.max(1), kind="stable")[:SHORTLIST]]
        fine, grid = self._scan(mixture, short, FINE)
        grown = []
        for c, rule in enumerate(short):
            best = int(np.argmax(fine[c]))
            rules = [*mixture.rules, int(rule)]
            weights = [w for _, w in mixture.terms] + [float(grid[c, best])]
            grown.append(self.record(self.canonical(rules, weights), fine[c, best]))
        return grown

    def refine(self, mixture: Mixture) -> Mixture:
        """Scale one weight at a time while the fit score rises (weights stay canonical)."""
        best = self.exactly(mixture.terms)
        if len(best.terms) == 1:
            return best
        for factor in FACTORS:
            for _ in range(MAX_MOVES):
                rules, weights = zip(*best.terms)
                trials = {
                    self.canonical(rules, [w * f if m == k else w for m, w in enumerate(weights)])
                    for k in range(len(rules))
                    for f in (factor, 1 / factor)
                }
                trials = sorted(t for t in trials if t not in self.exact)
                if not trials:
                    break
                scores = self.score(rules, np.array([[w for _, w in t] for t in trials]))
                for t, score in zip(trials, scores):
                    self.record(t, score, exact=True)
                top = int(np.argmax(scores))
                if scores[top] <= best.score + 1e-7:
                    break
                best = self.seen[trials[top]]
        return best

    def run(self, keep: int) -> list[Mixture]:
        beam = sorted(self.singles(), key=lambda m: -m.score)[:BEAM]
        for _ in range(self.max_terms):
            grown = [g for m in beam for g in self.grow(m)]
            if not grown:
                break
            grown = _distinct(sorted(grown, key=lambda m: -m.score))[:BEAM]
            beam = [self.refine(m) for m in grown]
        ranked = _distinct(sorted(self.seen.values(), key=lambda m: (-m.score, m.terms)))
        for m in ranked[: 2 * keep]:
            self.exactly(m.terms)
        ranked = _distinct(sorted(self.seen.values(), key=lambda m: (-m.score, m.terms)))
        return ranked[:keep]


def _distinct(mixtures: list[Mixture]) -> list[Mixture]:
    """One mixture per set of rules (the first, so the best of a sorted list)."""
    seen, out = set(), []
    for m in mixtures:
        if m.rules not in seen:
            seen.add(m.rules)
            out.append(m)
    return out
