"""The kernel cache: content-addressed source files that Numba compiles once per machine.

A kernel module lives at `<cache>/kernels/k_<program id>_<key>.py`, key = hash of the emitted
source, the compiler version and the Numba version; Numba keeps the machine code beside it in
`__pycache__`. A file whose text no longer matches its name is rewritten; a module whose
cached machine code fails to load is purged and compiled again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

from .._io import cache_root, write_text
from . import _audit
from ._numba import PROGRAM_ID

COMPILER_VERSION = "2"


def kernel_dir() -> Path:
    path = cache_root() / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def source_key(source: str) -> str:
    import numba

    text = f"{COMPILER_VERSION}\0{numba.__version__}\0{source}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def module_path(program_id: str, source: str) -> Path:
    """The cache file for a kernel module's source, written (or repaired) if needed.
    The source must pass `_audit.check_module`; the id must be hexadecimal."""
    if not PROGRAM_ID.fullmatch(program_id):
        raise _audit.KernelSourceError(f"refused a kernel file name for id {program_id[:20]!r}")
    _audit.check_module(source)
    path = kernel_dir() / f"k_{program_id}_{source_key(source)}.py"
    try:
        current = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    if current != source:
        write_text(path, source)
        purge(path)
    return path


def purge(path: Path) -> None:
    """Drop Numba's cached machine code for a kernel module."""
    cache = path.parent / "__pycache__"
    if cache.is_dir():
        for entry in cache.glob(f"{path.stem}.*"):
            entry.unlink(missing_ok=True)


def import_module(path: Path) -> ModuleType:
    """Import a kernel module from its cache file (a fresh module object each time), once
    its text passes `_audit.check_module`."""
    _audit.check_module(path.read_text(encoding="utf-8"))
    name = f"attndsl_kernels.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a file we just wrote
        raise ImportError(f"cannot import kernel module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def clear() -> None:
    """Remove every cached kernel."""
    shutil.rmtree(cache_root() / "kernels", ignore_errors=True)
