"""The whole pipeline, stage by stage, in a run directory:

extract → summarise → synthesise → select → replace → report

Each stage (`_stages.STAGES`) reads the files earlier stages wrote and writes its own (see
`attndsl.rundir`), records its wall time in `run.json`, and is skipped when a resumed run
already finished it; stages that work head by head (synthesis, replacement costs) also
resume inside, after the last head they finished.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..rundir import SUMMARY, RunDir, read_json
from ._context import Context, Progress
from ._options import RunOptions
from ._stages import STAGES


def run_pipeline(
    options: RunOptions, out: str | Path, resume: bool = False, progress: Progress | None = None
) -> dict | None:
    """Run every stage not yet finished; return the run's summary (`summary.json`), or None
    after a dry run (which writes the LLM prompts and stops before sending any)."""
    if options.synth in ("llm", "both") and not options.dry_run:  # fail before any work
        from ..synth.llm import LLMConfig

        LLMConfig(
            model=options.llm_model,
            base_url=options.base_url,
            cache_dir=Path(out) / "llm" / "cache",
        ).require_key()
    run = RunDir(out)
    run.start(options.settings(), resume)
    context = Context(options, run, progress or (lambda stage, done, total, note: None))
    for stage in STAGES:
        if run.stage_done(stage.name):
            context.progress(stage.name, 1, 1)
            continue
        start = time.perf_counter()
        record = stage.run(context)
        if stage.name == "synthesise" and options.dry_run:
            return None
        run.finish_stage(stage.name, time.perf_counter() - start, **record)
    return read_json(run.path("summary.json"), SUMMARY)
