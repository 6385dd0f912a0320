"""Both backends against the reference interpreter on generated programs with extreme
values, wrapping index arithmetic, wide and deep expressions and odd strings, checked in
worker processes so that a crash fails the test (see tests/differential.py).

The default run checks DEFAULT_COUNT programs; the slow run (CI runs it) SLOW_COUNT.
Set ATTNDSL_FUZZ_SEED to explore other programs.
"""

from __future__ import annotations

import os

import pytest
from differential import run_campaign

SEED = int(os.environ.get("ATTNDSL_FUZZ_SEED", "0"))
DEFAULT_COUNT = 300
SLOW_COUNT = 10_000
#: programs compiled as written (not canonicalised), as a run directory's sources are
AS_WRITTEN_COUNT = 60


def _campaign(count: int, cache, seed: int = SEED, as_written: bool = False) -> None:
    finished, failures = run_campaign(count, seed=seed, cache=cache, as_written=as_written)
    shown = "\n\n".join(str(f) for f in failures[:5])
    assert not failures, f"{len(failures)} of {count} programs failed; the first:\n\n{shown}"
    assert finished == count


def test_generated_programs_match_the_interpreter_on_both_backends(tmp_path):
    _campaign(DEFAULT_COUNT, tmp_path)


def test_programs_compiled_as_written_match_the_interpreter(tmp_path):
    """`Program.trusted` sources skip canonicalisation: kernels of non-canonical programs
    must agree with the interpreter too (other programs than the campaign above)."""
    _campaign(AS_WRITTEN_COUNT, tmp_path, seed=SEED + 1, as_written=True)


@pytest.mark.slow
def test_ten_thousand_generated_programs(tmp_path):
    _campaign(SLOW_COUNT, tmp_path)
