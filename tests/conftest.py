"""Fixtures shared by the test modules."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def module_kernel_cache(tmp_path_factory):
    """Keep a module's kernels in a cache of its own (Numba's runtime stays warm); a module
    asks for it with `pytestmark = pytest.mark.usefixtures("module_kernel_cache")`."""
    old = os.environ.get("ATTNDSL_CACHE")
    os.environ["ATTNDSL_CACHE"] = str(tmp_path_factory.mktemp("kernels"))
    yield
    if old is None:
        os.environ.pop("ATTNDSL_CACHE")
    else:
        os.environ["ATTNDSL_CACHE"] = old
