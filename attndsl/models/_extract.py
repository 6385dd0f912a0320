"""Attention extraction: every head's attention on every passage, in a resumable disk cache.

Layout of a cache folder:

- `manifest.json`: format version, model facts and fingerprint, corpus fingerprint, dtype;
  a cache whose manifest does not match the request is refused, never silently reused;
- `attention.f16`: for each passage, every layer and head's lower triangle (the causal part,
  n(n+1)/2 entries per head) as float16, passage after passage;
- `index.jsonl`: one line per passage, written after its data: token ids and pieces, the
  byte offset and length of its data, and a CRC-32 that every read checks.

An interrupted extraction resumes after the last passage in the index (any bytes written
after it are dropped). Passages are run in batches of about the same length (little
padding), a window of `WINDOW_BATCHES` batches at a time, and written in passage order; memory
holds one window's attention.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import CorruptLine, read_jsonl
from ..lang import AttnDslError, normalise_token, spelling_scheme
from ._tokens import encode, padded

FORMAT_VERSION = 1
DTYPE = np.float16


class CacheError(AttnDslError):
    """An attention cache that is missing, corrupt, or made for another model or corpus."""


def fingerprint(items: Sequence[Any]) -> str:
    """A short content hash of JSON-serialisable items."""
    return hashlib.sha256(json.dumps(list(items), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Record:
    """One passage in the cache."""

    index: int
    ids: tuple[int, ...]
    pieces: tuple[str, ...]  # the tokenizer's spelling of each token
    offset: int
    nbytes: int
    crc: int

    @property
    def n(self) -> int:
        return len(self.ids)


def _triangle(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(n)


class AttentionCache:
    """Read access to an extraction folder: passages, and attention per passage."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        try:
            self.manifest = json.loads((self.folder / "manifest.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CacheError(f"{self.folder}: not an attention cache ({exc})") from None
        if self.manifest.get("version") != FORMAT_VERSION:
            raise CacheError(
                f"{self.folder}: cache format {self.manifest.get('version')}, "
                f"this attndsl reads {FORMAT_VERSION}; extract again"
            )
        self.layers, self.heads = self.manifest["layers"], self.manifest["heads"]
        self.records = _read_index(self.folder / "index.jsonl")

    def __len__(self) -> int:
        return len(self.records)

    @functools.cached_property
    def scheme(self) -> str:
        """How the tokenizer spells word starts (`spelling_scheme` over every passage)."""
        return spelling_scheme(p for record in self.records for p in record.pieces)

    def passage_ids(self) -> list[tuple[int, ...]]:
        """Every passage's token ids, in passage order (as extracted: cut to `max_tokens`)."""
        return [record.ids for record in self.records]

    def tokens(self, passage: int) -> list[str]:
        """The token texts of a passage, as programs see them."""
        return [normalise_token(p, self.scheme) for p in self.records[passage].pieces]

    def attention(self, passage: int) -> np.ndarray:
        """Attention of every head on a passage: float32 [layers, heads, n, n]."""
        record = self.records[passage]
        with open(self.folder / "attention.f16", "rb") as handle:
            handle.seek(record.offset)
            data = handle.read(record.nbytes)
        if len(data) != record.nbytes or zlib.crc32(data) != record.crc:
            raise CacheError(
                f"{self.folder}: passage {passage} fails its checksum; the cache "
                "is corrupt, extract again"
            )
        n = record.n
        lower = np.frombuffer(data, dtype=DTYPE).reshape(self.layers, self.heads, -1)
        full = np.zeros((self.layers, self.heads, n, n), dtype=np.float32)
        rows, cols = _triangle(n)
        full[:, :, rows, cols] = lower
        return full


def _read_index(path: Path) -> list[Record]:
    """The index's records. A last line cut short by a crash is left out (that passage is
    extracted again); a corrupt line anywhere else is a CacheError."""
    try:
        entries = read_jsonl(path, repair=False)
    except CorruptLine as exc:
        raise CacheError(f"{exc} in the index; remove the folder to extract again") from None
    records: list[Record] = []
    for number, entry in enumerate(entries, start=1):
        try:
            records.append(
                Record(
                    entry["index"],
                    tuple(entry["ids"]),
                    tuple(entry["pieces"]),
                    entry["offset"],
                    entry["nbytes"],
                    entry["crc"],
                )
            )
        except (KeyError, TypeError):
            raise CacheError(f"{path}:{number}: corrupt index line") from None
    return records


#: batches of passages sorted by length together, then written in passage order
WINDOW_BATCHES = 8


def extract(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    folder: str | Path,
    model_name: str,
    max_tokens: int = 128,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> AttentionCache:
    """Run `model` (eager attention) on `texts` and store every head's attention in
    `folder`, resuming an earlier run with the same model and texts."""

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = model.config
    shape = {"layers": config.num_hidden_layers, "heads": config.num_attention_heads}
    manifest = {
        "version": FORMAT_VERSION,
        "model": model_name,
        **shape,
        "model_fingerprint": fingerprint([model_name, config.to_json_string()]),
        "corpus_fingerprint": fingerprint(texts),
        "max_tokens": max_tokens,
        "dtype": "float16",
        "passages": len(texts),
    }
    _check_or_write_manifest(folder / "manifest.json", manifest)
    index_path = folder / "index.jsonl"
    done = _read_index(index_path)
    if index_path.is_file():  # keep only whole lines: a crash may have cut the last one
        kept = index_path.read_text().splitlines()[: len(done)]
        index_path.write_text("".join(line + "\n" for line in kept))
    data_path = folder / "attention.f16"
    offset = done[-1].offset + done[-1].nbytes if done else 0
    with open(data_path, "ab") as handle:
        handle.truncate(offset)  # drop bytes of a passage the index never recorded
    encoded = encode(tokenizer, texts, max_tokens)
    todo = list(range(len(done), len(texts)))
    window = batch_size * WINDOW_BATCHES
    with open(data_path, "ab") as data, open(index_path, "a") as index:
        for start in range(0, len(todo), window):
            chosen = todo[start : start + window]
            payloads = _attention_payloads(model, [encoded[i] for i in chosen], batch_size)
            for payload in payloads:  # in passage order, as the index is
                data.write(payload)
            data.flush()
            os.fsync(data.fileno())  # the data is on disk before the index names it
            for i, payload in zip(chosen, payloads):
                entry = {
                    "index": i,
                    "ids": encoded[i],
                    "pieces": tokenizer.convert_ids_to_tokens(encoded[i]),
                    "offset": offset,
                    "nbytes": len(payload),
                    "crc": zlib.crc32(payload),
                }
                index.write(json.dumps(entry) + "\n")
                offset += len(payload)
            index.flush()
            if progress:
                progress(len(done) + start + len(chosen), len(texts))
    return AttentionCache(folder)


def _attention_payloads(model: Any, passages: list[list[int]], batch_size: int) -> list[bytes]:
    """Every head's attention on each passage (its lower triangle, float16 bytes), run in
    batches of passages of about the same length (longest first), so little is padding."""
    import torch

    by_length = sorted(range(len(passages)), key=lambda k: len(passages[k]), reverse=True)
    found: list[bytes] = [b""] * len(passages)
    for start in range(0, len(by_length), batch_size):
        batch = by_length[start : start + batch_size]
        ids, mask = padded([passages[k] for k in batch])
        with torch.inference_mode():
            out = model(input_ids=ids, attention_mask=mask, output_attentions=True)
        stacked = torch.stack(out.attentions, dim=1)  # [B, layers, heads, T, T]
        for row, k in enumerate(batch):
            n = len(passages[k])
            rows, cols = _triangle(n)
            lower = stacked[row, :, :, :n, :n].numpy()[:, :, rows, cols].astype(DTYPE)
            found[k] = lower.tobytes()
    return found


def _check_or_write_manifest(path: Path, manifest: dict) -> None:
    if path.is_file():
        try:
            found = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise CacheError(
                f"{path}: corrupt manifest; remove the folder to extract again"
            ) from None
        for key in ("version", "model_fingerprint", "corpus_fingerprint", "max_tokens"):
            if found.get(key) != manifest[key]:
                raise CacheError(
                    f"{path.parent}: holds attention for another {key.split('_')[0]}"
                    f" ({found.get(key)} ≠ {manifest[key]}); use another folder "
                    "or remove this one"
                )
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, path)
