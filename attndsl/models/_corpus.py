"""Corpora: read documents, cut them into passages of whole sentences, split them held out.

A corpus is a plain text file (documents separated by blank lines), a JSON Lines file (one
object per line with a `text` field), or a Hugging Face dataset (`hf:NAME[:SPLIT]` from the
hub, or a folder written by `save_to_disk`; needs the `hf` extra). A passage is one sentence
(the paper's unit, and the default), or with `pack` consecutive whole sentences of one
document; either way at most `max_tokens` tokens (counted in words, or by a model's tokenizer
with `token_counter`; a longer sentence is cut, with a warning). The
fit / select / test splits are drawn per document with a seeded hash, so they are
deterministic, never overlap, and no document feeds two splits.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..lang import AttnDslError, split_words

SPLITS = ("fit", "select", "test")
T = TypeVar("T")
DEFAULT_FRACTIONS = (0.6, 0.2, 0.2)

_QUOTES = ('"', "'", "”", "’")
_SENTENCE = re.compile(r"""[^\n.!?…]*(?:[.!?…]+["'”’)\]]*|\n+|$)\s*""")


class CorpusError(AttnDslError):
    """A corpus file that cannot be read as documents; the message names the line."""


@dataclass(frozen=True)
class Passage:
    """One sentence, or consecutive whole sentences of one document."""

    document: int
    index: int
    text: str


def read_documents(path: str | Path, text_field: str = "text") -> list[str]:
    """Documents from a `.jsonl` file (`text_field` of each object), a plain text file
    (blank-line separated), or a Hugging Face dataset (`hf:NAME`, `hf:NAME:SPLIT`, or a folder
    saved with `save_to_disk`; its `text_field` column). Raises `CorpusError` naming the file
    and line for bad input."""
    if str(path).startswith("hf:"):
        return _dataset_documents(str(path), str(path)[3:], text_field)
    path = Path(path)
    if path.is_dir():
        return _dataset_documents(str(path), str(path), text_field)
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
        documents = _json_lines(text, path, text_field)
    else:
        documents = [d.strip() for d in re.split(r"\n\s*\n", text) if d.strip()]
    if not documents:
        raise CorpusError(f"{path}: the corpus holds no text")
    return documents


def _json_lines(text: str, path: Path, field: str) -> list[str]:
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(
                f"{path}:{number}: not JSON Lines: {exc.msg} at column {exc.colno}"
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get(field), str):
            raise CorpusError(
                f'{path}:{number}: each line must be an object with a "{field}" string'
            )
        if record[field].strip():
            documents.append(record[field].strip())
    return documents


def _dataset_documents(spec: str, source: str, field: str) -> list[str]:
    """The `field` column of a Hugging Face dataset: `source` is `NAME[:SPLIT]` (a folder
    saved with `save_to_disk`, else a hub name)."""
    try:
        import datasets
    except ImportError:
        raise CorpusError(
            f"{spec}: reading a Hugging Face dataset needs the datasets "
            "package: pip install 'attndsl[hf]'"
        ) from None
    name, split = source, ""
    if ":" in source and not Path(source).is_dir():
        name, split = source.split(":", 1)
    if Path(name).is_dir():
        try:
            data = datasets.load_from_disk(name)
        except (OSError, ValueError) as exc:
            raise CorpusError(
                f"{name}: not a dataset folder written by datasets' save_to_disk ({exc})"
            ) from None
    else:
        try:
            data = datasets.load_dataset(name, split=split or "train")
        except Exception as exc:
            raise CorpusError(
                f"{spec}: could not reach the Hugging Face dataset '{name}' "
                f"({type(exc).__name__}: {exc}); with no network, use a local "
                "corpus: a .jsonl or .txt file, or a folder written by "
                "datasets' save_to_disk"
            ) from None
    if isinstance(data, datasets.DatasetDict):
        splits = [str(name) for name in data]
        chosen = split or (
            "train" if "train" in splits else splits[0] if len(splits) == 1 else None
        )
        if chosen not in splits:
            raise CorpusError(
                f"{spec}: choose a split with {spec}:SPLIT; the dataset has {', '.join(splits)}"
            )
        data = data[chosen]
    if field not in data.column_names:
        raise CorpusError(
            f"{spec}: the dataset has no '{field}' column (it has "
            f"{', '.join(data.column_names)}); name one with --text-field"
        )
    documents = []
    for row, value in enumerate(data[field]):
        if not isinstance(value, str):
            raise CorpusError(f"{spec}: row {row}: '{field}' is {type(value).__name__}, not text")
        if value.strip():
            documents.append(value.strip())
    if not documents:
        raise CorpusError(f"{spec}: the corpus holds no text")
    return documents


def token_counter(tokenizer: Any) -> tuple[Callable[[str], int], Callable[[str, int], str]]:
    """`count_tokens` and `cut` for `passages` by a model's tokenizer (its special tokens,
    such as a BOS, are not counted: leave room for them in `max_tokens`)."""

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def cut(text: str, budget: int) -> str:
        try:
            spans = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)[
                "offset_mapping"
            ]
        except NotImplementedError:  # a slow tokenizer: decode the first ids
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            return tokenizer.decode(ids[:budget])
        return text[: spans[budget - 1][1]] if budget > 0 and spans else ""

    return count, cut


