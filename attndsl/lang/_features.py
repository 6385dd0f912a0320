"""Token features: the one definition of every token test and structural builtin.

Token tests (`is_punct`, `starts_word`, ...) depend on a token's text alone, so a compiler can
evaluate them once per vocabulary entry. Structural builtins (`word_of`, `word_start`,
`sentence_start`, `prev_same`) depend on the whole sequence; they are computed by
`structure()` from per-token boolean properties (`layout_flags`), so that a kernel which only
sees token ids and lookup tables computes exactly what the interpreter does.

Texts are tokens as a tokenizer decodes them: `normalise_token` maps byte-level BPE (`Ġ`,
`Ċ`) and SentencePiece (`▁`, `<0x0A>`) spellings to plain text with a leading space.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

STOP_WORDS = frozenset(
    """
a an the and or but if so as of to in on at by for with from into about
is was are were be been am do did does has had have
i you he she it we they me him her us them my your his its our their
this that these those not no there then
""".split()
)

SENTENCE_END = ".!?…"
CLOSERS = "\"'”’)]}»"


# ----------------------------------------------------------------- normalising


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """GPT-2's printable stand-ins for bytes, inverted."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    codes = keep[:]
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            codes.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(keep, codes)}


_HEX_BYTE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def spelling_scheme(pieces: Iterable[str]) -> str:
    """How a tokenizer spells its pieces ("sentencepiece", "bytelevel" or "plain"), guessed
    once from many of them."""
    sample = "".join(pieces)
    return (
        "sentencepiece"
        if "▁" in sample
        else "bytelevel"
        if "Ġ" in sample or "Ċ" in sample
        else "plain"
    )


def normalise_token(raw: str, scheme: str = "auto") -> str:
    """A tokenizer's spelling of one token → its text (word starts as a leading space).

    scheme: "bytelevel" (GPT-2, Llama 3, SmolLM), "sentencepiece" (Llama 2, Gemma),
    "plain" (already text) or "auto" (guess from the markers present).
    """
    if scheme == "auto":
        if "▁" in raw or _HEX_BYTE.fullmatch(raw):
            scheme = "sentencepiece"
        elif any(c in raw for c in "ĠĊĉ") or any(
            c in _byte_decoder() and ord(c) > 0xFF for c in raw
        ):
            scheme = "bytelevel"
        else:
            scheme = "plain"
    if scheme == "sentencepiece":
        match = _HEX_BYTE.fullmatch(raw)
        if match:
            return bytes([int(match.group(1), 16)]).decode("latin-1")
        return raw.replace("▁", " ")
    if scheme == "bytelevel":
        decoder = _byte_decoder()
        if all(c in decoder for c in raw):
            return bytes(decoder[c] for c in raw).decode("utf-8", "replace")
        return raw
    return raw


# ------------------------------------------------------------------ token tests


def token_key(text: str) -> str:
    """What a token equals: its text without the one leading space that marks a word start."""
    return text[1:] if text.startswith(" ") and len(text) > 1 else text


def literal_spelling(text: str) -> str:
    """The one spelling canonical programs give a token literal with this key: the key itself,
    or, when the key starts with a space (the literal had two), the key after one more."""
    key = token_key(text)
    return key if token_key(key) == key else " " + key


def _content(text: str) -> str:
    return text.strip()


def is_punct(text: str) -> bool:
    """Punctuation or symbols only (at least one), ignoring surrounding whitespace."""
    content = _content(text)
    return bool(content) and all(unicodedata.category(c)[0] in "PS" for c in content)


def is_alpha(text: str) -> bool:
    """Letters only (at least one), ignoring surrounding whitespace."""
    return _content(text).isalpha()


def is_digit(text: str) -> bool:
    """Digits only (at least one), ignoring surrounding whitespace."""
    return _content(text).isdigit()


def is_upper(text: str) -> bool:
    """Starts (after whitespace) with a capital letter."""
    return _content(text)[:1].isupper()


def is_space(text: str) -> bool:
    """Whitespace only: spaces, newlines."""
    return text.isspace()


