"""Kernel throughput: matrices/s and GB/s for the interpreter, plain CPython, Numba, torch and a
write-only floor, with compile and cached-load times.

    python benchmarks/bench_kernels.py [--json FILE] [--programs a,b] [--sentences 256]
                                       [--length 128] [--repeat 3]

Prints a `rich` table and the targets; `--json` writes {rows, skipped, machine, summary}.
What each figure measures: see `attndsl.compiler._bench`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--programs", help="comma-separated library program names (default all)")
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--length", type=int, default=128, help="tokens per sentence")
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds (best is kept)")
    args = parser.parse_args(argv)

    from attndsl.compiler._bench import run_kernel_benchmark

    programs = [p.strip() for p in args.programs.split(",") if p.strip()] if args.programs else None
    run_kernel_benchmark(programs, sentences=args.sentences, length=args.length,
                         repeat=args.repeat, json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
