"""Kernel throughput benchmark: matrices per second and GB/s written, per program and backend.

Backends measured on the same batches, at each of `lengths`: the corpus's single sentences
(`sentences`, as the pipeline extracts them) and windows of N word tokens (128 and 1,024 by
default; fewer windows as they grow, so a batch holds about as many cells as 256 windows of
128), from a corpus of stories (`$ATTNDSL_BENCH_CORPUS`, a text or JSON Lines file, else the
shipped stories, `attndsl/models/data/stories.jsonl`). Every row records its batch's padded
length (`tokens`) and `unit` (`sentence` or `window`):

- `interpreter`: `program(tokens)`, the reference interpreter, on a sample of the sentences;
- `cpython`: the canonical program text run as plain Python over a NumPy shim of the
  builtins, then `normalise`, on a sample of the sentences;
- `numba`: the `compile(p, "numba")` kernel on the whole batch → padded float32 [B, N, N];
  beyond `REFERENCE_TOKENS` tokens the interpreter and CPython are not timed, and the
  other backends are checked against Numba's output instead;
- `torch`: the `compile(p, "torch")` kernel (CPU; CUDA too when present), when it vectorises;
- `floor`: a Numba kernel that only writes the same padded output (uniform causal pattern).

Rates come from the fastest call (see `best_seconds`) after a warm-up call. GB/s counts the
padded float32 output (N·N·4 bytes a matrix) for every backend, so the columns compare
directly; at 256 × 128 tokens that output (16 MiB) may fit in the last-level cache.

Compile times (numba only), measured in subprocesses:

- `compile_s`: wall time of `compile(p, "numba")` (canonicalise, lower, emit, Numba JIT,
  write the cache) in a fresh process whose kernel cache (`ATTNDSL_CACHE`, a new temporary
  folder) holds nothing for the program. Before it, the process loads a small *primer*
  kernel from the machine's usual (warm) kernel cache, so Numba's one-time start-up is not
  counted. What may be warm:
  Numba's machine code for the shared runtime helpers (`compiler/_runtime.py`, cached beside
  the package) and the OS file cache.
- `cached_load_s`: wall time of `compile(p, "numba")` in another fresh process with the same
  (now filled) cache folder, after the primer was loaded in that process.
- `summary.numba_startup_s`: the primer's load in a fresh process (import of the compiler
  already done): Numba's one-time start-up that the two figures above exclude.
  `summary.compiler_import_s`: `import attndsl.compiler` (torch, Numba) in a fresh process.
  Both are medians over the worker processes.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from numba import njit, prange

from .._io import cache_root
from ..compiler import Batch, Vocab, compile, word_vocab
from ..lang import (
    STRUCTURAL,
    TOKEN_TESTS,
    Program,
    library,
    load,
    semantics,
    sequence_features,
    split_words,
)
from ..models import CORPUS_FILE, read_documents, split_sentences
from ._kernels_report import (
    CPYTHON_SAMPLE,
    INTERPRETER_SAMPLE,
    MIN_ROUND_S,
    load_average,
    machine_record,
    report,
    summarise_rows,
)

# A kernel no library program shares (its own id): loaded first in each compile-time worker.
PRIMER = '''def head(tokens):
    """Benchmark primer: loaded first so Numba's one-time start-up is timed apart."""
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        out[i, i] = 0.25
    return out
