"""Vocabulary tables: every token feature evaluated once per distinct token of a tokenizer.

A `Vocab` maps token ids to texts (as `attndsl.normalise_token` gives them) and holds the
tables kernels read instead of strings: the key class of each token (equal classes, equal
tokens), the lower-case map, each token test and the layout flags that `structure` needs.
Lower-cased spellings absent from the vocabulary get extra entries after the real ids.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..lang import (
    LAYOUT_FLAGS,
    TOKEN_TESTS,
    AttnDslError,
    layout_flags,
    normalise_token,
    spelling_scheme,
    token_key,
)

TEST_NAMES = tuple(TOKEN_TESTS)
NO_CLASS = -2  # the key class of a literal that no token has


@dataclass(frozen=True, eq=False)
class Vocab:
    """Token texts by id, plus feature tables over the ids and their lower-cased variants."""

    texts: tuple[str, ...]
    key_class: np.ndarray  # int64 [V']
    lower_map: np.ndarray  # int64 [V']
    tests: np.ndarray  # bool [len(TEST_NAMES), V']
    layout: np.ndarray  # bool [V', len(LAYOUT_FLAGS)]
    classes: dict[str, int]  # key → class
    fingerprint: str

    @property
    def size(self) -> int:
        """Number of real token ids."""
        return len(self.texts)

    def literal_classes(self, keys: Sequence[str]) -> np.ndarray:
        """The key class of each literal's key, as `Lowered.literals` holds them (NO_CLASS
        when no token has that key)."""
        return np.array([self.classes.get(k, NO_CLASS) for k in keys] or [0], dtype=np.int64)

    def holds(self, test: str) -> np.ndarray:
        """Whether token test `test` (e.g. "is_punct") holds, per id: bool [V']."""
        return self.tests[TEST_NAMES.index(test)]

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of token texts, which must all be in the vocabulary."""
        index = self._index()
        missing = [t for t in tokens if t not in index]
        if missing:
            raise AttnDslError(
                f"{len(missing)} token(s) not in the vocabulary, e.g. "
                f"{missing[0]!r}; build it from these texts (word_vocab)"
            )
        return np.array([index[t] for t in tokens], dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.texts[i] for i in ids]

    def _index(self) -> dict[str, int]:
        return _text_index(self)

    @staticmethod
    def from_tokenizer(tokenizer: Any) -> Vocab:
        """Tables for a Hugging Face tokenizer: every id's token, spelled as text (byte-level
        BPE `Ġ`/`Ċ` and SentencePiece `▁` markers become spaces and newlines)."""
        pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        scheme = spelling_scheme(p for p in pieces[:5000] if p)
        special = set(getattr(tokenizer, "all_special_tokens", ()))
        texts = [p if p in special else normalise_token(p or "", scheme) for p in pieces]
        return Vocab.from_texts(texts)

    @staticmethod
    def from_texts(texts: Sequence[str]) -> Vocab:
        """Tables for a vocabulary given as token texts in id order (memoised by content)."""
        texts = tuple(texts)
        digest = hashlib.sha256("\0".join(texts).encode("utf-8", "surrogatepass")).hexdigest()
        return _build(texts, digest[:16])


@functools.lru_cache(maxsize=8)
def _text_index(vocab: Vocab) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, text in enumerate(vocab.texts):
        index.setdefault(text, i)
    return index


@functools.lru_cache(maxsize=8)
def _build(texts: tuple[str, ...], fingerprint: str) -> Vocab:
    extended = list(texts)
    position = {text: i for i, text in reversed(list(enumerate(texts)))}
    lower_map = []
    for text in texts:
        low = text.lower()
        if low not in position:
            position[low] = len(extended)
            extended.append(low)
        lower_map.append(position[low])
    for text in extended[len(texts) :]:  # lower-case of a lower-case entry is itself
        lower_map.append(position[text.lower()] if text.lower() in position else position[text])
    classes: dict[str, int] = {}
    key_class = np.array(
        [classes.setdefault(token_key(t), len(classes)) for t in extended], dtype=np.int64
    )
    tests = np.array([[fn(t) for t in extended] for fn in TOKEN_TESTS.values()], dtype=bool)
    layout = np.array([layout_flags(t) for t in extended], dtype=bool).reshape(
        len(extended), len(LAYOUT_FLAGS)
    )
    return Vocab(
        texts,
        key_class,
        np.array(lower_map, dtype=np.int64),
        tests.reshape(len(TEST_NAMES), len(extended)),
        layout,
        classes,
        fingerprint,
    )


def word_vocab(sequences: Iterable[Sequence[str]]) -> Vocab:
    """A vocabulary of the distinct texts in some token sequences (sorted, so it is stable)."""
    return Vocab.from_texts(sorted({t for seq in sequences for t in seq}))
