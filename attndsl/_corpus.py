"""Corpora: read documents, cut them into passages of whole sentences, split them held out.

A corpus file is plain text (documents separated by blank lines) or JSON Lines (one object
per line with a `text` field). Passages never cross a document, hold whole sentences and at
most `max_tokens` tokens (a longer sentence is cut, with a warning). The fit / select / test
splits are drawn per document with a seeded hash, so they are deterministic, never overlap,
and no document feeds two splits.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._errors import AttnDslError
from ._features import split_words

SPLITS = ("fit", "select", "test")
DEFAULT_FRACTIONS = (0.6, 0.2, 0.2)

_SENTENCE = re.compile(r"""[^\n.!?…]*(?:[.!?…]+["'”’)\]]*|\n+|$)\s*""")


class CorpusError(AttnDslError):
    """A corpus file that cannot be read as documents; the message names the line."""


@dataclass(frozen=True)
class Passage:
    """Consecutive whole sentences of one document."""

    document: int
    index: int
    text: str


def read_documents(path: str | Path) -> list[str]:
    """Documents from a `.jsonl` file (`text` field) or a plain text file (blank-line
    separated). Raises `CorpusError` naming the file and line for bad input."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read corpus: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})") from None
    if path.suffix in (".jsonl", ".json"):
        documents = _json_lines(text, path)
    else:
        documents = [d.strip() for d in re.split(r"\n\s*\n", text) if d.strip()]
    if not documents:
        raise CorpusError(f"{path}: the corpus holds no text")
    return documents


def _json_lines(text: str, path: Path) -> list[str]:
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path}:{number}: not JSON Lines: {exc.msg} at column "
                              f"{exc.colno}") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CorpusError(f'{path}:{number}: each line must be an object with a "text" '
                              "string")
        if record["text"].strip():
            documents.append(record["text"].strip())
    return documents


def sentences(document: str) -> list[str]:
    """The sentences of a document, each with its trailing whitespace (they join back)."""
    return [s for s in _SENTENCE.findall(document) if s]


def passages(documents: Sequence[str], max_tokens: int,
             count_tokens: Callable[[str], int] | None = None,
             cut: Callable[[str, int], str] | None = None) -> list[Passage]:
    """Whole sentences packed greedily into passages of at most `max_tokens` tokens.

    count_tokens: tokens in a text (word tokens when None; a model's tokenizer otherwise).
    cut: the longest prefix of a text within a token budget (for a sentence that alone is
    too long; it is cut with a warning).
    """
    count = count_tokens or (lambda text: len(split_words(text)))
    cut = cut or (lambda text, budget: "".join(split_words(text)[:budget]))
    found: list[Passage] = []
    cuts = 0
    for doc_index, document in enumerate(documents):
        current, size = "", 0
        for sentence in sentences(document):
            tokens = count(sentence)
            if tokens > max_tokens:
                sentence, tokens, cuts = cut(sentence, max_tokens), max_tokens, cuts + 1
            if current and size + tokens > max_tokens:
                found.append(Passage(doc_index, len(found), current.strip()))
                current, size = "", 0
            current, size = current + sentence, size + tokens
        if current.strip():
            found.append(Passage(doc_index, len(found), current.strip()))
    if cuts:
        warnings.warn(f"{cuts} sentence(s) longer than {max_tokens} tokens were cut",
                      stacklevel=2)
    return found


def split_of(document_text: str, seed: int,
             fractions: Sequence[float] = DEFAULT_FRACTIONS) -> str:
    """The split ("fit", "select" or "test") a document belongs to, from a seeded hash of
    its text (stable across runs, machines and corpus order)."""
    digest = hashlib.sha256(f"{seed}\0{document_text}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for name, fraction in zip(SPLITS, fractions):
        edge += fraction
        if position < edge:
            return name
    return SPLITS[-1]


def split_passages(documents: Sequence[str], found: Iterable[Passage], seed: int = 0,
                   fractions: Sequence[float] = DEFAULT_FRACTIONS) -> dict[str, list[Passage]]:
    """Passages grouped by the split of their document: {"fit": [...], "select": [...],
    "test": [...]}."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise CorpusError(f"split fractions must be three non-negative numbers summing to 1, "
                          f"not {tuple(fractions)}")
    names = [split_of(text, seed, fractions) for text in documents]
    result: dict[str, list[Passage]] = {name: [] for name in SPLITS}
    for passage in found:
        result[names[passage.document]].append(passage)
    return result
