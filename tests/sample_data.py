"""The data the tests read, inside the repository: 188 TinyStories validation stories
(tests/data/tinystories/, CDLA-Sharing-1.0; its README is the data card)."""

from pathlib import Path

SAMPLE = Path(__file__).resolve().parent / "data" / "tinystories" / "valid-sample.jsonl"
