"""Differential fuzzing of both backends against the reference interpreter, in worker
processes, so a crash (a segmentation fault in a kernel, say) fails the campaign and names the
program instead of killing the test run.

`run_campaign(count)` starts `WORKERS` copies of this file as scripts. Each draws its share of
programs from `programs(extreme=True)` (int64 edges, denormals, inf and NaN, wrapping index
arithmetic, wide and deep expressions, odd strings) and sentences from `sentences()`, seeded
by its shard, and for each one prints a JSON line `{"begin": k, "source": ...}` before it
checks the program and `{"end": k, "problem": ...}` after. The parent reads the lines: a
worker that dies or stalls leaves a `begin` without its `end`, and that program is reported.

Each program must load, its canonical form must be a fixed point, and the Numba kernel, and
the torch kernel where the program vectorises, must give the interpreter's patterns to
TOLERANCE on every sentence.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TOLERANCE = 1e-6
WORKERS = 2
STALL_SECONDS = 300.0  # one program (compile and run) taking longer than this is a failure


@dataclass(frozen=True)
class Failure:
    """One program the campaign found wrong: what happened, and its source."""

    problem: str
    source: str

    def __str__(self) -> str:
        return f"{self.problem}\n{self.source}"


def check(source: str, token_lists: list[list[str]], as_written: bool = False) -> str | None:
    """What is wrong with one program on these sentences (None when nothing is). With
    `as_written`, the kernels compile the program as written, not its canonical form, as
    they do for sources a run directory holds (`Program.trusted`): the compiler must be
    right, and memory-safe, on every checked program."""
    import numpy as np

    import attndsl
    from attndsl.compiler import Batch, CompileError, compile, word_vocab
    from attndsl.lang import Program

    try:
        program = attndsl.load(source)
    except attndsl.ProgramError as exc:
        return f"the generator wrote a program the checker rejects: {exc}"
    canonical = program.canonical.text
    if attndsl.load(canonical).canonical.text != canonical:
        return "canonicalising twice changed the program"
    expected = [program(tokens) for tokens in token_lists]
    compiled = Program.trusted(source) if as_written else program
    vocab = word_vocab(token_lists)
    batch = Batch.from_sequences([vocab.encode(t) for t in token_lists])
    for backend in ("numba", "torch"):
        try:
            kernel = compile(compiled, backend)
        except CompileError:
            if backend == "torch":
                continue  # not vectorisable: Numba runs it
            raise
        got = kernel(batch, vocab).numpy()
        for b, want in enumerate(expected):
            n = len(want)
            worst = float(np.abs(got[b, :n, :n] - want).max()) if n else 0.0
            if not worst <= TOLERANCE:
                return (
                    f"{backend} differs from the interpreter by {worst:.3g} on {token_lists[b]!r}"
                )
    return None


def _worker(shard: int, count: int, seed: int, as_written: bool = False) -> None:
    """Check `count` programs drawn for this shard, reporting each on stdout."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st
    from program_strategies import programs, sentences

    number = iter(range(count))

    def say(**fields: object) -> None:
        print(json.dumps(fields), flush=True)

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(seed * 1000 + shard)
    @given(programs(extreme=True), st.lists(sentences(), min_size=1, max_size=3))
    def one(source: str, token_lists: list[list[str]]) -> None:
        k = next(number, None)
        if k is None:
            return
        say(begin=k, source=source)
        try:
            problem = check(source, token_lists, as_written)
        except Exception as exc:  # a failure to report, not to stop on
            problem = f"{type(exc).__name__}: {exc}"
        say(end=k, problem=problem)

    one()


class _Reader:
    """One worker's output: the program in flight, and how many it finished."""

    def __init__(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        self.process, self.fd = process, process.stdout.fileno()
        self.buffer = b""
        self.current: dict | None = None
        self.finished = 0

    def feed(self, chunk: bytes, failures: list[Failure]) -> None:
        *lines, self.buffer = (self.buffer + chunk).split(b"\n")
        for line in lines:
            if not line.startswith(b"{"):
                continue  # a warning a library printed
            message = json.loads(line)
            if "begin" in message:
                self.current = message
                continue
            self.finished += 1
            if message["problem"] and self.current is not None:
                failures.append(Failure(message["problem"], self.current["source"]))
            self.current = None

    def close(self, failures: list[Failure], stalled: bool) -> None:
        if stalled:
            self.process.kill()
        code = self.process.wait()
        source = self.current["source"] if self.current else "(between programs)"
        if stalled:
            failures.append(Failure(f"no answer in {STALL_SECONDS:.0f} s (a hang)", source))
        elif code != 0:
            failures.append(Failure(f"the worker died with exit code {code}", source))


def run_campaign(
    count: int,
    seed: int = 0,
    cache: str | Path | None = None,
    workers: int = WORKERS,
    as_written: bool = False,
) -> tuple[int, list[Failure]]:
    """Check `count` generated programs in `workers` processes: (programs finished,
    failures). `as_written`: see `check`."""
    env = dict(os.environ)
    if cache is not None:
        env["ATTNDSL_CACHE"] = str(cache)
    here = Path(__file__).resolve().parent
    env["PYTHONPATH"] = os.pathsep.join([str(here), env.get("PYTHONPATH", "")])
    shares = [count // workers + (k < count % workers) for k in range(workers)]
    readers = {}
    for k, share in enumerate(shares):
        if share:
            process = subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    *(str(k), str(share), str(seed), str(int(as_written))),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=here,
            )
            reader = _Reader(process)
            readers[reader.fd] = reader
    failures: list[Failure] = []
    finished = 0
    while readers:
        ready, _, _ = select.select(list(readers), [], [], STALL_SECONDS)
        for fd in ready or list(readers):
            reader = readers[fd]
            chunk = os.read(fd, 1 << 16) if ready else b""
            if chunk:
                reader.feed(chunk, failures)
                continue
            reader.close(failures, stalled=not ready)
            finished += reader.finished
            del readers[fd]
    return finished, failures


if __name__ == "__main__":
    _worker(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1")
