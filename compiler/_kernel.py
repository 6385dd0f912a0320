"""`compile(program, backend)` → `Kernel`: the compiled pattern of a program over batches.

A kernel takes a ragged batch of token ids (or token texts) and the vocabulary's tables and
returns the normalised causal patterns as a padded float32 tensor [B, N, N], a ragged flat
buffer, or a stream of chunks whose size is bounded for any number and length of sentences.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
import torch

from ..lang import AttnDslError, Program
from . import _cache
from ._batch import Batch, ragged_offsets
from ._ir import Lowered
from ._lower import lower
from ._numba import emit_module
from ._ranges import prove_ranges
from ._vocab import Vocab, word_vocab

BACKENDS = ("auto", "numba", "torch")
DEFAULT_MAX_CELLS = 1 << 26  # 64 Mi entries (256 MiB of float32) per chunk


class CompileError(AttnDslError):
    """A program cannot be compiled for the backend asked for."""


@dataclass
class Kernel:
    """A compiled program. Call it on a batch: `kernel(batch, vocab)` → [B, N, N] float32."""

    program: Program
    backend: str
    lowered: Lowered
    compile_seconds: float
    source: str = ""
    fallback_reason: str | None = None
    _impl: object = field(default=None, repr=False)

    @property
    def vectorise_reason(self) -> str | None:
        """Why the torch backend cannot vectorise this program (None: it can)."""
        from ._torch_plan import reason

        return reason(self.lowered)

    def listing(self) -> str:
        """The code that runs: the Numba kernel module, or the lowered IR that the torch
        backend runs as broadcasting tensor code."""
        if self.backend == "numba":
            return self.source
        from ._numba import emit_block

        return "\n".join(
            [
                "# lowered IR, run as broadcasting tensor code (loops = dims)",
                *emit_block(self.lowered),
            ]
        )

    # ------------------------------------------------------------ running
    def __call__(
        self,
        batch: Batch | Sequence[Sequence[int]],
        vocab: Vocab,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        """Padded patterns [B, N, N] float32 (zeros outside each n×n block)."""
        batch = batch if isinstance(batch, Batch) else Batch.from_sequences(batch)
        return self._impl.padded(batch, vocab, device)  # type: ignore[attr-defined]

    def ragged(
        self,
        batch: Batch | Sequence[Sequence[int]],
        vocab: Vocab,
        device: str | torch.device | None = None,
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Patterns back to back in one flat float32 buffer, with int64 offsets [B + 1]
        (sequence b's n×n pattern is `flat[offsets[b]:offsets[b + 1]].view(n, n)`)."""
        batch = batch if isinstance(batch, Batch) else Batch.from_sequences(batch)
        return self._impl.ragged(batch, vocab, device), ragged_offsets(batch)  # type: ignore

    def chunks(
        self,
        batch: Batch | Sequence[Sequence[int]],
        vocab: Vocab,
        max_cells: int = DEFAULT_MAX_CELLS,
        device: str | torch.device | None = None,
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """(index of the first sequence, padded patterns) for consecutive sub-batches, each
        at most `max_cells` entries: memory stays bounded for any corpus."""
        batch = batch if isinstance(batch, Batch) else Batch.from_sequences(batch)
        for start, part in batch.chunks(max_cells):
            yield start, self(part, vocab, device)

    def on_tokens(
        self, sequences: Sequence[Sequence[str]], vocab: Vocab | None = None
    ) -> list[np.ndarray]:
        """Patterns of token-text sequences, one n×n float32 array each (a word vocabulary is
        built from the sequences when none is given)."""
        vocab = vocab or word_vocab(sequences)
        batch = Batch.from_sequences([vocab.encode(s) for s in sequences])
        flat, offsets = self.ragged(batch, vocab)
        values = flat.cpu().numpy()
        return [
            values[offsets[b] : offsets[b + 1]].reshape(n, n)
            for b, n in enumerate(batch.lengths.tolist())
        ]


class _NumbaImpl:
    """Runs an imported kernel module on ragged batches."""

    def __init__(self, module, lowered: Lowered) -> None:
        self.module, self.lowered = module, lowered

    def _tables(
        self, vocab: Vocab
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            vocab.key_class,
            vocab.lower_map,
            vocab.tests,
            vocab.layout,
            vocab.literal_classes(self.lowered.literals),
        )

    def _run(
        self, batch: Batch, vocab: Vocab, flat: np.ndarray, cells: np.ndarray, width: int
    ) -> None:
        from . import _runtime

        if len(batch):
            _runtime.run_batch(
                self.module.program,
                batch.ids,
                batch.offsets,
                flat,
                cells,
                width,
                *self._tables(vocab),
                self.module.USES_STRUCTURE,
                self.module.READS_OUT,
                8 * numba.get_num_threads(),
            )

    def padded(self, batch: Batch, vocab: Vocab, device) -> torch.Tensor:
        size = batch.max_length
        out = np.empty((len(batch), size, size), dtype=np.float32)
        cells = np.arange(len(batch) + 1, dtype=np.int64) * size * size
        self._run(batch, vocab, out.reshape(-1), cells, size)
        return torch.from_numpy(out).to(device) if device else torch.from_numpy(out)

    def ragged(self, batch: Batch, vocab: Vocab, device) -> torch.Tensor:
        cells = ragged_offsets(batch)
        flat = np.empty(int(cells[-1]), dtype=np.float32)
        self._run(batch, vocab, flat, cells, 0)
        return torch.from_numpy(flat).to(device) if device else torch.from_numpy(flat)


def _warm_numba(module, lowered: Lowered) -> None:
    """Compile the kernel (or load it from the cache) on a one-token batch."""
    vocab = Vocab.from_texts(("a",))
    impl = _NumbaImpl(module, lowered)
    batch = Batch.from_sequences([[0]])
    impl.padded(batch, vocab, None)


def _numba_module_path(program: Program, lowered: Lowered) -> tuple[Path, str]:
    source = emit_module(lowered)
    return _cache.module_path(program.id, source), source


def is_cached(front: LoweredProgram) -> bool:
    """Whether Numba's machine code for this program's kernel is already on disk."""
    path, _ = _numba_module_path(front.program, front.lowered)
    return any((path.parent / "__pycache__").glob(f"{path.stem}.*.nbi"))


def _build_numba(program: Program, lowered: Lowered) -> tuple[_NumbaImpl, str]:
    path, source = _numba_module_path(program, lowered)
    for attempt in (1, 2):
        try:
            module = _cache.import_module(path)  # compiles, or loads Numba's cached code
            _warm_numba(module, lowered)
            break
        except Exception:
            if attempt == 2:
                raise
            _cache.purge(path)  # cached machine code that does not load: rebuild it
    return _NumbaImpl(module, lowered), source


def compile(
    program: Program | str, backend: str = "auto", device: str | torch.device | None = None
) -> Kernel:
    """Compile a program (or its source text) into a batched kernel.

    backend: "numba" (every checked program, CPU), "torch" (programs whose loops carry no
    state, CPU or GPU), or "auto": torch when the kernel will run on a GPU (`device`, or
    CUDA is available when no device is given) and the program vectorises, else Numba, which
    is the faster of the two on a CPU. `Kernel.fallback_reason` says why torch was not used.
    """
    if backend not in BACKENDS:
        raise CompileError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if isinstance(program, str):
        program = Program.from_source(program)
    start = time.perf_counter()
    return build(lowered_program(program), backend, device, start)


@dataclass(frozen=True)
class LoweredProgram:
    """A canonical program and its IR, ranges proven: what every backend starts from."""

    program: Program
    lowered: Lowered


def lowered_program(program: Program) -> LoweredProgram:
    """Lower a program's canonical form and prove its positions' ranges (once per compile)."""
    canonical = program.canonical
    return LoweredProgram(canonical, prove_ranges(lower(canonical.checked, canonical.id)))


def build(
    front: LoweredProgram,
    backend: str = "auto",
    device: str | torch.device | None = None,
    start: float | None = None,
) -> Kernel:
    """The kernel of a lowered program (`compile` after lowering; `start`: when compiling
    began, for `Kernel.compile_seconds`)."""
    start = time.perf_counter() if start is None else start
    canonical, lowered = front.program, front.lowered
    reason = None
    on_gpu = torch.device(device).type == "cuda" if device else torch.cuda.is_available()
    if backend == "auto" and not on_gpu:
        reason = "no GPU: Numba is faster than torch on the CPU"
    elif backend in ("torch", "auto"):
        from ._torch import TorchImpl
        from ._torch_plan import Refused, plan

        try:
            impl = TorchImpl(lowered, plan(lowered))
        except Refused as refused:
            reason = str(refused)
        else:
            return Kernel(
                canonical,
                "torch",
                lowered,
                time.perf_counter() - start,
                impl.describe(),
                None,
                impl,
            )
        if backend == "torch":
            raise CompileError(f"the torch backend cannot vectorise this program: {reason}")
    impl, source = _build_numba(canonical, lowered)
    return Kernel(canonical, "numba", lowered, time.perf_counter() - start, source, reason, impl)
