"""Weighted mixtures of primitives, written as one readable, documented program.

A mixture of rules r1..rk with weights w1..wk is the program whose query loop runs each rule's
body (`_primitives`) scaled by its weight, one after the other; the runtime then
normalises each row. So its pattern is, row by row, Σ_k w_k·f_k / Σ_k w_k·F_k, where f_k is
rule k's unnormalised output and F_k its row mass: F_k = 1 for a normalised rule (then the
weights are fixed shares of every row), the number of keys it finds for a rule that weighs
each key (then its share grows with that number, as with softmax attention).

Weights are written as people read them: shares in hundredths summing to 1 when every rule is
normalised, else scaled so the smallest weight is 1 and rounded to two significant digits.
`canonical_weights` does that rounding; the search scores exactly the rounded weights.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np

from ...lang import AttnDslError, Program
from ._primitives import QUERY_CLASSES, Primitive, format_weight

#: a mixture: (primitive, weight) pairs
Terms = Sequence[tuple[Primitive, float]]


class MixtureError(AttnDslError):
    """A mixture with no rules or with weights that are not positive and finite."""


def canonical_weights(rules: Sequence[Primitive], weights: Sequence[float]) -> tuple[float, ...]:
    """The weights as the program writes them (see the module docstring)."""
    w = np.asarray(weights, dtype=np.float64)
    if not len(w) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        keys = ", ".join(rule.key for rule in rules)
        raise MixtureError(
            f"mixture of {keys}: weights must be positive and finite, not {list(weights)}"
        )
    if all(rule.normalised for rule in rules):
        scaled = w * 100 / w.sum()
        base = np.floor(scaled).astype(int)
        order = np.argsort(-(scaled - base), kind="stable")
        base[order[: 100 - int(base.sum())]] += 1
        base = np.maximum(base, 1)  # a rule in the mixture keeps at least 0.01
        base[int(np.argmax(base))] -= int(base.sum()) - 100
        return tuple(float(b) / 100 for b in base)
    return tuple(float(f"{x:.2g}") for x in w / w.min())


def name_terms(terms: Terms) -> tuple[str, str]:
    """(name, hypothesis) of a mixture, e.g. ("sink + previous token",
    "0.62 on the first token, 0.38 on the token just before.")."""
    rules = [rule for rule, _ in terms]
    if not rules:
        raise MixtureError("a mixture needs at least one rule")
    if len(terms) == 1:
        return rules[0].title, f"all attention on {rules[0].phrase}."
    name = " + ".join(rule.title for rule in rules)
    parts = ", ".join(f"{format_weight(w)} on {rule.phrase}" for rule, w in terms)
    if all(rule.normalised for rule in rules):
        return name, parts + "."
    return name, (
        f"weight {parts}; each row is then normalised, so a rule that finds more "
        "keys takes a larger share."
    )


def _bodies(terms: Terms, indent: int) -> list[str]:
    single = len(terms) == 1 and terms[0][0].normalised
    return [
        line
        for number, (rule, weight) in enumerate(terms, start=1)
        for line in rule.body(
            None if single else weight, str(number) if len(terms) > 1 else "", indent
        )
    ]


def _program(doc: str, body: list[str]) -> str:
    lines = [
        "def head(tokens):",
        f'    """{doc}"""',
        "    n = len(tokens)",
        "    out = zeros(n, n)",
        "    for i in range(n):",
        *body,
        "    return out",
        "",
    ]
    return "\n".join(lines)


def _wrap(text: str, indent: str = "    ") -> str:
    return textwrap.fill(text, width=72, subsequent_indent=indent)  # fits 80 columns


def mixture_source(terms: Terms) -> str:
    """The source of the mixture program (weights as given), with a docstring giving its
    name and hypothesis."""
    name, hypothesis = name_terms(terms)
    return _program(_wrap(f"{name[0].upper()}{name[1:]}: {hypothesis}"), _bodies(terms, 2))


def branched_source(branches: Sequence[tuple[str, Terms]]) -> str:
    """The source of a program with one mixture per class of query token: branches are
    (key of `QUERY_CLASSES`, terms), in the order of `QUERY_CLASSES`, the last one "other"."""
    known = {key: (test, words) for key, test, words in QUERY_CLASSES}
    keys = [key for key, _ in branches]
    if keys != [k for k, _, _ in QUERY_CLASSES if k in keys] or keys[-1:] != ["other"]:
        raise MixtureError(
            f"branches must be classes of {[k for k, _, _ in QUERY_CLASSES]} "
            f"in that order, ending with 'other', not {keys}"
        )
    usual, _ = name_terms(branches[-1][1])  # the "other" queries: most tokens
    doc = [
        _wrap(
            f"{usual[0].upper()}{usual[1:]}, by query class: each kind of query token "
            "has its own mixture.",
            "    ",
        ),
        "",
    ]
    body = []
    for number, (key, terms) in enumerate(branches):
        test, words = known[key]
        name, hypothesis = name_terms(terms)
        doc.append(_wrap(f"{words[0].upper()}{words[1:]}, {name}: {hypothesis}", "    "))
        if test is None:
            body.append("        else:" if number else "        if True:")
        else:
            body.append(f"        {'elif' if number else 'if'} {test}(tokens[i]):")
        body += _bodies(terms, 3)
    text = "\n".join("    " + line if line else "" for line in doc)
    return _program(text.lstrip() + "\n    ", body)


def explanation_program(branches: Sequence[tuple[str, Terms]]) -> Program:
    """A checked, canonical `Program` from branches (one ("all", terms) branch: a plain
    mixture), each mixture's weights made canonical."""
    made = []
    for key, terms in branches:
        rules = [rule for rule, _ in terms]
        made.append((key, list(zip(rules, canonical_weights(rules, [w for _, w in terms])))))
    label = "; ".join(key + ":" + "+".join(f"{r.key}:{w}" for r, w in terms) for key, terms in made)
    if len(made) == 1 and made[0][0] == "all":
        source = mixture_source(made[0][1])
    else:
        source = branched_source(made)
    return Program.from_source(source, filename=f"<mixture {label}>").canonical


def mixture_program(terms: Terms) -> Program:
    """The mixture, its weights made canonical, as a checked, canonical `Program`."""
    return explanation_program([("all", terms)])


def mass_probe(rule: Primitive) -> Program:
    """For a rule that is not normalised: a program whose row i (i ≥ 1) is proportional to
    (F, 1) on keys (0, 1), F = the mass the rule adds to row i, so F = p[i, 0] / p[i, 1]
    (row 0 of every pattern is all on position 0 whatever the masses)."""
    if rule.mass is None:
        raise MixtureError(f"rule {rule.key} is normalised: its row mass is always 1")
    lines = [
        "def head(tokens):",
        f'    """Row mass of the rule {rule.key}."""',
        "    n = len(tokens)",
        "    out = zeros(n, n)",
        "    for i in range(n):",
        *["        " + line for line in rule.mass("")],
        "        out[i, 0] += total",
        "        out[i, 1] += 1.0",
        "    return out",
        "",
    ]
    return Program.from_source("\n".join(lines), filename=f"<mass of {rule.key}>").canonical


def combine(raw: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The pattern of a mixture from its rules' unnormalised outputs (n×n each): Σ w·f,
    each causal row divided by its sum, a row with no mass all on position 0."""
    total = np.tril(sum(w * np.asarray(f, np.float64) for f, w in zip(raw, weights)))
    mass = total.sum(1, keepdims=True)
    out = np.divide(total, mass, out=np.zeros_like(total), where=mass > 0)
    out[mass[:, 0] <= 0, 0] = 1.0
    return out
