"""Kernel throughput: matrices/s and GB/s for the interpreter, plain CPython, Numba, torch and a
write-only floor, with compile and cached-load times. Same as `attndsl bench kernels`.

    python benchmarks/bench_kernels.py [--json FILE] [--programs a,b] [--sentences 256]
                                       [--lengths sentences,128,1024] [--repeat 3]

Prints a `rich` table and the targets; `--json` writes {rows, skipped, machine, summary}.
What each figure measures: see `attndsl.compiler._bench`.
"""

import sys

from attndsl.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "kernels", *sys.argv[1:]]))
