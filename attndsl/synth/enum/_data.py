"""The data of the enumerative search on a bounded set of passages: the rules' outputs, the
heads' attention, and the words a head reads, as packed causal lower triangles (the layout of
`_kernels`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...lang import Program, token_key
from ...models import AttentionCache, Head
from ._primitives import Primitive, writable

LIFT = 2.0  # how much more than its even share an attractor word must draw


@dataclass
class FitData:
    """The rows (queries) of some passages, and the rules' outputs on them."""

    passages: list[int]
    starts: np.ndarray  # int64 [R]: first entry of each row
    lens: np.ndarray  # int64 [R]: entries of each row (query index + 1)
    weight: np.ndarray  # float64 [R]: 1 / (n · passages), so Σ weight·IoU is the mean score
    comps: np.ndarray  # float32 [P, T]: each rule's unnormalised output
    csum: np.ndarray  # float32 [P, R]: its row masses
    queries: np.ndarray  # int64 [R]: token id of each row's query
    keys: np.ndarray  # int64 [T]: key class (`Vocab.key_class`) of each entry's key token
    columns: np.ndarray  # int64 [T]: key position j of each entry
    words: dict[int, str]  # key class -> the text tokens of that class equal
    slots: int = 0  # rows at the end of comps/csum left for one head's own rules

    @functools.cached_property
    def bounds(self) -> np.ndarray:
        """Row ranges for the kernels' threads (`_enum_kernels.blocks`)."""
        import numba

        from ._kernels import blocks

        return blocks(self.lens, 8 * numba.get_num_threads())

    @property
    def entries(self) -> int:
        return int(self.comps.shape[1])

    def rows(self, mask: np.ndarray) -> FitData:
        """The same data restricted to some rows (weights unchanged, so the scores of a
        partition of the rows add up to the score over all of them)."""
        return FitData(
            self.passages,
            self.starts[mask],
            self.lens[mask],
            self.weight[mask],
            self.comps,
            np.ascontiguousarray(self.csum[:, mask]),
            self.queries[mask],
            self.keys,
            self.columns,
            self.words,
            self.slots,
        )

    def fill(self, slot: int, output: np.ndarray) -> None:
        """Put a head's own rule output [T] in a slot (before taking `rows` of the data)."""
        from ._kernels import row_sums

        k = len(self.comps) - self.slots + slot
        self.comps[k] = output
        self.csum[k] = row_sums(output[None], self.starts, self.lens)[0]


