"""`attndsl bench`: kernel throughput per program and backend (`_kernels`, with its targets
and report in `_kernels_report`), and what replacing heads costs in a forward pass
(`_overhead`), attribution against exact replacement costs on a finished run (`_costs`), and
what an LLM endpoint adds to the enumerator on a run's worst heads (`_llm`).
The scripts in `benchmarks/` are thin wrappers over these and the public API."""

from ._costs import run_cost_benchmark, spearman
from ._kernels import load_corpus, run_kernel_benchmark
from ._kernels_report import load_average
from ._llm import run_llm_benchmark
from ._overhead import run_overhead_benchmark

__all__ = [
    "load_average",
    "load_corpus",
    "run_cost_benchmark",
    "run_kernel_benchmark",
    "run_llm_benchmark",
    "run_overhead_benchmark",
    "spearman",
]
