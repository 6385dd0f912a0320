"""Compiling many programs with a pool of processes gives the same kernels as one by one."""

from __future__ import annotations

import numpy as np

from attndsl import Program, library
from attndsl.compiler import _parallel, compile, compile_many


def test_compile_many_in_workers_matches_compile(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNDSL_CACHE", str(tmp_path))  # nothing cached: workers compile
    monkeypatch.setattr(_parallel, "MIN_PARALLEL", 2)
    programs = [library()[name] for name in ("previous_token", "induction", "stop_words")]
    odd = Program.from_source(
        "def head(tokens):\n    n = len(tokens)\n    out = zeros(n, n)\n"
        "    for i in range(n):\n        out[i, i // 2] = 1.0\n"
        "    return out\n"
    )
    seen = []
    kernels = compile_many([*programs, odd], workers=2, progress=lambda d, t: seen.append(d))
    assert seen[-1] == 8  # four compiled by the workers, then four loaded
    tokens = [["The", " cat", " sat", ".", " The", " cat", " ran", "."]]
    for program, kernel in zip([*programs, odd], kernels):
        assert kernel.program.id == program.id
        np.testing.assert_allclose(
            kernel.on_tokens(tokens)[0], compile(program, "numba").on_tokens(tokens)[0]
        )
