"""Kernel throughput benchmark: matrices per second and GB/s written, per program and backend.

Backends measured on the same sentences: windows of word tokens from the TinyStories sample
(`$ATTNDSL_BENCH_CORPUS`, else `shared/data/tinystories/valid-sample.jsonl`; a deterministic
synthetic corpus, flagged in the output, when it is missing):

- `interpreter`: `program(tokens)`, the reference interpreter, on a sample of the sentences;
- `cpython`: the canonical program text run as plain Python over a NumPy shim of the
  builtins, then `normalise`, on a sample of the sentences;
- `numba`: the `compile(p, "numba")` kernel on the whole batch → padded float32 [B, N, N];
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
import platform
import random
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

import attndsl
from attndsl import _semantics
from attndsl._features import STRUCTURAL, TOKEN_TESTS
from attndsl._program import Program

from . import _cache
from ._batch import Batch
from ._kernel import compile
from ._vocab import Vocab, word_vocab

CORPUS_NAME = "tinystories/valid-sample.jsonl"
DEFAULT_CORPUS = Path("/work/shared/data") / CORPUS_NAME
INTERPRETER_SAMPLE = 8  # sentences timed for the reference interpreter
CPYTHON_SAMPLE = 32  # sentences timed for plain CPython
MIN_ROUND_S = 0.1  # a timing round repeats its call until it lasts this long
TARGETS = {
    "numba_100x_cpython": "Numba kernel ≥ 100× plain CPython (every program)",
    "numba_within_3x_floor": "Numba kernel within 3× of the floor (O(n²) programs)",
    "torch_within_2x_numba": "torch kernel within 2× of Numba (programs it vectorises)",
    "compile_under_2s": "first compile < 2 s",
    "cached_load_under_100ms": "cached load < 100 ms",
}

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
    env = os.environ.get("ATTNDSL_BENCH_CORPUS")
    if env:
        return Path(env)
    local = Path(__file__).resolve().parent.parent / "shared" / "data" / CORPUS_NAME
    return local if local.is_file() else DEFAULT_CORPUS


def _synthetic_text(tokens: int) -> str:
    """Deterministic story-like text of at least `tokens` word tokens."""
    rng = random.Random(0)
    words = ("the cat dog girl boy sun tree ball park mom dad friend little big happy sad "
             "ran saw played liked wanted said jumped found went was had and but then very "
             "to of in on with a an she he they it Lily Tom Max Sue").split()
    parts: list[str] = []
    count = 0
    while count < tokens:
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(4, 12)))
        parts.append(sentence[0].upper() + sentence[1:] + rng.choice((".", ".", "!", "?", ",")))
        newline = rng.random() < 0.15
        parts.append("\n" if newline else " ")
        count += len(sentence.split()) + 1 + newline
    return "".join(parts)


def load_corpus(sentences: int, length: int) -> tuple[list[list[str]], str]:
    """`sentences` windows of exactly `length` word tokens, and a line saying where from.

    Stories are joined with newlines and split with `attndsl.split_words`; the token stream is
    cycled when it is too short. Without the TinyStories file, a synthetic corpus is used.
    """
    path = _corpus_path()
    needed = sentences * length
    if path.is_file():
        with path.open(encoding="utf-8") as handle:
            texts = [json.loads(line)["text"] for line in handle if line.strip()]
        tokens = attndsl.split_words("\n".join(texts))
        source = f"{path} ({len(texts)} stories, {len(tokens)} tokens)"
    else:
        tokens = attndsl.split_words(_synthetic_text(needed))
        source = f"SYNTHETIC corpus ({path} is missing), {len(tokens)} tokens"
    if not tokens:
        raise ValueError(f"no tokens in {path}")
    if len(tokens) < needed:
        source += f", cycled to {needed}"
    stream = tokens * (needed // len(tokens) + 1)
    return [stream[b * length:(b + 1) * length] for b in range(sentences)], source


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


def _row(program: str, backend: str, matrices: int, seconds: float, size: int,
         **extra: object) -> dict:
    rate = matrices / seconds
    row = {"program": program, "backend": backend, "device": "cpu",
           "matrices_per_s": rate, "gb_per_s": rate * size * size * 4 / 1e9,
           "compile_s": None, "cached_load_s": None, "sentences_timed": matrices}
    row.update(extra)
    return row


def _matches(padded: torch.Tensor, reference: Sequence[np.ndarray]) -> bool:
    values = padded.detach().cpu().numpy()
    return all(np.allclose(values[b, :len(r), :len(r)], r, atol=1e-5)
               for b, r in enumerate(reference))


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
    namespace: dict = {"__builtins__": safe, "zeros": lambda rows, cols: np.zeros((rows, cols)),
                       "exp": _semantics.exp, "log": _semantics.log, "sqrt": _semantics.sqrt,
                       "lower": str.lower}
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
            features = attndsl.sequence_features(tokens)
            for name in structural:
                namespace[name] = _position_lookup(getattr(features, name).tolist(), len(tokens))
        return _semantics.normalise(function(list(tokens)))

    return run


def loop_depth(program: Program) -> int:
    """How deep the program's loops nest (a checked program is O(n^depth))."""

    def depth(node: ast.AST) -> int:
        inner = max((depth(child) for child in ast.iter_child_nodes(node)), default=0)
        return inner + isinstance(node, ast.For)

    return depth(ast.parse(program.text))


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


