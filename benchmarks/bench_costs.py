"""Replacement costs by attribution patching against exact costs, on a finished run: wall
times, Spearman ρ over all heads, and perplexity at 10 / 25 / 50% of heads replaced in each
order. Same as `attndsl bench costs`.

    python benchmarks/bench_costs.py --run runs/smollm2 [--json FILE]
"""

import sys

from attndsl.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "costs", *sys.argv[1:]]))
