"""What an LLM endpoint adds to the enumerator on a finished run's worst heads, with and
without grammar-held decoding: held-out IoU, answers parsed/checked/won, tokens and seconds
per head. Same as `attndsl bench llm`.

    attndsl llm serve &   # or any OpenAI-compatible endpoint
    python benchmarks/bench_llm.py --run runs/smollm2 --base-url http://127.0.0.1:8080/v1
"""

import sys

from attndsl.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "llm", *sys.argv[1:]]))