_WORKER = ("import sys, time; started = time.perf_counter(); "
           "from attndsl.compiler import _bench; _bench.worker_main(started)")


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
            program = attndsl.load(source)
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
        input=json.dumps(dict(sources)), capture_output=True, text=True, env=env, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"import_s": None, "startup_s": None, "seconds": {},
                "errors": {name: f"worker failed: {reason}" for name in sources}}
    return json.loads(lines[-1])


def compile_times(programs: Mapping[str, Program], workdir: Path) -> dict:
    """First compile (one fresh process each, cold cache) and cached load (one process)."""
    cache = workdir / "cache"
    primer_cache = _cache.cache_root()  # the machine's kernel cache: warm after one run
    compile(PRIMER, "numba")  # fills the primer's cache (and warms Numba here)
    sources = {name: program.source for name, program in programs.items()}
    cold = [_spawn(cache, primer_cache, {name: source}) for name, source in sources.items()]
    cached = _spawn(cache, primer_cache, sources)
    first = {name: s for run in cold for name, s in run["seconds"].items()}
    errors = {name: e for run in [*cold, cached] for name, e in run["errors"].items()}
    startups = [run["startup_s"] for run in [*cold, cached] if run["startup_s"] is not None]
    imports = [run["import_s"] for run in [*cold, cached] if run["import_s"] is not None]
    return {"first": first, "cached": cached["seconds"], "errors": errors,
            "startup_s": statistics.median(startups) if startups else None,
            "import_s": statistics.median(imports) if imports else None, "cache": cache}


# --------------------------------------------------------------------------- throughput


