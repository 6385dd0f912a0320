"""Compiling many programs at once: kernels not yet in the disk cache are compiled by a pool
of worker processes (Numba compiles one function at a time, on one core), then every kernel
is loaded from the cache in this process, which takes milliseconds each."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

from ..lang import Program
from ._kernel import Kernel, build, compile, is_cached, lowered_program

#: below this many uncached programs, starting workers costs more than it saves
MIN_PARALLEL = 8


def _compile_source(source: str) -> None:
    """Worker: compile one program, leaving its machine code in the disk cache. `source` is
    the text the parent lowers (its programs' canonical forms), so it is compiled as it is,
    not canonicalised again: the worker fills the cache entry the parent will look up."""
    with contextlib.suppress(Exception):  # the parent compiles it again and reports it
        compile(Program.trusted(source), "numba")


def compile_many(
    programs: Sequence[Program],
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Kernel]:
    """Numba kernels for `programs`, in order; uncached ones compiled `workers` at a time
    (default: one per core)."""
    workers = workers or os.cpu_count() or 1
    fronts = [lowered_program(p) for p in programs]  # each program lowered once
    missing = {f.program.id: f.program for f in fronts if not is_cached(f)}
    parallel = workers > 1 and len(missing) >= MIN_PARALLEL
    total = len(programs) + (len(missing) if parallel else 0)
    if parallel:
        context = multiprocessing.get_context("spawn")  # no fork of a process running torch
        with ProcessPoolExecutor(min(workers, len(missing)), mp_context=context) as pool:
            jobs = [pool.submit(_compile_source, p.source) for p in missing.values()]
            for done, _ in enumerate(as_completed(jobs), start=1):
                if progress:
                    progress(done, total)
    kernels = []
    for done, front in enumerate(fronts, start=total - len(programs) + 1):
        kernels.append(build(front, "numba"))
        if progress:
            progress(done, total)
    return kernels
