"""The run directory: plain, versioned files that every stage reads and writes.

Every file is written atomically (`attndsl._io`). Per-head results go to JSON Lines files,
one line per head appended and flushed as soon as the head is done, so an interrupted stage
resumes after the last whole line.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import _io
from .._io import CorruptLine
from ..lang import AttnDslError

#: version of the run directory's layout; a run made by another version is refused
RUN_VERSION = 1


class RunError(AttnDslError):
    """A run directory that cannot be read or written; the message says which file and why."""


def _disk_error(path: Path, exc: OSError) -> RunError:
    if exc.errno == errno.ENOSPC:
        return RunError(_io.describe_os_error(exc, path))
    return RunError(f"{path}: cannot write: {exc.strerror or exc}")


def write_text(path: str | Path, text: str) -> None:
    """Replace `path` with `text` atomically (a RunError naming the file on failure)."""
    try:
        _io.write_text(path, text)
    except OSError as exc:
        raise _disk_error(Path(path), exc) from None


def write_json(path: str | Path, value: Any) -> None:
    """Replace `path` with `value` as indented JSON, atomically."""
    write_text(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


class Each:
    """A schema for a JSON object with any keys, each value of `schema`."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema


Number = (int, float)
#: The shapes of the run directory's JSON files, as `read_json(path, schema)` checks them: a
#: type (or tuple of types), `{key: schema}` (these keys required, others allowed), `[schema]`
#: (a list of items of that schema) or `Each(schema)`.
MANIFEST = {"version": int, "settings": dict, "stages": Each({"seconds": Number})}
SELECTION = {
    "heads": [
        {"layer": int, "head": int, "program_id": str, "select_iou": Number, "test_iou": Number}
    ],
    "programs": Each({"source": str, "heads": [str], "name": str}),
}
COSTS = [{"layer": int, "head": int, "cost": Number}]
PERPLEXITY = {"order": [[int]], "rows": [{"fraction": Number, "heads": int, "programs": Number}]}
SUMMARY = {
    "heads": int,
    "mean_iou": Number,
    "library_size": int,
    "perplexity": Each(Number),
    "perplexity_increase": Each(Number),
    "stage_seconds": Each(Number),
}


def _mismatch(value: Any, schema: Any, where: str) -> str | None:
    """Where and how `value` differs from `schema` (None when it fits)."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return f"{where or 'the file'} should be an object, not {type(value).__name__}"
        for key, inner in schema.items():
            if key not in value:
                return f"{where or 'the file'} lacks {key!r}"
            found = _mismatch(value[key], inner, f"{where}.{key}" if where else key)
            if found:
                return found
        return None
    if isinstance(schema, list):
        if not isinstance(value, list):
            return f"{where} should be a list, not {type(value).__name__}"
        return next(
            (
                m
                for k, item in enumerate(value)
                if (m := _mismatch(item, schema[0], f"{where}[{k}]"))
            ),
            None,
        )
    if isinstance(schema, Each):
        return _mismatch(value, {}, where) or next(
            (
                m
                for key, item in value.items()
                if (m := _mismatch(item, schema.schema, f"{where}[{key!r}]"))
            ),
            None,
        )
    types = schema if isinstance(schema, tuple) else (schema,)
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        return f"{where} should be {' or '.join(t.__name__ for t in types)}, not {value!r:.40}"
    return None


def read_json(
    path: str | Path, schema: Any = None, remedy: str = "remove it to recompute that stage"
) -> Any:
    """A JSON file, checked against `schema` when given; a missing, corrupt or misshapen
    one is a RunError naming it, what is wrong, and the `remedy`."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing; the stage that writes it has not run") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{path}: corrupt ({exc}); {remedy}") from None
    return value if schema is None else shaped(path, value, schema, remedy)


def shaped(path: str | Path, value: Any, schema: Any, remedy: str) -> Any:
    """`value`, read from `path`, if it fits `schema`; else a RunError naming the file, what
    is wrong and the `remedy`."""
    problem = _mismatch(value, schema, "")
    if problem:
        raise RunError(f"{path}: not a file this attndsl wrote ({problem}); {remedy}")
    return value


def _jsonl(entries: Iterable[dict]) -> str:
    return "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in entries)


def write_jsonl(path: str | Path, entries: Iterable[dict]) -> None:
    """Replace `path` with entries as JSON lines, atomically."""
    write_text(path, _jsonl(entries))


def append_jsonl(path: str | Path, entries: Iterable[dict]) -> None:
    """Append entries as JSON lines and flush them to disk."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            out.write(_jsonl(entries))
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise _disk_error(path, exc) from None


def read_jsonl(path: str | Path) -> list[dict]:
    """The whole lines of a JSON Lines file (`_io.read_jsonl`); a corrupt line other than a
    last one cut short is a RunError naming its line number."""
    try:
        return _io.read_jsonl(path)
    except CorruptLine as exc:
        raise RunError(f"{exc}; remove the file to recompute that stage") from None
    except OSError as exc:
        raise RunError(f"{path}: cannot read: {exc.strerror or exc}") from None


class RunDir:
    """A run directory: where each stage's files live, and the run's settings."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, *parts: str) -> Path:
        return self.folder.joinpath(*parts)

    @property
    def manifest_path(self) -> Path:
        return self.path("run.json")

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict:
        """The run's settings, refused when another layout version wrote them."""
        manifest = read_json(self.manifest_path)
        found = manifest.get("version") if isinstance(manifest, dict) else None
        if found != RUN_VERSION:
            raise RunError(
                f"{self.folder}: a run directory of layout version {found}; this "
                f"attndsl reads version {RUN_VERSION}: start a new run with --out"
            )
        return shaped(
            self.manifest_path,
            manifest,
            MANIFEST,
            "it records the whole run: start a new one with --out",
        )

    def start(self, settings: dict, resume: bool) -> dict:
        """Create the run (or, with `resume`, check the settings match the earlier run's)."""
        if self.exists():
            if not resume:
                raise RunError(
                    f"{self.folder}: already holds a run; pass --resume to continue "
                    "it or --out to start another"
                )
            manifest = self.read_manifest()
            changed = {k for k in settings if manifest["settings"].get(k) != settings[k]}
            if changed:
                names = ", ".join(sorted(changed))
                raise RunError(
                    f"{self.folder}: was run with other settings ({names}); "
                    "resume it with the same ones, or use another --out"
                )
            return manifest
        manifest = {"version": RUN_VERSION, "settings": settings, "stages": {}}
        write_json(self.manifest_path, manifest)
        return manifest

    def finish_stage(self, name: str, seconds: float, **record: Any) -> None:
        """Record that a stage finished, with its wall time and what else it reports."""
        manifest = self.read_manifest()
        manifest["stages"][name] = {"seconds": round(seconds, 3), **record}
        write_json(self.manifest_path, manifest)

    def stage_done(self, name: str) -> bool:
        return self.exists() and name in self.read_manifest()["stages"]