class _Bench:
    """Shared inputs of one benchmark run."""

    def __init__(self, sentences: list[list[str]], repeat: int) -> None:
        self.sentences = sentences
        self.repeat = repeat
        self.vocab: Vocab = word_vocab(sentences)
        self.batch = Batch.from_sequences([self.vocab.encode(s) for s in sentences])
        self.size = self.batch.max_length
        self.skipped: list[dict] = []

    def skip(self, program: str, backend: str, reason: str, device: str = "cpu") -> None:
        self.skipped.append({"program": program, "backend": backend, "device": device,
                             "reason": reason})

    def per_sentence(self, name: str, backend: str, fn: Callable[[Sequence[str]], object],
                     sample: int) -> tuple[dict | None, list]:
        """Rate of a one-sentence function over the first `sample` sentences."""
        part = self.sentences[:sample]
        try:
            outputs = [fn(tokens) for tokens in part]
        except Exception as exc:  # the row is skipped, with the reason
            self.skip(name, backend, f"{type(exc).__name__}: {exc}")
            return None, []
        (seconds,) = best_seconds([lambda: [fn(tokens) for tokens in part]], self.repeat)
        return _row(name, backend, len(part), seconds, self.size), outputs

    def batched(self, name: str, calls: Sequence[_Call],
                reference: Sequence[np.ndarray]) -> list[dict]:
        """Rates of whole-batch kernel calls, timed in turn after a warm-up call each (which
        is also checked against the interpreter's patterns)."""
        ready, matches = [], []
        for call in calls:
            try:
                first = call.fn()
            except Exception as exc:  # the row is skipped, with the reason
                self.skip(name, call.backend, f"{type(exc).__name__}: {exc}", call.device)
                continue
            ready.append(call)
            matches.append(_matches(first, reference) if reference and call.check else None)
        seconds = best_seconds([call.fn for call in ready], self.repeat)
        return [_row(name, call.backend, len(self.batch), s, self.size, device=call.device,
                     matches_interpreter=m, **call.extra)
                for call, s, m in zip(ready, seconds, matches)]


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
        row["matches_interpreter"] = all(
            np.allclose(a, b) for a, b in zip(outputs, reference)) if reference else None
    return row


def program_rows(bench: _Bench, name: str, program: Program, times: dict) -> list[dict]:
    """Every backend's row for one program."""
    interpreter, reference = bench.per_sentence(name, "interpreter", program,
                                                INTERPRETER_SAMPLE)
    rows = [row for row in (interpreter, _cpython_row(bench, name, program, reference)) if row]
    calls = [*_numba_calls(bench, name, program, times), *_torch_calls(bench, name, program),
             _Call("floor", lambda: floor_kernel(bench.batch), check=False)]
    return rows + bench.batched(name, calls, reference)


# --------------------------------------------------------------------------- summary


def _rate(rows: list[dict], program: str, backend: str, device: str = "cpu") -> float | None:
    for row in rows:
        if (row["program"], row["backend"], row["device"]) == (program, backend, device):
            return row["matrices_per_s"]
    return None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _program_summary(rows: list[dict], name: str, depth: int) -> dict:
    numba = _rate(rows, name, "numba")
    row = next((r for r in rows if r["program"] == name and r["backend"] == "numba"), {})
    ratios = {"numba_over_cpython": _ratio(numba, _rate(rows, name, "cpython")),
              "numba_over_floor": _ratio(numba, _rate(rows, name, "floor")),
              "torch_over_numba": _ratio(_rate(rows, name, "torch"), numba),
              "floor_over_cpython": _ratio(_rate(rows, name, "floor"),
                                           _rate(rows, name, "cpython"))}
    compile_s, cached_s = row.get("compile_s"), row.get("cached_load_s")
    met = {
        "numba_100x_cpython": _at_least(ratios["numba_over_cpython"], 100.0),
        "numba_within_3x_floor": (_at_least(ratios["numba_over_floor"], 1 / 3)
                                  if depth <= 2 else None),
        "torch_within_2x_numba": _at_least(ratios["torch_over_numba"], 0.5),
        "compile_under_2s": None if compile_s is None else compile_s < 2.0,
        "cached_load_under_100ms": None if cached_s is None else cached_s < 0.1,
    }
    # O(n^d) for loop depth d, and O(n²) at least: every kernel writes the n² output.
    return {"loop_depth": depth, "complexity": f"O(n^{max(depth, 2)})", **ratios,
            "compile_s": compile_s, "cached_load_s": cached_s, "targets": met}


def _at_least(value: float | None, bound: float) -> bool | None:
    return None if value is None else value >= bound


