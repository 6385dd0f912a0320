"""Files every package writes and reads the same way: atomic writes, JSON Lines, the cache.

Every file is replaced atomically (a temporary file in the same folder, flushed and renamed
over the target), so a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def describe_os_error(exc: OSError, path: str | Path | None = None) -> str:
    """One line for a file that cannot be read or written: where, and why (a full disk said
    plainly, with what to do)."""
    where = path or exc.filename
    prefix = f"{where}: " if where else ""
    if exc.errno == errno.ENOSPC:
        return (
            f"{prefix}the disk is full; free some space and run again (a run: with --resume, "
            "which keeps what was finished)"
        )
    return f"{prefix}{exc.strerror or exc}"


def cache_root() -> Path:
    """`$ATTNDSL_CACHE`, else `$XDG_CACHE_HOME/attndsl`, else `~/.cache/attndsl`: model
    weights, compiled kernels and LLM answers live under it."""
    if os.environ.get("ATTNDSL_CACHE"):
        return Path(os.environ["ATTNDSL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "attndsl"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> None:
    """Replace `path` with `text` atomically (creating its folder); OSError on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private (0600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:  # named by the file meant, not the temporary one
        Path(temporary).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class CorruptLine(ValueError):
    """A JSON Lines file with a line that is not JSON, other than a last line cut short."""

    def __init__(self, path: Path, number: int) -> None:
        super().__init__(f"{path}:{number}: corrupt line")
        self.path, self.number = path, number


def read_jsonl(path: str | Path, repair: bool = True) -> list[Any]:
    """The whole lines of a JSON Lines file ([] when it is missing). A last line cut short by
    a crash is dropped (and, with `repair`, cut from the file so that appending resumes
    cleanly); a corrupt line anywhere else raises `CorruptLine`."""
    path = Path(path)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    entries: list[Any] = []
    for number, line in enumerate(lines, start=1):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                if repair:
                    write_text(path, "".join(lines[:-1]))
                break
            raise CorruptLine(path, number) from None
    return entries