def split_sentences(document: str) -> list[str]:
    """The sentences of a document, each with its trailing whitespace (they join back).

    A piece that starts with a lowercase letter right after a closing quotation mark, on
    the same line, continues the sentence: `"Hi!" said Tom.` is one sentence."""
    found: list[str] = []
    for piece in _SENTENCE.findall(document):
        if (
            found
            and piece[:1].islower()
            and found[-1].rstrip(" ").endswith(_QUOTES)
            and not found[-1].endswith("\n")
        ):
            found[-1] += piece
        elif piece:
            found.append(piece)
    return found


def passages(
    documents: Sequence[str],
    max_tokens: int,
    count_tokens: Callable[[str], int] | None = None,
    cut: Callable[[str, int], str] | None = None,
    pack: bool = False,
) -> list[Passage]:
    """Each sentence its own passage, or with `pack` whole sentences packed greedily into
    passages of at most `max_tokens` tokens.

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
        for sentence in split_sentences(document):
            tokens = count(sentence)
            if tokens > max_tokens:
                sentence, tokens, cuts = cut(sentence, max_tokens), max_tokens, cuts + 1
            if current.strip() and (not pack or size + tokens > max_tokens):
                found.append(Passage(doc_index, len(found), current.strip()))
                current, size = "", 0
            current, size = current + sentence, size + tokens
        if current.strip():
            found.append(Passage(doc_index, len(found), current.strip()))
    if cuts:
        warnings.warn(f"{cuts} sentence(s) longer than {max_tokens} tokens were cut", stacklevel=2)
    return found


def spread(items: Sequence[T], count: int | None) -> list[T]:
    """At most `count` of the items, evenly spaced, first and last included (all of them
    when there are fewer, or when `count` is None or 0)."""
    chosen = list(items)
    if not count or len(chosen) <= count:
        return chosen
    if count == 1:
        return chosen[:1]
    return [chosen[round(k * (len(chosen) - 1) / (count - 1))] for k in range(count)]


def split_of(document_text: str, seed: int, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> str:
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


def split_passages(
    documents: Sequence[str],
    found: Iterable[Passage],
    seed: int = 0,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
) -> dict[str, list[Passage]]:
    """Passages grouped by the split of their document: {"fit": [...], "select": [...],
    "test": [...]}."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise CorpusError(
            f"split fractions must be three non-negative numbers summing to 1, "
            f"not {tuple(fractions)}"
        )
    names = [split_of(text, seed, fractions) for text in documents]
    result: dict[str, list[Passage]] = {name: [] for name in SPLITS}
    for passage in found:
        result[names[passage.document]].append(passage)
    return result


def split_texts(
    corpus: str | Path | None,
    model: str,
    tokenizer: Any,
    max_tokens: int,
    seed: int = 0,
    text_field: str = "text",
    pack: bool = False,
) -> dict[str, list[str]]:
    """Each split's passages of `corpus` (None: the shipped stories): sentences (or with
    `pack`, sentences packed together), counted by `model`'s tokenizer so that each fits
    `max_tokens` and the model's context."""
    from ._registry import passage_budget
    from ._sample import CORPUS_FILE

    documents = read_documents(corpus or CORPUS_FILE, text_field)
    count, cut = token_counter(tokenizer)
    budget = passage_budget(model, tokenizer, max_tokens)
    found = passages(documents, budget, count_tokens=count, cut=cut, pack=pack)
    return {
        name: [p.text for p in chosen]
        for name, chosen in split_passages(documents, found, seed=seed).items()
    }
