"""`attndsl bench`: kernel throughput per program and backend (`_kernels`, with its targets
and report in `_kernels_report`), and what replacing heads costs in a forward pass
(`_overhead`). The scripts in `benchmarks/` are thin wrappers over these and the public API."""

from ._kernels import run_kernel_benchmark
from ._overhead import run_overhead_benchmark

__all__ = ["run_kernel_benchmark", "run_overhead_benchmark"]
