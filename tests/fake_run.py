"""A small fake run directory for the review and report tests, in the format the pipeline
writes: 2 layers × 3 heads, each head's attention a known library program blended with a
uniform head, test passages of plain-text tokens (one passage holds hostile tokens such as
`</script>`). No model is loaded."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
from sample_data import SAMPLE

from attndsl import library, split_words
from attndsl.models._extract import DTYPE, FORMAT_VERSION
from attndsl.rundir import RunDir, write_json, write_text
from attndsl.synth import summarise_all
from attndsl.synth.scores import soft_iou

DATA = SAMPLE.parent
LAYERS, HEADS = 2, 3
#: head → library program its attention follows (head 1.2 is left unexplained)
PROGRAMS = {
    (0, 0): "previous_token",
    (0, 1): "first_token_sink",
    (0, 2): "previous_token",
    (1, 0): "sink_previous",
    (1, 1): "uniform_causal",
}
HOSTILE = ["</script>", "<b>", " &amp;", "\n", " \"'", "<!--", "<script>"]
STAGES = ("extract", "summarise", "synthesise", "select", "replace", "report")


def passages(count: int = 3, length: int = 40, hostile: bool = True) -> list[list[str]]:
    """Token texts of `count` test passages from the development sample."""
    lines = (DATA / "valid-sample.jsonl").read_text().splitlines()
    found = [split_words(json.loads(line)["text"])[:length] for line in lines[:count]]
    if hostile:
        found[0][3 : 3 + len(HOSTILE)] = HOSTILE
    return found


def real_attention(tokens: list[str], blend: float = 0.8) -> np.ndarray:
    """[layers, heads, n, n]: each explained head's program blended with a uniform head."""
    n = len(tokens)
    uniform = np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]
    out = np.repeat(uniform[None, None], LAYERS * HEADS, 0).reshape(LAYERS, HEADS, n, n)
    for (layer, head), name in PROGRAMS.items():
        out[layer, head] = blend * library()[name](tokens) + (1 - blend) * uniform
    return out.astype(np.float32)


def write_cache(folder: Path, texts: list[list[str]]) -> None:
    """An attention cache (`attndsl.models.extract` format) of `texts` with `real_attention`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(
        json.dumps(
            {
                "version": FORMAT_VERSION,
                "model": "fake",
                "layers": LAYERS,
                "heads": HEADS,
                "max_tokens": 128,
                "dtype": "float16",
                "passages": len(texts),
            }
        )
    )
    offset, index = 0, []
    with open(folder / "attention.f16", "wb") as data:
        for k, tokens in enumerate(texts):
            rows, cols = np.tril_indices(len(tokens))
            payload = real_attention(tokens)[:, :, rows, cols].astype(DTYPE).tobytes()
            data.write(payload)
            index.append(
                {
                    "index": k,
                    "ids": list(range(len(tokens))),
                    "pieces": tokens,
                    "offset": offset,
                    "nbytes": len(payload),
                    "crc": zlib.crc32(payload),
                }
            )
            offset += len(payload)
    (folder / "index.jsonl").write_text("".join(json.dumps(e) + "\n" for e in index))


def make_run(folder: Path, texts: list[list[str]] | None = None) -> Path:
    """Write a whole fake run into `folder` and return it."""
    from attndsl.models import AttentionCache
    from attndsl.rundir import run_summary

    texts = texts or passages()
    run = RunDir(folder)
    run.start(
        {
            "model": "fake",
            "corpus": "valid-sample",
            "seed": 0,
            "max_tokens": 128,
            "heads": None,
            "synth": "enum",
            "fractions": [0.1, 0.25, 0.5],
        },
        resume=False,
    )
    write_cache(run.path("attention", "test"), texts)
    cache = AttentionCache(run.path("attention", "test"))
    heads = sorted(PROGRAMS)
    summaries = summarise_all(
        cache, range(len(texts)), heads, {h: [(PROGRAMS[h], 0.9)] for h in heads}
    )
    write_text(
        run.path("summaries.jsonl"),
        "".join(json.dumps(s.to_json()) + "\n" for s in summaries.values()),
    )
    entries, programs = [], {}
    for head in heads:
        program = library()[PROGRAMS[head]]
        iou = float(
            np.mean([soft_iou(program(t), cache.attention(k)[head]) for k, t in enumerate(texts)])
        )
        hypothesis = (program.docstring or "").split(":", 1)[-1].strip()
        entries.append(
            {
                "layer": head[0],
                "head": head[1],
                "program_id": program.id,
                "name": program.name,
                "origin": "library",
                "hypothesis": hypothesis,
                "select_iou": round(iou + 0.01, 4),
                "test_iou": iou,
            }
        )
        entry = programs.setdefault(
            program.id,
            {
                "name": program.name,
                "origin": "library",
                "hypothesis": hypothesis,
                "heads": [],
                "source": program.text,
            },
        )
        entry["heads"].append(f"{head[0]}.{head[1]}")
        write_text(run.path("programs", f"{program.id}.py"), program.text)
    write_json(
        run.path("selection.json"), {"candidates": 40, "heads": entries, "programs": programs}
    )
    rows = [
        {
            "fraction": 0.0,
            "heads": 0,
            "programs": 10.0,
            "mean": 10.0,
            "uniform": 10.0,
            "first": 10.0,
        }
    ]
    rows += [
        {
            "fraction": f,
            "heads": h,
            "programs": 10.0 + h,
            "mean": 11.0 + 2 * h,
            "uniform": 12.0 + 4 * h,
            "first": 13.0 + 8 * h,
        }
        for f, h in ((0.1, 1), (0.25, 2), (0.5, 3))
    ]
    write_json(run.path("perplexity.json"), {"order": [list(h) for h in heads], "rows": rows})
    for k, name in enumerate(STAGES):
        run.finish_stage(name, 1.5 * (k + 1))
    write_json(run.path("summary.json"), run_summary(run))
    return run.folder