def starts_word(text: str) -> bool:
    """Begins with whitespace and holds more than whitespace, as tokenizers mark word starts."""
    return text[:1].isspace() and not text.isspace()


def is_stop(text: str) -> bool:
    """A stop word from `STOP_WORDS`, in any case."""
    return _content(text).lower() in STOP_WORDS


TOKEN_TESTS: dict[str, Callable[[str], bool]] = {
    "is_punct": is_punct,
    "is_alpha": is_alpha,
    "is_digit": is_digit,
    "is_upper": is_upper,
    "is_space": is_space,
    "starts_word": starts_word,
    "is_stop": is_stop,
}


# ----------------------------------------------------------------- structure

#: Per-token layout properties that `structure` reads, in the order of `layout_flags`.
LAYOUT_FLAGS = (
    "lead_space",
    "trail_space",
    "all_space",
    "has_newline",
    "ends_sentence",
    "closer_only",
)


def layout_flags(text: str) -> tuple[bool, ...]:
    """The `LAYOUT_FLAGS` of one token text."""
    content = text.strip()
    bare = content.rstrip(CLOSERS)
    return (
        text[:1].isspace(),
        text[-1:].isspace(),
        text.isspace(),
        "\n" in text,
        bool(bare) and bare[-1] in SENTENCE_END,
        bool(content) and not bare,
    )


def structure(flags: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, ...]:
    """Word and sentence structure of one sequence.

    flags: bool [n, len(LAYOUT_FLAGS)]; keys: int64 [n], non-negative, equal where tokens
    are equal. Returns int64 arrays (word_of, word_start, sentence_start, prev_same), each
    [n]. Plain loops over arrays, so Numba can compile this same function for the kernels.
    """
    n = flags.shape[0]
    word_of = np.zeros(n, np.int64)
    word_start = np.zeros(n, np.int64)
    sentence_start = np.zeros(n, np.int64)
    prev_same = np.full(n, -1, np.int64)
    last = np.full(keys.max() + 1 if n else 1, -1, np.int64)
    word, start_w, start_s, pending = -1, 0, 0, False
    for i in range(n):
        lead, space, newline, ends, closer = (
            flags[i, 0],
            flags[i, 2],
            flags[i, 3],
            flags[i, 4],
            flags[i, 5],
        )
        after_space = i > 0 and flags[i - 1, 1]
        if i == 0 or lead or after_space:
            word += 1
            start_w = i
        word_of[i] = word
        word_start[i] = start_w
        glued = closer and not lead and not after_space  # a closing quote after the end
        if i > 0 and pending and not space and not glued:
            start_s = i
            pending = False
        sentence_start[i] = start_s
        if newline or ends:
            pending = True
        prev_same[i] = last[keys[i]]
        last[keys[i]] = i
    return word_of, word_start, sentence_start, prev_same


STRUCTURAL = ("word_of", "word_start", "sentence_start", "prev_same")


@dataclass(frozen=True)
class SequenceFeatures:
    """Everything a program can ask about one token sequence."""

    texts: tuple[str, ...]
    keys: tuple[str, ...]
    tests: dict[str, np.ndarray]
    word_of: np.ndarray
    word_start: np.ndarray
    sentence_start: np.ndarray
    prev_same: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


def sequence_features(texts: Sequence[str]) -> SequenceFeatures:
    """Token tests and structure of a sequence of token texts (already normalised)."""
    texts = tuple(texts)
    keys = tuple(token_key(t) for t in texts)
    key_ids: dict[str, int] = {}
    ids = np.array([key_ids.setdefault(k, len(key_ids)) for k in keys], np.int64)
    flags = np.array([layout_flags(t) for t in texts], bool).reshape(len(texts), len(LAYOUT_FLAGS))
    tests = {name: np.array([fn(t) for t in texts], bool) for name, fn in TOKEN_TESTS.items()}
    return SequenceFeatures(texts, keys, tests, *structure(flags, ids))


# ------------------------------------------------------------------ tokenising

_WORDS = re.compile(r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+""")


def split_words(text: str) -> list[str]:
    """Split text into word-like tokens with GPT-2's pre-tokenizer rule (no model needed)."""
    return _WORDS.findall(text)