def rows_of(lengths: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, lens, weight) of the rows of passages with these lengths."""
    lens = np.concatenate([np.arange(1, n + 1) for n in lengths]).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    weight = np.concatenate([np.full(n, 1.0 / (n * len(lengths))) for n in lengths])
    return starts, lens, weight


def lower_triangles(full: np.ndarray, offsets: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
    """Ragged n×n patterns back to back (a kernel's `ragged` output) → packed lower
    triangles, passage after passage."""
    parts = []
    for b, n in enumerate(lengths):
        block = full[offsets[b] : offsets[b + 1]].reshape(n, n)
        parts.append(block[np.tril_indices(n)])
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def program_patterns(
    programs: Sequence[Program], ids: Sequence[Sequence[int] | np.ndarray], vocab
) -> np.ndarray:
    """Patterns of programs on token-id sequences, packed: float32 [P, T]. Each program is
    compiled with Numba once (kernels are cached on disk)."""
    from ...compiler import Batch
    from ...compiler import compile as compile_program

    batch = Batch.from_sequences(ids)
    lengths = [len(s) for s in ids]
    out = np.empty((len(programs), sum(n * (n + 1) // 2 for n in lengths)), np.float32)
    for c, program in enumerate(programs):
        flat, offsets = compile_program(program, backend="numba").ragged(batch, vocab)
        out[c] = lower_triangles(flat.numpy(), offsets, lengths)
    return out


def rule_outputs(
    rules: Sequence[Primitive], ids: Sequence[Sequence[int] | np.ndarray], vocab
) -> np.ndarray:
    """The rules' unnormalised outputs f (weight 1), packed: float32 [P, T]. A normalised
    rule's output is its pattern; another rule's is its pattern times its row mass F, read
    from its `mass_probe` (row 0, all on position 0 in every pattern, is kept as is)."""
    from ._mixture import mass_probe, mixture_program

    out = program_patterns([mixture_program([(rule, 1.0)]) for rule in rules], ids, vocab)
    raw = [k for k, rule in enumerate(rules) if not rule.normalised]
    if raw:
        probes = program_patterns([mass_probe(rules[k]) for k in raw], ids, vocab)
        starts, lens, _ = rows_of([len(s) for s in ids])
        later = lens > 1
        first, second = starts[later], starts[later] + 1
        for probe, k in zip(probes, raw):
            mass = np.ones(len(starts), np.float32)
            mass[later] = probe[first] / probe[second]
            out[k] *= np.repeat(mass, lens)
    return out


def head_attention(
    cache: AttentionCache, passages: Sequence[int], heads: Sequence[Head]
) -> np.ndarray:
    """Attention of the heads on the passages, packed: float32 [K, T]. Reads each passage's
    stored triangles (float16) once, for all heads together."""
    flat = [layer * cache.heads + head for layer, head in heads]
    parts = []
    for p in passages:
        record = cache.records[p]
        n = record.n
        full = cache.attention(p).reshape(cache.layers * cache.heads, n, n)[flat]
        rows, cols = np.tril_indices(n)
        parts.append(full[:, rows, cols])
    return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)


def fit_data(
    cache: AttentionCache,
    passages: Sequence[int],
    rules: Sequence[Primitive],
    vocab,
    slots: int = 0,
) -> FitData:
    """Rows and the rules' outputs on `passages` (taken as given; bound them with `_corpus.spread`),
    with `slots` more rows of outputs left empty for one head's own rules (`FitData.fill`)."""
    from . import _kernels as K

    ids = [np.asarray(cache.records[p].ids, np.int64) for p in passages]
    starts, lens, weight = rows_of([len(s) for s in ids])
    outputs = rule_outputs(rules, ids, vocab)
    comps = np.zeros((len(rules) + slots, outputs.shape[1]), np.float32)
    comps[: len(rules)] = outputs
    queries = np.concatenate(ids)
    columns = np.concatenate([np.tril_indices(len(s))[1] for s in ids]).astype(np.int64)
    keys = np.concatenate([vocab.key_class[s][np.tril_indices(len(s))[1]] for s in ids])
    words = {int(vocab.key_class[t]): token_key(vocab.texts[t]) for t in np.unique(queries)}
    return FitData(
        list(passages),
        starts,
        lens,
        weight,
        comps,
        K.row_sums(comps, starts, lens),
        queries,
        keys,
        columns,
        words,
        slots,
    )


def attractors(data: FitData, attention: np.ndarray, count: int, min_seen: int = 6) -> list[str]:
    """Up to `count` words (token texts) that draw more of a head's attention than an even
    spread would give them, most excess first. Position 0 (the sink) is left out: a row's
    even spread is the attention it puts elsewhere, shared by the keys j = 1..i. A word must
    be seen at least `min_seen` times in the fit passages, draw at least its even
    share times LIFT, and be writable as a string literal."""
    rows = np.repeat(np.arange(len(data.starts)), data.lens)
    entries = (
        np.arange(len(rows))
        - np.repeat(np.cumsum(data.lens) - data.lens, data.lens)
        + data.starts[rows]
    )  # the entries of data's rows, row after row
    columns, keys, a = data.columns[entries], data.keys[entries], attention[entries]
    keep = columns > 0
    spare = (1.0 - attention[data.starts]) * data.weight / np.maximum(data.lens - 1, 1)
    size = int(data.keys.max()) + 1 if len(data.keys) else 1
    drawn = np.bincount(keys[keep], weights=(a * data.weight[rows])[keep], minlength=size)
    even = np.bincount(keys[keep], weights=spare[rows][keep], minlength=size)
    seen = np.bincount(keys[columns == data.lens[rows] - 1], minlength=size)
    excess = drawn - even
    good = [
        k
        for k in np.argsort(-excess, kind="stable")
        if excess[k] > 0
        and seen[k] >= min_seen
        and drawn[k] >= LIFT * even[k]
        and writable(data.words.get(int(k), ""))
    ]
    return [data.words[int(k)] for k in good[:count]]


def word_output(data: FitData, words: Sequence[str]) -> np.ndarray:
    """The output of `_primitives.word_rule(words)` on the fit data: 1 on each entry whose key
    is one of the words: float32 [T]."""
    wanted = [k for k, w in data.words.items() if w in set(words)]
    return np.isin(data.keys, wanted).astype(np.float32)