'''


# --------------------------------------------------------------------------- corpus


def _corpus_path() -> Path:
    """`$ATTNDSL_BENCH_CORPUS` (a text or JSON Lines file), else the shipped stories."""
    return Path(os.environ.get("ATTNDSL_BENCH_CORPUS") or CORPUS_FILE)


#: `lengths` entry for the corpus's single sentences (other entries: window lengths)
SENTENCES = "sentences"
#: the longest batches the interpreter and plain CPython are timed and checked on
REFERENCE_TOKENS = 128


def load_corpus(sentences: int, length: int) -> tuple[list[list[str]], str]:
    """`sentences` windows of exactly `length` word tokens, and a line saying where from.

    Stories are joined with newlines and split with `split_words`; the token stream is cycled
    when it is too short.
    """
    path = _corpus_path()
    needed = sentences * length
    texts = read_documents(path)
    tokens = split_words("\n".join(texts))
    if not tokens:
        raise ValueError(f"no tokens in {path}")
    source = f"{path} ({len(texts)} stories, {len(tokens)} tokens)"
    if len(tokens) < needed:
        source += f", cycled to {needed}"
    stream = tokens * (needed // len(tokens) + 1)
    return [stream[b * length : (b + 1) * length] for b in range(sentences)], source


def load_sentences(count: int) -> list[list[str]]:
    """The word tokens of the corpus's first `count` sentences (cycled when too few)."""
    path = _corpus_path()
    found = [
        tokens
        for text in read_documents(path)
        for sentence in split_sentences(text)
        if (tokens := split_words(sentence.strip()))
    ]
    if not found:
        raise ValueError(f"no sentences in {path}")
    return (found * (count // len(found) + 1))[:count]


def batch_texts(length: int | str, sentences: int) -> list[list[str]]:
    """The benchmark's batch at one of `lengths`: `sentences` single sentences, or windows of
    `length` tokens, as many as hold about `sentences` windows of 128 tokens' cells."""
    if length == SENTENCES:
        return load_sentences(sentences)
    size = int(length)
    count = max(1, sentences * 128 * 128 // (size * size)) if size > 128 else sentences
    return load_corpus(count, size)[0]


# --------------------------------------------------------------------------- timing


def _calls_per_round(fn: Callable[[], object]) -> int:
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    return max(1, math.ceil(MIN_ROUND_S / first)) if first > 0 else 1


def best_seconds(fns: Sequence[Callable[[], object]], repeat: int) -> list[float]:
    """Fastest single call of each function, over `repeat` rounds (a round repeats the call
    until it lasts `MIN_ROUND_S`). Rounds take the functions in turn, and the minimum (not
    the mean) is kept, so that other work on the machine, which only ever slows a call down,
    disturbs the figures and their ratios as little as possible."""
    calls = [_calls_per_round(fn) for fn in fns]
    best = [math.inf] * len(fns)
    for _ in range(max(1, repeat)):
        for k, fn in enumerate(fns):
            for _ in range(calls[k]):
                start = time.perf_counter()
                fn()
                best[k] = min(best[k], time.perf_counter() - start)
    return best


def _row(
    program: str, backend: str, matrices: int, seconds: float, size: int, **extra: object
) -> dict:
    rate = matrices / seconds
    row = {
        "program": program,
        "backend": backend,
        "device": "cpu",
        "tokens": size,
        "matrices_per_s": rate,
        "gb_per_s": rate * size * size * 4 / 1e9,
        "compile_s": None,
        "cached_load_s": None,
        "sentences_timed": matrices,
    }
    row.update(extra)
    return row


def _unpadded(padded: torch.Tensor, batch: Batch) -> Iterator[np.ndarray]:
    values = padded.detach().cpu().numpy()
    for b, n in enumerate(batch.lengths.tolist()):
        yield values[b, :n, :n]


def _matches(padded: torch.Tensor, reference: Sequence[np.ndarray]) -> bool:
    values = padded.detach().cpu().numpy()
    return all(
        np.allclose(values[b, : len(r), : len(r)], r, atol=1e-5) for b, r in enumerate(reference)
    )


# --------------------------------------------------------------------------- plain CPython

# The `cpython` baseline runs a program's canonical text with Python's own compile()/exec, the
# way the paper runs its programs (the language is a subset of Python). It only ever runs our
# own checked library programs (trusted code, or programs a caller passes in after checking),
# never text written by a language model. Differences from the language that do not matter
# for a throughput baseline: negative indices wrap around as in Python/NumPy, an index past
# the end raises, token equality compares raw texts (" the" != "the"), min/max/abs/`/` are
# Python's. A program that raises is skipped with its reason.


def _position_lookup(values: list[int], n: int) -> Callable[[int], int]:
    def lookup(i: int) -> int:
        return values[i] if 0 <= i < n else -1

    return lookup


def _shim_namespace() -> dict:
    """Globals for exec: the language's builtins over token strings and NumPy."""
    safe = {"range": range, "len": len, "min": min, "max": max, "abs": abs}
    namespace: dict = {
        "__builtins__": safe,
        "zeros": lambda rows, cols: np.zeros((rows, cols)),
        "exp": semantics.exp,
        "log": semantics.log,
        "sqrt": semantics.sqrt,
        "lower": str.lower,
    }
    namespace.update(TOKEN_TESTS)
    return namespace


def cpython_function(program: Program) -> Callable[[Sequence[str]], np.ndarray]:
    """The program as plain CPython: tokens (strings) → normalised pattern (float64)."""
    tree = ast.parse(program.text)
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    structural = [name for name in STRUCTURAL if name in names]
    namespace = _shim_namespace()
    exec(builtins.compile(tree, f"<cpython {program.name}>", "exec"), namespace)  # trusted
    function = namespace[program.canonical.function.name]

    def run(tokens: Sequence[str]) -> np.ndarray:
        if structural:
            features = sequence_features(tokens)
            for name in structural:
                namespace[name] = _position_lookup(getattr(features, name).tolist(), len(tokens))
        return semantics.normalise(function(list(tokens)))

    return run


# --------------------------------------------------------------------------- floor


@njit(parallel=True, cache=True)
def _floor_fill(offsets, out):  # pragma: no cover - compiled by Numba
    """Write every entry of out [B, N, N]: uniform causal rows for i < n, zeros elsewhere."""
    size = out.shape[1]
    for b in prange(out.shape[0]):
        n = offsets[b + 1] - offsets[b]
        for i in range(size):
            stop = i + 1 if i < n else 0
            share = np.float32(1.0 / (i + 1))
            for j in range(stop):
                out[b, i, j] = share
            for j in range(stop, size):
                out[b, i, j] = np.float32(0.0)


def floor_kernel(batch: Batch) -> torch.Tensor:
    """The floor: allocate and fill the same padded float32 output a kernel returns."""
    size = batch.max_length
    out = np.empty((len(batch), size, size), dtype=np.float32)
    _floor_fill(batch.offsets, out)
    return torch.from_numpy(out)


# --------------------------------------------------------------------------- compile times


@contextlib.contextmanager
def _cache_env(path: str | Path) -> Iterator[None]:
    """Point the kernel cache (`ATTNDSL_CACHE`) at `path` for the block."""
    old = os.environ.get("ATTNDSL_CACHE")
    os.environ["ATTNDSL_CACHE"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("ATTNDSL_CACHE", None)
        else:
            os.environ["ATTNDSL_CACHE"] = old


_WORKER = (
    "import sys, time; started = time.perf_counter(); "
    "from attndsl.bench import _kernels; _kernels.worker_main(started)"
)


def worker_main(started: float) -> None:
    """Entry of a compile-time worker process: argv[1] = the primer's cache folder, stdin =
    JSON {name: source}; prints the `_worker` result as one JSON line."""
    import_s = time.perf_counter() - started
    result = _worker(sys.argv[1], json.loads(sys.stdin.read()))
    print(json.dumps({"import_s": import_s, **result}))


def _worker(primer_cache: str, sources: Mapping[str, str]) -> dict:
    """In a fresh process: load the primer, then time `compile` of each program."""
    target = os.environ["ATTNDSL_CACHE"]
    with _cache_env(primer_cache):
        start = time.perf_counter()
        compile(PRIMER, "numba")
        startup_s = time.perf_counter() - start
    seconds: dict[str, float] = {}
    errors: dict[str, str] = {}
    with _cache_env(target):
        for name, source in sources.items():
            program = load(source)
            start = time.perf_counter()
            try:
                compile(program, "numba")
            except Exception as exc:  # recorded, the row is skipped
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            seconds[name] = time.perf_counter() - start
    return {"startup_s": startup_s, "seconds": seconds, "errors": errors}


def _spawn(cache: Path, primer_cache: Path, sources: Mapping[str, str]) -> dict:
    env = dict(os.environ, ATTNDSL_CACHE=str(cache))
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, str(primer_cache)],
        input=json.dumps(dict(sources)),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {
            "import_s": None,
            "startup_s": None,
            "seconds": {},
            "errors": {name: f"worker failed: {reason}" for name in sources},
        }
    return json.loads(lines[-1])


def compile_times(programs: Mapping[str, Program], workdir: Path) -> dict:
    """First compile (one fresh process each, cold cache) and cached load (one process)."""
    cache = workdir / "cache"
    primer_cache = cache_root()  # the machine's kernel cache: warm after one run
    compile(PRIMER, "numba")  # fills the primer's cache (and warms Numba here)
    sources = {name: program.source for name, program in programs.items()}
    cold = [_spawn(cache, primer_cache, {name: source}) for name, source in sources.items()]
    cached = _spawn(cache, primer_cache, sources)
    first = {name: s for run in cold for name, s in run["seconds"].items()}
    errors = {name: e for run in [*cold, cached] for name, e in run["errors"].items()}
    startups = [run["startup_s"] for run in [*cold, cached] if run["startup_s"] is not None]
    imports = [run["import_s"] for run in [*cold, cached] if run["import_s"] is not None]
    return {
        "first": first,
        "cached": cached["seconds"],
        "errors": errors,
        "startup_s": statistics.median(startups) if startups else None,
        "import_s": statistics.median(imports) if imports else None,
        "cache": cache,
    }


# --------------------------------------------------------------------------- throughput


class _Bench:
    """Shared inputs of one benchmark batch."""

    def __init__(self, sentences: list[list[str]], repeat: int, unit: str) -> None:
        self.sentences = sentences
        self.repeat = repeat
        self.vocab: Vocab = word_vocab(sentences)
        self.batch = Batch.from_sequences([self.vocab.encode(s) for s in sentences])
        self.size = self.batch.max_length
        self.unit = unit  # "sentence" or "window"
        self.with_reference = self.size <= REFERENCE_TOKENS  # time interpreter and CPython
        self.skipped: list[dict] = []

    def skip(self, program: str, backend: str, reason: str, device: str = "cpu") -> None:
        self.skipped.append(
            {"program": program, "backend": backend, "device": device, "reason": reason}
        )

    def per_sentence(
        self, name: str, backend: str, fn: Callable[[Sequence[str]], object], sample: int
    ) -> tuple[dict | None, list]:
        """Rate of a one-sentence function over the first `sample` sentences."""
        part = self.sentences[:sample]
        try:
            outputs = [fn(tokens) for tokens in part]
        except Exception as exc:  # the row is skipped, with the reason
            self.skip(name, backend, f"{type(exc).__name__}: {exc}")
            return None, []
        (seconds,) = best_seconds([lambda: [fn(tokens) for tokens in part]], self.repeat)
        return self.row(name, backend, len(part), seconds), outputs

    def row(self, name: str, backend: str, matrices: int, seconds: float, **extra) -> dict:
        return _row(name, backend, matrices, seconds, self.size, unit=self.unit, **extra)

    def batched(
        self, name: str, calls: Sequence[_Call], reference: Sequence[np.ndarray]
    ) -> list[dict]:
        """Rates of whole-batch kernel calls, timed in turn after a warm-up call each (which
        is also checked against the interpreter's patterns, or beyond REFERENCE_TOKENS
        against Numba's)."""
        ready: list[_Call] = []
        matches: list[dict] = []
        for call in calls:
            try:
                first = call.fn()
            except Exception as exc:  # the row is skipped, with the reason
                self.skip(name, call.backend, f"{type(exc).__name__}: {exc}", call.device)
                continue
            ready.append(call)
            if not self.with_reference and call.backend == "numba":  # the others' reference
                reference = list(_unpadded(first, self.batch))
                matches.append({})
                continue
            key = "matches_interpreter" if self.with_reference else "matches_numba"
            matches.append({key: _matches(first, reference) if call.check and reference else None})
        seconds = best_seconds([call.fn for call in ready], self.repeat)
        return [
            self.row(name, call.backend, len(self.batch), s, device=call.device, **call.extra, **m)
            for call, s, m in zip(ready, seconds, matches)
        ]


@dataclass
class _Call:
    """One whole-batch kernel call to time."""

    backend: str
    fn: Callable[[], torch.Tensor]
    device: str = "cpu"
    extra: dict = field(default_factory=dict)
    check: bool = True  # compare the output with the interpreter's


def _cuda_call(kernel, batch: Batch, vocab: Vocab) -> Callable[[], torch.Tensor]:
    def call() -> torch.Tensor:
        out = kernel(batch, vocab, device="cuda")
        torch.cuda.synchronize()
        return out

    return call


def _torch_calls(bench: _Bench, name: str, program: Program) -> list[_Call]:
    try:
        kernel = compile(program, "torch")
    except Exception as exc:  # ImportError before the backend exists, CompileError after
        bench.skip(name, "torch", f"{type(exc).__name__}: {exc}")
        return []
    extra = {"compile_s": kernel.compile_seconds}
    calls = [_Call("torch", lambda: kernel(bench.batch, bench.vocab, device="cpu"), "cpu", extra)]
    if torch.cuda.is_available():
        calls.append(_Call("torch", _cuda_call(kernel, bench.batch, bench.vocab), "cuda", extra))
    return calls


def _numba_calls(bench: _Bench, name: str, program: Program, times: dict) -> list[_Call]:
    if name in times["errors"]:
        bench.skip(name, "numba", times["errors"][name])
        return []
    try:
        with _cache_env(times["cache"]):
            kernel = compile(program, "numba")
    except Exception as exc:
        bench.skip(name, "numba", f"{type(exc).__name__}: {exc}")
        return []
    extra = {"compile_s": times["first"].get(name), "cached_load_s": times["cached"].get(name)}
    return [_Call("numba", lambda: kernel(bench.batch, bench.vocab), "cpu", extra)]


def _cpython_row(bench: _Bench, name: str, program: Program, reference: list) -> dict | None:
    try:
        run = cpython_function(program)
    except Exception as exc:
        bench.skip(name, "cpython", f"{type(exc).__name__}: {exc}")
        return None
    row, outputs = bench.per_sentence(name, "cpython", run, CPYTHON_SAMPLE)
    if row:
        row["matches_interpreter"] = (
            all(np.allclose(a, b) for a, b in zip(outputs, reference)) if reference else None
        )
    return row


def program_rows(bench: _Bench, name: str, program: Program, times: dict) -> list[dict]:
    """Every backend's row for one program."""
    rows: list[dict] = []
    reference: list = []
    if bench.with_reference:
        interpreter, reference = bench.per_sentence(
            name, "interpreter", program, INTERPRETER_SAMPLE
        )
        found = (interpreter, _cpython_row(bench, name, program, reference))
        rows = [row for row in found if row]
    calls = [
        *_numba_calls(bench, name, program, times),
        *_torch_calls(bench, name, program),
        _Call("floor", lambda: floor_kernel(bench.batch), check=False),
    ]
    return rows + bench.batched(name, calls, reference)


# --------------------------------------------------------------------------- summary


def _resolve(programs: Sequence[str] | Mapping[str, Program] | None) -> dict[str, Program]:
    starters = library()
    if programs is None:
        return dict(starters)
    if isinstance(programs, Mapping):
        return dict(programs)
    unknown = [name for name in programs if name not in starters]
    if unknown:
        raise ValueError(f"unknown library programs {unknown}; choose from {sorted(starters)}")
    return {name: starters[name] for name in programs}


def run_kernel_benchmark(
    programs: Sequence[str] | Mapping[str, Program] | None = None,
    sentences: int = 256,
    lengths: Sequence[int | str] = (SENTENCES, 128, 1024),
    repeat: int = 3,
    json_path: str | Path | None = None,
    console=None,
) -> dict:
    """Run the benchmark; print it with `rich` (on `console`) and return (and optionally
    write as JSON) `{"rows": [...], "skipped": [...], "machine": {...}, "summary": {...}}`.

    programs: library program names, or {name: Program} (checked, trusted programs only:
    the cpython baseline exec's their text), or None for the whole library.
    sentences: sentences (or windows of 128 tokens) per batch. lengths: `"sentences"` and
    window lengths; the targets are judged on windows of 128 tokens, else on the first batch
    timed against the interpreter.
    """
    chosen = _resolve(programs)
    load_before = load_average()
    corpus = load_corpus(1, 1)[1]
    benches = {}
    for length in lengths:
        unit = "sentence" if length == SENTENCES else "window"
        benches[length] = _Bench(batch_texts(length, sentences), repeat, unit)
    workdir = Path(tempfile.mkdtemp(prefix="attndsl-bench-"))
    try:
        times = compile_times(chosen, workdir)
        rows = [
            row
            for bench in benches.values()
            for name, program in chosen.items()
            for row in program_rows(bench, name, program, times)
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    # the targets are judged on windows of 128 tokens, else the first batch with a reference
    judged = benches.get(128) or next(
        (b for b in benches.values() if b.with_reference), next(iter(benches.values()))
    )
    key = {"tokens": judged.size, "unit": judged.unit}
    summary = summarise_rows([r for r in rows if r.items() >= key.items()], chosen, times)
    result = {
        "rows": rows,
        "skipped": [skip for bench in benches.values() for skip in bench.skipped],
        "machine": machine_record(corpus, sentences, list(lengths), repeat, load_before),
        "summary": {**summary, "judged_on": key},
    }
    report(result, console)
    if json_path is not None:
        Path(json_path).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return result
