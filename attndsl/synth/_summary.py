"""Head summaries: what a language model (or a person) needs to guess a head's rule.

A summary of one head over some passages of an attention cache holds, as fractions of all
attention averaged over every query row i >= 1 of those passages (row 0 can only attend to
itself):

- `offsets`: attention by key position j relative to the query i: self, -1, -2, -3, -4..-8,
  further, and the first position (j = 0, which takes precedence; the buckets sum to 1);
- `classes`: attention on keys 0 < j < i (neither the first position nor self, both counted
  in `offsets`) that belong to a class, with the token tests and structure the language's
  builtins use (`attndsl.lang._features`); `baseline` is what a uniform causal head would put there;
- `entropy`: mean row entropy in nats, and `entropy_norm`, each row's entropy over its
  maximum log(i + 1), averaged;
- `examples`: the strongest (query, key) pairs, the first position excluded, ranked by how
  far the weight exceeds a uniform head's 1/(i + 1), shown in context;
- `rows`: a few typical query rows (two thirds into the first passages) with their top keys;
- `starters`: how starter programs already score on the head (given by the caller).

`summarise_all` reads each passage once for all heads. `HeadSummary.text()` is the prompt text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from ..lang import AttnDslError, sequence_features
from ..models import AttentionCache, Head

FORMAT_VERSION = 1

OFFSETS = ("self", "-1", "-2", "-3", "-4..-8", "further", "first")

#: key classes: name → what it means, in the language's terms (i query, j key)
CLASSES: dict[str, str] = {
    "punct": "is_punct(tokens[j])",
    "word_start": "starts_word(tokens[j])",
    "upper": "is_upper(tokens[j])",
    "stop": "is_stop(tokens[j])",
    "newline": "tokens[j] holds a newline",
    "repeat": "tokens[j] == tokens[i]",
    "induction": "tokens[j - 1] == tokens[i]",
    "same_word": "word_of(j) == word_of(i)",
    "sentence_start": "j == sentence_start(i)",
}

STARTERS_SHOWN = 5  # starter programs `text()` lists, best first
TOKEN_WIDTH = 14  # longest token text shown in a context
BEFORE, AFTER = 4, 1  # tokens of context before and after the query and the key


class SummaryError(AttnDslError):
    """A summary asked of heads or passages the cache does not hold."""


@dataclass(frozen=True)
class Example:
    """One strong (query → key) pair: where it is, its weight, and the tokens around it.

    `context` shows the tokens around the key and the query (newlines escaped), the query
    marked `[q]`, the key `{k}` (self: `[{q}]`), gaps as `…`."""

    passage: int
    query: int
    key: int
    weight: float
    query_token: str
    key_token: str
    context: str

    @property
    def offset(self) -> int:
        """j - i: -1 for the previous token, 0 for self."""
        return self.key - self.query


@dataclass(frozen=True)
class QueryRow:
    """One query row: the tokens up to the query (marked `[q]`) and its strongest keys as
    (key position, key token, weight), strongest first."""

    passage: int
    query: int
    context: str
    keys: list[tuple[int, str, float]]

    def text(self) -> str:
        """`…tokens [q] → "key" j-i weight | …` on one line."""
        keys = " | ".join(
            ("first" if k == 0 else f'"{_show(token.strip() or token)}" {k - self.query}')
            + f" {w:.2f}"
            for k, token, w in self.keys
        )
        return f"{self.context} → {keys}"


@dataclass(frozen=True)
class HeadSummary:
    """The summary of one head (see the module docstring for what each part means)."""

    layer: int
    head: int
    passages: int
    tokens: int
    offsets: dict[str, float]
    classes: dict[str, float]
    entropy: float
    entropy_norm: float
    examples: list[Example]
    starters: list[tuple[str, float]]
    baseline: dict[str, float] = field(default_factory=dict)
    rows: list[QueryRow] = field(default_factory=list)

    def text(self) -> str:
        """The prompt text: plain, compact and stable (the same summary, the same bytes)."""
        lines = [
            f"layer {self.layer}, head {self.head}: {self.passages} passages, "
            f"{self.tokens} tokens; shares of attention averaged over queries i >= 1",
            "by key offset j - i: "
            + " | ".join(f"{name} {self.offsets[name]:.2f}" for name in OFFSETS),
            "by key class, keys 0 < j < i (a uniform head in brackets):",
        ]
        width = max(len(meaning) for meaning in CLASSES.values())
        lines += [
            f"  {meaning:<{width}} {self.classes[name]:.2f} [{self.baseline.get(name, 0.0):.2f}]"
            for name, meaning in CLASSES.items()
        ]
        lines.append(
            f"entropy: {self.entropy:.2f} nats per row, {self.entropy_norm:.2f} of "
            "the uniform maximum"
        )
        if self.examples:
            lines.append(
                "strongest pairs, first position excluded (weight, j - i, query [q], key {k}):"
            )
            lines += [f"  {e.weight:.2f} {e.offset:>4}  {e.context}" for e in self.examples]
        if self.rows:
            lines.append('typical queries and their top keys (key "token" j - i weight):')
            lines += [f"  {row.text()}" for row in self.rows]
        if self.starters:
            best = ", ".join(f"{name} {iou:.2f}" for name, iou in self.starters[:STARTERS_SHOWN])
            lines.append(f"starter programs by soft IoU on this head: {best}")
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict:
        """Plain JSON (lists and dicts of numbers and strings)."""
        entry = asdict(self)
        entry["starters"] = [list(s) for s in self.starters]
        for row in entry["rows"]:
            row["keys"] = [list(k) for k in row["keys"]]
        return {"version": FORMAT_VERSION, **entry}

    @staticmethod
    def from_json(entry: dict) -> HeadSummary:
        """The inverse of `to_json`."""
        if entry.get("version") != FORMAT_VERSION:
            raise SummaryError(
                f"head summary format {entry.get('version')}, this attndsl "
                f"reads {FORMAT_VERSION}; summarise again"
            )
        fields = {k: v for k, v in entry.items() if k != "version"}
        fields["examples"] = [Example(**e) for e in fields["examples"]]
        fields["starters"] = [(str(name), float(iou)) for name, iou in fields["starters"]]
        fields["rows"] = [
            QueryRow(
                r["passage"],
                r["query"],
                r["context"],
                [(int(k), str(t), float(w)) for k, t, w in r["keys"]],
            )
            for r in fields.get("rows", ())
        ]
        return HeadSummary(**fields)


# ----------------------------------------------------------------- computing


def _masks(texts: Sequence[str]) -> np.ndarray:
    """float64 [n*n, len(OFFSETS) + len(CLASSES)]: which (i, j) each offset bucket and key
    class counts, over query rows i >= 1 of the causal triangle."""
    n = len(texts)
    f = sequence_features(texts)
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    causal = (j <= i) & (i >= 1)
    rest, d = causal & (j > 0), i - j
    offsets = [
        rest & (d == 0),
        rest & (d == 1),
        rest & (d == 2),
        rest & (d == 3),
        rest & (d >= 4) & (d <= 8),
        rest & (d > 8),
        causal & (j == 0),
    ]
    ids: dict[str, int] = {}
    key = np.array([ids.setdefault(k, len(ids)) for k in f.keys], dtype=np.int64)
    before = np.concatenate([[-1], key[:-1]])  # the key of token j - 1
    newline = np.array(["\n" in t for t in texts])
    relation = {
        "punct": f.tests["is_punct"][None, :],
        "word_start": f.tests["starts_word"][None, :],
        "upper": f.tests["is_upper"][None, :],
        "stop": f.tests["is_stop"][None, :],
        "newline": newline[None, :],
        "repeat": key[None, :] == key[:, None],
        "induction": before[None, :] == key[:, None],
        "same_word": f.word_of[None, :] == f.word_of[:, None],
        "sentence_start": j == f.sentence_start[:, None],
    }
    inside = causal & (j > 0) & (j < i)
    masks = offsets + [inside & relation[name] for name in CLASSES]
    return np.stack([np.broadcast_to(m, (n, n)).reshape(-1) for m in masks], 1).astype(float)


def _uniform(n: int) -> np.ndarray:
    """A uniform causal head: [n, n]."""
    return np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]


def _show(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    text = text.replace("\t", "\\t")
    return text if len(text) <= TOKEN_WIDTH else text[: TOKEN_WIDTH - 1] + "…"


def _context(texts: Sequence[str], query: int, key: int | None = None) -> str:
    """Tokens around the key and the query, marked, gaps as `…`; without a key, the tokens
    up to the query only."""
    n = len(texts)
    around = {*range(max(0, query - BEFORE), min(n, query + AFTER + 1))}
    if key is None:
        around = {*range(max(0, query - 2 * BEFORE), query + 1)}
    else:
        around |= {*range(max(0, key - BEFORE), min(n, key + AFTER + 1))}
    shown = sorted(around)
    parts = ["…"] if shown[0] > 0 else []
    for k, position in enumerate(shown):
        if k and position != shown[k - 1] + 1:
            parts.append(" …")
        text = _show(texts[position])
        core = text.lstrip(" ")
        lead = text[: len(text) - len(core)]
        if position == key:
            core = "{" + core + "}"
        if position == query:
            core = "[" + core + "]"
        parts.append(lead + core)
    if shown[-1] < n - 1 and key is not None:
        parts.append("…")
    return "".join(parts)


class _Totals:
    """Running sums over passages for a set of heads (and the uniform head, last)."""

    def __init__(self, count: int, examples: int, passages: Sequence[int], rows: int) -> None:
        self.mass = np.zeros((count + 1, len(OFFSETS) + len(CLASSES)))
        self.entropy = np.zeros(count)
        self.entropy_norm = np.zeros(count)
        self.rows = 0
        self.tokens = 0
        self.cap = max(1, math.ceil(examples / len(passages)))  # examples kept per passage
        self.pairs: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.typical_in = set(passages[:rows])  # passages that give a typical query row
        self.typical: list[tuple[int, int, np.ndarray, np.ndarray]] = []

    def add(self, passage: int, attention: np.ndarray, texts: Sequence[str]) -> None:
        """attention: float32 [heads, n, n] of the heads summed, in order."""
        count, n = attention.shape[0], attention.shape[1]
        self.tokens += n
        if n < 2:
            return
        self.rows += n - 1
        weights = attention.astype(np.float64)
        stacked = np.concatenate([weights, _uniform(n)[None]]).reshape(count + 1, n * n)
        self.mass += stacked @ _masks(texts)
        rows = weights[:, 1:, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            plogp = np.where(rows > 0, rows * np.log(np.where(rows > 0, rows, 1.0)), 0.0)
        entropy = -plogp.sum(2)  # [heads, n - 1]
        self.entropy += entropy.sum(1)
        self.entropy_norm += (entropy / np.log(np.arange(2, n + 1))).sum(1)
        if passage in self.typical_in:
            query = (2 * n) // 3
            top = np.argsort(-weights[:, query, : query + 1], axis=1, kind="stable")[:, :3]
            self.typical.append(
                (passage, query, top, np.take_along_axis(weights[:, query], top, 1))
            )
        masked = np.where(np.tril(np.ones((n, n), bool)), weights, -1.0)
        masked[:, :, 0] = -1.0  # the first position is reported in `offsets`
        masked[:, 0, :] = -1.0
        keys = masked.argmax(2)  # [heads, n]
        best = np.take_along_axis(masked, keys[:, :, None], 2)[:, :, 0]
        excess = best - 1.0 / np.arange(1, n + 1)  # over a uniform head's weight
        order = np.argsort(-excess, axis=1, kind="stable")[:, : self.cap]  # [heads, cap]
        self.pairs.append(
            (
                passage,
                order,
                np.take_along_axis(keys, order, 1),
                np.take_along_axis(best, order, 1),
                np.take_along_axis(excess, order, 1),
            )
        )

    def examples(self, index: int, count: int, texts: Mapping[int, Sequence[str]]) -> list[Example]:
        """The `count` pairs of head `index` most above uniform (ties: earlier passage,
        query)."""
        found = [
            (-float(x), rank, int(q), int(k), float(w), passage)
            for rank, (passage, queries, keys, weights, excess) in enumerate(self.pairs)
            for q, k, w, x in zip(queries[index], keys[index], weights[index], excess[index])
            if w > 0
        ]
        return [
            Example(
                passage,
                q,
                k,
                round(w, 4),
                texts[passage][q],
                texts[passage][k],
                _context(texts[passage], q, k),
            )
            for _, _, q, k, w, passage in sorted(found)[:count]
        ]

    def query_rows(self, index: int, texts: Mapping[int, Sequence[str]]) -> list[QueryRow]:
        """Typical query rows of head `index`, in passage order."""
        return [
            QueryRow(
                passage,
                query,
                _context(texts[passage], query),
                [
                    (int(k), texts[passage][int(k)], round(float(w), 4))
                    for k, w in zip(keys[index], weights[index])
                ],
            )
            for passage, query, keys, weights in self.typical
        ]


def _check_request(cache: AttentionCache, passages: Sequence[int], heads: Sequence[Head]) -> None:
    if not passages:
        raise SummaryError(f"{cache.folder}: no passages to summarise; pass some indices")
    wrong = [p for p in passages if not 0 <= p < len(cache)]
    if wrong:
        raise SummaryError(
            f"{cache.folder}: no passage {wrong[0]}; the cache holds "
            f"{len(cache)} (0 to {len(cache) - 1})"
        )
    for layer, head in heads:
        if not (0 <= layer < cache.layers and 0 <= head < cache.heads):
            raise SummaryError(
                f"{cache.folder}: no head (layer {layer}, head {head}); the "
                f"cache holds {cache.layers} layers × {cache.heads} heads"
            )


def summarise_all(
    cache: AttentionCache,
    passages: Sequence[int],
    heads: Sequence[Head] | None = None,
    starters: Mapping[Head, Sequence[tuple[str, float]]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    examples: int = 8,
    rows: int = 4,
) -> dict[Head, HeadSummary]:
    """Summaries of `heads` (default: all) over `passages` of `cache`, reading each passage
    once. `starters` gives (program name, soft IoU) per head; `progress(done, total)` is
    called after each passage; `examples` strong pairs and `rows` typical query rows."""
    heads = (
        [(int(h[0]), int(h[1])) for h in heads]
        if heads is not None
        else [(layer, head) for layer in range(cache.layers) for head in range(cache.heads)]
    )
    passages = [int(p) for p in passages]
    _check_request(cache, passages, heads)
    flat = np.array([layer * cache.heads + head for layer, head in heads], dtype=np.int64)
    totals = _Totals(len(heads), examples, passages, rows)
    texts: dict[int, list[str]] = {}
    for done, passage in enumerate(passages, start=1):
        texts[passage] = cache.tokens(passage)
        attention = cache.attention(passage)
        n = attention.shape[-1]
        totals.add(passage, attention.reshape(-1, n, n)[flat], texts[passage])
        if progress:
            progress(done, len(passages))
    count = max(totals.rows, 1)
    share = np.round(totals.mass / count, 4)
    baseline = dict(zip(CLASSES, share[-1, len(OFFSETS) :].tolist()))
    starters = starters or {}
    summaries = {}
    for index, (layer, head) in enumerate(heads):
        given = sorted(
            ((str(n), float(s)) for n, s in starters.get((layer, head), ())),
            key=lambda s: (-s[1], s[0]),
        )
        summaries[(layer, head)] = HeadSummary(
            layer,
            head,
            len(passages),
            totals.tokens,
            dict(zip(OFFSETS, share[index, : len(OFFSETS)].tolist())),
            dict(zip(CLASSES, share[index, len(OFFSETS) :].tolist())),
            round(float(totals.entropy[index] / count), 4),
            round(float(totals.entropy_norm[index] / count), 4),
            totals.examples(index, examples, texts),
            given,
            baseline,
            totals.query_rows(index, texts),
        )
    return summaries


def summarise(
    cache: AttentionCache,
    passages: Sequence[int],
    layer: int,
    head: int,
    starters: Sequence[tuple[str, float]] = (),
    examples: int = 8,
    rows: int = 4,
) -> HeadSummary:
    """The summary of one head over `passages` (see `summarise_all` for many heads)."""
    return summarise_all(
        cache, passages, [(layer, head)], {(layer, head): starters}, examples=examples, rows=rows
    )[(layer, head)]
