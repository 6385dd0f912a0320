"""The offline synthesiser: weighted mixtures of primitive rules (`_primitives`), fitted per
head by a beam search (`_search`) over packed attention data (`_data`) with Numba kernels
(`_kernels`), written out as one readable program each (`_mixture`)."""

from ._enumerate import EnumError, Explanation, enumerate_candidates, fit_passages

__all__ = ["EnumError", "Explanation", "enumerate_candidates", "fit_passages"]
