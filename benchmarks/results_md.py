"""RESULTS.md's generated sections: a benchmark run with --write-results owns the block between
its two markers and rewrites only that block, so the prose around it stays as written."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().with_name("RESULTS.md")


def replace_block(block: str, begin: str, end: str, heading: str | None = None) -> None:
    """Put `block` (`begin`, the figures, `end`) where the markers are; the first time, at the
    end of the file, under `## heading` when one is given."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        title = f"## {heading}\n\n" if heading else ""
        text = text.rstrip("\n") + "\n\n" + title + block + "\n"
    RESULTS.write_text(text)
