"""Ragged batches of token-id sequences: one flat int32 id array plus int64 offsets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

MAX_LENGTH = 4096


@dataclass(frozen=True)
class Batch:
    """B sequences: sequence b is `ids[offsets[b]:offsets[b + 1]]`."""

    ids: np.ndarray  # int32 [total]
    offsets: np.ndarray  # int64 [B + 1]

    @staticmethod
    def from_sequences(sequences: Sequence[Sequence[int] | np.ndarray]) -> Batch:
        """Pack id sequences (lists or arrays) into one ragged batch."""
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        if lengths.size and lengths.max() > MAX_LENGTH:
            longest = int(lengths.argmax())
            raise ValueError(
                f"sequence {longest} has {lengths.max()} tokens; the kernels take "
                f"at most {MAX_LENGTH}"
            )
        offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ids = (
            np.concatenate([np.asarray(s, dtype=np.int32) for s in sequences])
            if len(sequences)
            else np.zeros(0, np.int32)
        )
        return Batch(ids.astype(np.int32, copy=False), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def max_length(self) -> int:
        return int(self.lengths.max()) if len(self) else 0

    def sequence(self, b: int) -> np.ndarray:
        return self.ids[self.offsets[b] : self.offsets[b + 1]]

    def select(self, start: int, stop: int) -> Batch:
        """Sequences start..stop-1 as their own batch."""
        base = self.offsets[start]
        return Batch(self.ids[base : self.offsets[stop]], self.offsets[start : stop + 1] - base)

    def chunks(self, max_cells: int) -> Iterator[tuple[int, Batch]]:
        """Consecutive sub-batches whose padded [b, N, N] output has at most `max_cells`
        entries (always at least one sequence), with the index of their first sequence."""
        start, lengths = 0, self.lengths
        while start < len(self):
            stop, longest = start, 0
            while stop < len(self):
                longest = max(longest, int(lengths[stop]))
                if stop > start and (stop - start + 1) * longest * longest > max_cells:
                    break
                stop += 1
            yield start, self.select(start, stop)
            start = stop


def ragged_offsets(batch: Batch) -> np.ndarray:
    """Offsets into a ragged buffer holding each sequence's n×n pattern back to back."""
    sizes = batch.lengths**2
    offsets = np.zeros(len(batch) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return offsets