def summarise(rows: list[dict], programs: Mapping[str, Program], times: dict) -> dict:
    """Per-program ratios and, per target, whether every program it applies to meets it."""
    per_program = {name: _program_summary(rows, name, loop_depth(p))
                   for name, p in programs.items()}
    targets = {}
    for key, text in TARGETS.items():
        verdicts = {name: s["targets"][key] for name, s in per_program.items()
                    if s["targets"][key] is not None}
        failing = sorted(name for name, ok in verdicts.items() if not ok)
        targets[key] = {"description": text, "met": (not failing) if verdicts else None,
                        "checked": len(verdicts), "failing": failing}
    # Where even the write-only floor is under 100× CPython, no kernel can reach 100×.
    targets["numba_100x_cpython"]["out_of_reach"] = sorted(
        name for name, s in per_program.items()
        if s["floor_over_cpython"] is not None and s["floor_over_cpython"] < 100)
    return {"numba_startup_s": times["startup_s"], "compiler_import_s": times["import_s"],
            "programs": per_program, "targets": targets}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine_record(corpus: str, sentences: int, length: int, repeat: int,
                   load_before: list[float] | None) -> dict:
    """Where and how the benchmark ran (load averages: other work on the machine)."""
    import numba

    record = {
        "python": platform.python_version(), "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numpy": np.__version__, "numba": numba.__version__, "torch": torch.__version__,
        "numba_threads": numba.get_num_threads(), "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "corpus": corpus, "sentences": sentences, "length": length, "repeat": repeat,
        "interpreter_sample": INTERPRETER_SAMPLE, "cpython_sample": CPYTHON_SAMPLE,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average_before": load_before, "load_average_after": _load(),
    }
    return record


# --------------------------------------------------------------------------- output


def _fmt(value: float | None, spec: str, scale: float = 1.0) -> str:
    return "-" if value is None else format(value * scale, spec)


def _table(rows: list[dict], total: int):
    from rich.table import Table

    table = Table(title=f"attndsl kernels: {total} sentences")
    for column in ("program", "backend", "matrices/s", "GB/s", "×CPython", "×floor",
                   "compile s", "cached load ms", "note"):
        table.add_column(column, justify="left" if column in ("program", "backend", "note")
                         else "right")
    for row in rows:
        name = row["program"]
        note = [] if row["sentences_timed"] == total else [
            f"{row['sentences_timed']}/{total} timed"]
        note += [] if row["device"] == "cpu" else [row["device"]]
        note += ["≠ interpreter"] if row.get("matches_interpreter") is False else []
        table.add_row(
            name, row["backend"], _fmt(row["matrices_per_s"], ",.0f"),
            _fmt(row["gb_per_s"], ".3f"),
            _fmt(_ratio(row["matrices_per_s"], _rate(rows, name, "cpython")), ",.1f"),
            _fmt(_ratio(row["matrices_per_s"], _rate(rows, name, "floor")), ".3f"),
            _fmt(row["compile_s"], ".2f"), _fmt(row["cached_load_s"], ".1f", 1000),
            "; ".join(note))
    return table


def _target_table(summary: dict):
    from rich.table import Table

    table = Table(title="targets")
    for column in ("target", "programs", "result", "worst"):
        table.add_column(column)
    worst = _worst(summary["programs"])
    for key, target in summary["targets"].items():
        table.add_row(target["description"], str(target["checked"]), _verdict(target),
                      worst[key])
    return table


def _verdict(target: dict) -> str:
    if target["met"] is None:
        return "n/a"
    if target["met"]:
        return "[green]met[/]"
    failing = target["failing"]
    text = f"[red]not met[/] ({len(failing)} of {target['checked']}"
    text += f": {', '.join(failing)})" if len(failing) <= 4 else ")"
    if target.get("out_of_reach"):
        text += f"; floor < 100× CPython for {len(target['out_of_reach'])}"
    return text


