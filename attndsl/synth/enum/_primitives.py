"""The component rules of the enumerative synthesiser, as DSL source.

A `Primitive` is one parametrised attention rule (previous token, recency decay with rate r,
last punctuation, every stop word, ...) written as lines of the query loop `for i in range(n):`
that add to row i, scaled by a weight. Rules are of two kinds:

- normalised: the rule adds exactly its weight to every row (its mass is normalised inside the
  program), so in a mixture its share of each row is fixed;
- weighted per key ("every token", "every stop word", ...): each key the rule finds gets the
  weight, so its share grows with the number of keys found, as with softmax attention; its
  `mass` lines compute that row mass (for `_mixture.mass_probe`).

A normalised rule with no target in a row (no punctuation yet, no earlier copy, the first word
has no previous word) puts its mass on position 0, the first token: the fallback the runtime
uses for a row with no mass, and where real heads park spare attention (the attention sink).
A rule weighted per key adds nothing to such a row.

`primitives()` is the fixed set, in a stable order; `primitive(key)` finds one by key;
`word_rule(words)` makes a rule for the words one head reads; `QUERY_CLASSES` are the classes
of query token a program may treat apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ...lang import AttnDslError


@dataclass(frozen=True)
class Primitive:
    """One rule: a stable key, words for people, and the generator of its loop body."""

    key: str  # stable id, e.g. "prev-1", "decay-0.5", "last-punct"
    title: str  # short name, e.g. "previous token"
    phrase: str  # what gets its mass, e.g. "the token just before"
    write: Callable[[str, str], list[str]]  # (weight expression, name suffix) -> body lines
    #: for a rule that is not normalised: (name suffix) -> lines setting `total{suffix}` to
    #: the mass the rule adds to row i (at weight 1); None: the rule adds exactly its weight
    mass: Callable[[str], list[str]] | None = None
    words: tuple[str, ...] = ()  # the words of a `word_rule`

    @property
    def normalised(self) -> bool:
        """Whether every row gets exactly the rule's weight (else a weight per key, so its
        share grows with the number of keys it finds)."""
        return self.mass is None

    def body(self, weight: float | None, suffix: str = "", indent: int = 2) -> list[str]:
        """The lines (indented `indent` levels) adding this rule, scaled by `weight` (1 when
        None), to row i."""
        return ["    " * indent + line for line in self.write(_weight(weight), suffix)]


def format_weight(weight: float) -> str:
    """A weight as the program writes it: positional, e.g. `20.0`, `0.35`, `0.013`."""
    return np.format_float_positional(float(weight), trim="0")


def _weight(weight: float | None) -> str:
    return "" if weight is None or weight == 1.0 else f"{format_weight(weight)} * "


def _mass(w: str, expr: str) -> str:
    """`w * expr`, written without a needless `1.0 *` or `* 1.0`."""
    if expr == "1.0":
        return w[:-3] if w else "1.0"
    return f"{w}{expr}"


# ----------------------------------------------------------------- position rules


def _at(position: str) -> Callable[[str, str], list[str]]:
    return lambda w, s: [f"out[i, {position}] += {_mass(w, '1.0')}"]


def _uniform(low: str) -> Callable[[str, str], list[str]]:
    """Evenly over positions low..i (low >= 0, so the row always has a target)."""

    def write(w: str, s: str) -> list[str]:
        return [
            f"low{s} = {low}",
            f"for j in range(low{s}, i + 1):",
            f"    out[i, j] += {_mass(w, f'1.0 / (i + 1 - low{s})')}",
        ]

    return write


def _weighted(
    value: str, low: str = "0", test: str | None = None
) -> Callable[[str, str], list[str]]:
    """Keys j in low..i (those passing `test`) weighted by `value`, normalised in the row;
    position 0 when no key passes."""

    def write(w: str, s: str) -> list[str]:
        cond = [f"    if {test}:"] if test else []
        pad = "    " if test else ""
        return [
            f"total{s} = 0.0",
            f"for j in range({low}, i + 1):",
            *cond,
            f"    {pad}total{s} += {value}",
            f"for j in range({low}, i + 1):",
            *cond,
            f"    {pad}out[i, j] += {_mass(w, f'{value} / total{s}')}",
            f"if total{s} == 0.0:",
            f"    out[i, 0] += {_mass(w, '1.0')}",
        ]

    return write


def _each(
    value: str, low: str = "0", test: str | None = None
) -> tuple[Callable[[str, str], list[str]], Callable[[str], list[str]]]:
    """Every key j in low..i (passing `test`) gets `value`, unnormalised: the more such keys,
    the larger this rule's share of the row (as with softmax attention). Returns the body
    writer and the writer of its row mass."""

    def loop(target: str) -> list[str]:
        if test:
            return [f"for j in range({low}, i + 1):", f"    if {test}:", f"        {target}"]
        return [f"for j in range({low}, i + 1):", f"    {target}"]

    def write(w: str, s: str) -> list[str]:
        return loop(f"out[i, j] += {_mass(w, value)}")

    def mass(s: str) -> list[str]:
        return [f"total{s} = 0.0", *loop(f"total{s} += {value}")]

    return write, mass


def _decay(rate: float) -> str:
    return f"exp(-{rate} * (i - j))"


def _power(alpha: float) -> str:
    return f"exp(-{alpha} * log(i - j + 1))"


# ------------------------------------------------------------------ token classes

#: key class name -> (condition on token expression t, plural phrase)
CLASSES: dict[str, tuple[Callable[[str], str], str]] = {
    "punct": (lambda t: f"is_punct({t})", "punctuation marks"),
    "stop": (lambda t: f"is_stop({t})", "stop words (the, a, he, was, ...)"),
    "upper": (lambda t: f"is_upper({t})", "capitalised tokens"),
    "wordstart": (lambda t: f"starts_word({t})", "word-initial tokens"),
    "end": (lambda t: f'{t} in (".", "!", "?")', "sentence ends (. ! ?)"),
    "comma": (lambda t: f'{t} == ","', "commas"),
    "content": (lambda t: f"is_alpha({t}) and not is_stop({t})", "content words"),
}


def _last(test: str, strict: bool) -> Callable[[str, str], list[str]]:
    """The latest key passing `test` at (or, strict, before) i; position 0 if none."""

    def write(w: str, s: str) -> list[str]:
        start = "i - 1" if strict else "i"
        return [
            f"last{s} = 0",
            f"for j in range({start}, -1, -1):",
            f"    if {test}:",
            f"        last{s} = j",
            "        break",
            f"out[i, last{s}] += {_mass(w, '1.0')}",
        ]

    return write


# ----------------------------------------------------------------- the fixed set

WINDOWS = (2, 3, 4, 6, 8, 12, 16, 24)
DECAYS = (0.03, 0.07, 0.15, 0.3, 0.5, 0.8, 1.2, 2.0)
POWERS = (0.5, 1.0, 1.5, 2.0, 3.0)
RAW_POWERS = (0.5, 1.0)
RAW_DECAYS = (0.05, 0.2)
CLASS_DECAYS = (0.1, 0.3, 1.0)


def _position_rules() -> list[Primitive]:
    rules = [
        Primitive("first", "sink", "the first token", _at("0")),
        Primitive("self", "self", "the token itself", _at("i")),
    ]
    words = {1: "the token just before", 2: "the token two back", 3: "the token three back"}
    for k in (1, 2, 3, 4):
        rules.append(
            Primitive(
                f"prev-{k}",
                "previous token" if k == 1 else f"{k} back",
                words.get(k, f"the token {k} back"),
                _at(f"max(i - {k}, 0)"),
            )
        )
    rules.append(Primitive("uniform", "uniform", "every token so far, evenly", _uniform("0")))
    rules.append(Primitive("each-token", "every token", "each token so far", *_each("1.0")))
    for rate in RAW_DECAYS:
        rules.append(
            Primitive(
                f"each-token-{rate}",
                "every token, fading",
                f"each token so far, by exp(-{rate} * distance)",
                *_each(_decay(rate)),
            )
        )
    for width in WINDOWS:
        rules.append(
            Primitive(
                f"window-{width}",
                f"last {width} tokens",
                f"the last {width} tokens, evenly",
                _uniform(f"max(i - {width - 1}, 0)"),
            )
        )
    for rate in DECAYS:
        rules.append(
            Primitive(
                f"decay-{rate}",
                f"recency decay {rate}",
                f"recent tokens, decaying as exp(-{rate} * distance)",
                _weighted(_decay(rate)),
            )
        )
    for alpha in POWERS:
        rules.append(
            Primitive(
                f"power-{alpha}",
                f"power decay {alpha}",
                f"recent tokens, decaying as 1 / (distance + 1)^{alpha}",
                _weighted(_power(alpha)),
            )
        )
    for alpha in RAW_POWERS:
        rules.append(
            Primitive(
                f"each-power-{alpha}",
                f"every token, power decay {alpha}",
                f"each token so far, by 1 / (distance + 1)^{alpha}",
                *_each(_power(alpha)),
            )
        )
    return rules


def _class_rules() -> list[Primitive]:
    rules = []
    for name, (test, plural) in CLASSES.items():
        cond = test("tokens[j]")
        single = plural.split(" (")[0].rstrip("s").replace("marks", "mark")
        rules.append(
            Primitive(
                f"last-{name}",
                f"last {single}",
                f"the latest of the {plural} up to the query",
                _last(cond, strict=False),
            )
        )
        rules.append(
            Primitive(
                f"before-{name}",
                f"previous {single}",
                f"the latest of the {plural} before the query",
                _last(cond, strict=True),
            )
        )
        rules.append(
            Primitive(
                f"all-{name}",
                f"all {plural.split(' (')[0]}",
                f"all {plural} so far, evenly",
                _weighted("1.0", test=cond),
            )
        )
        rules.append(
            Primitive(
                f"each-{name}",
                f"every {single}",
                f"each of the {plural} so far",
                *_each("1.0", test=cond),
            )
        )
        for rate in RAW_DECAYS:
            rules.append(
                Primitive(
                    f"each-{name}-{rate}",
                    f"every {single}, fading",
                    f"each of the {plural} so far, by exp(-{rate} * distance)",
                    *_each(_decay(rate), test=cond),
                )
            )
        for rate in CLASS_DECAYS:
            rules.append(
                Primitive(
                    f"recent-{name}-{rate}",
                    f"recent {plural.split(' (')[0]}",
                    f"the {plural} so far, decaying as exp(-{rate} * distance)",
                    _weighted(_decay(rate), test=cond),
                )
            )
    return rules


def _structure_rules() -> list[Primitive]:
    return [
        Primitive("word-start", "word start", "the first token of its word", _at("word_start(i)")),
        Primitive(
            "prev-word-start",
            "previous word start",
            "the first token of the word before",
            _at("word_start(max(word_start(i) - 1, 0))"),
        ),
        Primitive(
            "prev-word-end",
            "previous word end",
            "the last token of the word before",
            _at("max(word_start(i) - 1, 0)"),
        ),
        Primitive(
            "sentence-start",
            "sentence start",
            "the first token of its sentence",
            _at("sentence_start(i)"),
        ),
        Primitive(
            "prev-sentence-start",
            "previous sentence start",
            "the first token of the sentence before",
            _at("sentence_start(max(sentence_start(i) - 1, 0))"),
        ),
        Primitive(
            "prev-sentence-end",
            "previous sentence end",
            "the last token of the sentence before",
            _at("max(sentence_start(i) - 1, 0)"),
        ),
        Primitive(
            "same-word",
            "same word",
            "the tokens of its own word so far, evenly",
            _uniform("word_start(i)"),
        ),
        Primitive(
            "sentence",
            "current sentence",
            "its sentence so far, evenly",
            _uniform("sentence_start(i)"),
        ),
        Primitive(
            "sentence-decay-0.3",
            "current sentence, recent",
            "its sentence so far, decaying as exp(-0.3 * distance)",
            _weighted(_decay(0.3), low="sentence_start(i)"),
        ),
    ]


def _copy_rules() -> list[Primitive]:
    same = "tokens[j] == tokens[i]"
    return [
        Primitive(
            "duplicate",
            "duplicate token",
            "the latest earlier copy of the token",
            _at("max(prev_same(i), 0)"),
        ),
        Primitive(
            "induction",
            "induction",
            "the token after the latest earlier copy",
            _at("prev_same(i) + 1"),
        ),
        Primitive(
            "all-copies",
            "all copies",
            "every earlier copy of the token, evenly",
            _weighted("1.0", test=f"j < i and {same}"),
        ),
        Primitive(
            "all-lower",
            "same word in any case",
            "every earlier token equal up to case, evenly",
            _weighted("1.0", test="j < i and lower(tokens[j]) == lower(tokens[i])"),
        ),
        Primitive(
            "all-after-copies",
            "after all copies",
            "the tokens after every earlier copy, evenly",
            _weighted("1.0", low="1", test="tokens[j - 1] == tokens[i]"),
        ),
        Primitive(
            "each-copy",
            "every copy",
            "each earlier copy of the token",
            *_each("1.0", test=f"j < i and {same}"),
        ),
        Primitive(
            "each-lower",
            "every copy in any case",
            "each earlier token equal up to case",
            *_each("1.0", test="j < i and lower(tokens[j]) == lower(tokens[i])"),
        ),
        Primitive(
            "each-after-copy",
            "after every copy",
            "each token after an earlier copy",
            *_each("1.0", low="1", test="tokens[j - 1] == tokens[i]"),
        ),
    ]


def writable(word: str) -> bool:
    """Whether a word can be one of a `word_rule`'s string literals (no quotes, backslashes
    or whitespace)."""
    return bool(word) and not any(c in word for c in '"\\') and not any(c.isspace() for c in word)


def word_rule(words: Sequence[str]) -> Primitive:
    """A rule made for one head from its fit data: each key up to the query that is one of
    `words` (compared as tokens compare: without the leading space) weighs 1. Words must be
    `writable`."""
    if not words or not all(writable(w) for w in words):
        raise AttnDslError(
            f"word rule: words must be non-empty, without quotes, backslashes "
            f"or whitespace, not {list(words)}"
        )
    quoted = ", ".join(f'"{w}"' for w in words)
    test = f"tokens[j] == {quoted}" if len(words) == 1 else f"tokens[j] in ({quoted})"
    return Primitive(
        f"words:{','.join(words)}",
        "chosen words",
        f"each {quoted} so far",
        *_each("1.0", test=test),
        words=tuple(words),
    )


#: classes of the query token a program may treat apart, tested in this order:
#: (key, token test on tokens[i] or None for the rest, what the docstring calls them)
QUERY_CLASSES = (
    ("punct", "is_punct", "punctuation queries"),
    ("stop", "is_stop", "stop-word queries"),
    ("other", None, "other queries"),
)


@functools.cache
def primitives() -> tuple[Primitive, ...]:
    """Every primitive, in a stable order (position, token class, structure, copying)."""
    return tuple(_position_rules() + _class_rules() + _structure_rules() + _copy_rules())


def primitive(key: str) -> Primitive:
    """The primitive with this key."""
    for rule in primitives():
        if rule.key == key:
            return rule
    raise AttnDslError(f"no primitive {key!r}; known: {', '.join(p.key for p in primitives())}")
