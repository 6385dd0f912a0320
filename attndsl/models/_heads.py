"""Head specs as users write them: `12.3` (layer 12, head 3), `5.*` (every head of layer 5),
`*.0`, `*` (all), joined by commas: `0.3,5.*`; and the order in which heads are replaced."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..lang import AttnDslError

#: what else replaces the heads a run replaces, beside their programs (columns of the
#: perplexity table): mean ablation, uniform causal and first-token attention
BASELINES = ("mean", "uniform", "first")
#: how a run measures replacement costs (`models._costs`): every head by attribution, then
#: the cheapest exactly (the default); every head by attribution (first order, one backward
#: pass); every head exactly (one forward pass per head)
COST_METHODS = ("screened", "attribution", "exact")
#: how one head's cost is measured (`head_costs`; "screened" uses both)
COST_MEASURES = ("attribution", "exact")
#: a head of the model: (layer, head)
Head = tuple[int, int]


class HeadSpecError(AttnDslError):
    """A head spec that does not parse or names heads the model does not have."""


def _parts(spec: str) -> list[tuple[str, str]]:
    """The (layer, head) texts of a spec, each a number or '*' (syntax only)."""
    spec = (spec or "*").replace(" ", "")
    parts = []
    for item in spec.split(","):
        layer, dot, head = ("*.*" if item == "*" else item).partition(".")
        if not dot or not layer or not head:
            raise HeadSpecError(
                f"head spec {spec!r}: {item!r} is not LAYER.HEAD; write e.g. "
                "12.3, 5.* or *.0, joined by commas"
            )
        for text, what in ((layer, "layer"), (head, "head")):
            if text != "*" and not (text.isascii() and text.isdigit()):
                raise HeadSpecError(
                    f"head spec {spec!r}: {what} {text!r} is not a number or "
                    "'*'; write LAYER.HEAD, e.g. 0.3,5.*"
                )
        parts.append((layer, head))
    return parts


def head_spec(spec: str) -> str:
    """A spec whose syntax is valid (for the command line: checked before any work)."""
    _parts(spec)
    return spec


def _range(text: str, size: int, what: str, spec: str) -> range:
    if text == "*":
        return range(size)
    value = int(text)
    if value >= size:
        raise HeadSpecError(
            f"head spec {spec!r}: {what} {value} does not exist (the model has "
            f"{size} {what}s, numbered from 0)"
        )
    return range(value, value + 1)


def parse_heads(spec: str | None, layers: int, heads: int) -> list[Head]:
    """The heads a spec names, sorted and without repeats (None or "" or "*": all heads)."""
    spec = spec or "*"
    chosen: set[Head] = set()
    for layer_text, head_text in _parts(spec):
        for layer in _range(layer_text, layers, "layer", spec):
            chosen.update((layer, head) for head in _range(head_text, heads, "head", spec))
    return sorted(chosen)


def format_head(head: Head) -> str:
    """`layer.head`, as specs write it."""
    return f"{head[0]}.{head[1]}"


def replacement_order(
    costs: Mapping[Head, float], estimates: Mapping[Head, float] | None = None
) -> list[Head]:
    """Heads from cheapest to costliest to replace (ties: lower layer, then head, first),
    then the heads that only have `estimates` (first-order costs), cheapest first."""
    rest = {head: cost for head, cost in (estimates or {}).items() if head not in costs}
    return [*sorted(costs, key=lambda h: (costs[h], h)), *sorted(rest, key=lambda h: (rest[h], h))]


def heads_at(order: Sequence[Head], fraction: float, total: int) -> list[Head]:
    """The heads replaced at `fraction` of all `total` heads: the first of `order`."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction of heads must lie in [0, 1], not {fraction}")
    count = min(round(fraction * total), len(order))
    return list(order[:count])


def fraction_key(fraction: float) -> str:
    """A fraction as JSON keys spell it: `0`, `0.1`, `0.25`, `0.5`."""
    return f"{fraction:g}"


def as_layers(heads: Sequence[Head]) -> dict[int, list[int]]:
    """Heads grouped by layer, as the baseline pattern builders take them."""
    grouped: dict[int, list[int]] = {}
    for layer, head in sorted(heads):
        grouped.setdefault(layer, []).append(head)
    return grouped