def _worst(programs: dict) -> dict[str, str]:
    def pick(key: str, fn, label: str, applies: str) -> str:
        values = {n: s[key] for n, s in programs.items()
                  if s[key] is not None and s["targets"][applies] is not None}
        if not values:
            return "-"
        name = fn(values, key=values.get)
        return f"{name}: {label.format(values[name])}"

    return {"numba_100x_cpython": pick("numba_over_cpython", min, "{:,.0f}×",
                                       "numba_100x_cpython"),
            "numba_within_3x_floor": pick("numba_over_floor", min, "{:.2f} of floor",
                                          "numba_within_3x_floor"),
            "torch_within_2x_numba": pick("torch_over_numba", min, "{:.2f} of numba",
                                          "torch_within_2x_numba"),
            "compile_under_2s": pick("compile_s", max, "{:.2f} s", "compile_under_2s"),
            "cached_load_under_100ms": pick("cached_load_s", max, "{:.3f} s",
                                            "cached_load_under_100ms")}


def report(result: dict, console=None) -> None:
    """Print the rows, skips and targets of a benchmark result with `rich`."""
    from rich.console import Console

    if console is None:
        console = Console()
        console = console if console.is_terminal else Console(width=160)
    machine, summary = result["machine"], result["summary"]
    console.print(f"corpus: {machine['corpus']}")
    load, cpus = machine["load_average_before"], machine["cpus_usable"] or machine["cpu_count"]
    if load and cpus and max(load[0], (machine["load_average_after"] or load)[0]) > cpus:
        console.print(f"[yellow]machine busy (load average {load[0]} before, "
                      f"{machine['load_average_after'][0]} after, {cpus} CPUs): timings are "
                      "noisy[/]")
    console.print(_table(result["rows"], machine["sentences"]))
    for skip in result["skipped"]:
        console.print(f"skipped {skip['program']} / {skip['backend']} ({skip['device']}): "
                      f"{skip['reason']}")
    console.print(f"Numba one-time start-up (fresh process, first kernel load): "
                  f"{_fmt(summary['numba_startup_s'], '.2f')} s; compiler import "
                  f"{_fmt(summary['compiler_import_s'], '.2f')} s (both excluded from compile "
                  "and cached-load times)")
    console.print(_target_table(summary))


# --------------------------------------------------------------------------- entry point


def _resolve(programs: Sequence[str] | Mapping[str, Program] | None) -> dict[str, Program]:
    library = attndsl.library()
    if programs is None:
        return dict(library)
    if isinstance(programs, Mapping):
        return dict(programs)
    unknown = [name for name in programs if name not in library]
    if unknown:
        raise ValueError(f"unknown library programs {unknown}; choose from {sorted(library)}")
    return {name: library[name] for name in programs}


def run_kernel_benchmark(programs: Sequence[str] | Mapping[str, Program] | None = None,
                         sentences: int = 256, length: int = 128, repeat: int = 3,
                         json_path: str | Path | None = None, console=None) -> dict:
    """Run the benchmark; print it with `rich` (on `console`) and return (and optionally
    write as JSON) `{"rows": [...], "skipped": [...], "machine": {...}, "summary": {...}}`.

    programs: library program names, or {name: Program} (checked, trusted programs only:
    the cpython baseline exec's their text), or None for the whole library.
    """
    chosen = _resolve(programs)
    load_before = _load()
    texts, corpus = load_corpus(sentences, length)
    bench = _Bench(texts, repeat)
    workdir = Path(tempfile.mkdtemp(prefix="attndsl-bench-"))
    try:
        times = compile_times(chosen, workdir)
        rows = [row for name, program in chosen.items()
                for row in program_rows(bench, name, program, times)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = {"rows": rows, "skipped": bench.skipped,
              "machine": machine_record(corpus, sentences, length, repeat, load_before),
              "summary": summarise(rows, chosen, times)}
    report(result, console)
    if json_path is not None:
        Path(json_path).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return result
