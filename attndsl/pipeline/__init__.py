"""The pipeline: a run's options (`RunOptions`), the context its stages share, the stages
themselves (a tuple the driver iterates), the driver (`run_pipeline`), and `evaluate`, which
scores a finished run's programs on another corpus."""

from ._context import Context, LoadedModel, Progress
from ._driver import run_pipeline
from ._evaluate import evaluate
from ._llm_stage import head_summaries, known_programs, llm_config, llm_hooks, worst_heads
from ._options import SYNTHESISERS, RunOptions, worst_count
from ._stages import SCREEN_MARGIN, STAGES, Stage

__all__ = [
    "SCREEN_MARGIN",
    "STAGES",
    "SYNTHESISERS",
    "Context",
    "LoadedModel",
    "Progress",
    "RunOptions",
    "Stage",
    "evaluate",
    "head_summaries",
    "known_programs",
    "llm_config",
    "llm_hooks",
    "run_pipeline",
    "worst_count",
    "worst_heads",
]
