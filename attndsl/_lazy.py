"""Lazy re-exports for a package whose modules bring in torch or Numba: `import attndsl`
and `attndsl check` stay fast, and a name is imported on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `name` from the module `where[name]` (relative to
    `package`) on first use."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(where[name], package)
        return module if where[name].rsplit(".", 1)[-1] == name else getattr(module, name)

    return __getattr__
