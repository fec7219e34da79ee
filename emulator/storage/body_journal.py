"""Which S3 body files a crash may have left unreferenced, so that a start need not list them all.

A body is written before the index row that points to it is committed, and a replaced body is
removed after the commit that drops its row: `kill -9` between the two leaves a file no row points
to. Before either step the store appends the body's name to this journal (`w <t>`: being written,
`d <t>`: to be removed), and `ok` once the write is settled (committed and cleaned up, or undone).
At start only the names after the last `ok` are checked against the index: the work is that of
the writes a crash interrupted, not that of the data.

Appends are not fsync'd, like the bodies and the index (a crash of the emulator, not of the
machine). An `ok` or `d` the disk refuses (full) is skipped: at worst a file stays behind.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_TRUNCATE_AT = 1 << 20


class BodyJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def _append(self, data: bytes) -> int:
        # Opened per note: a store nobody closes leaves no file open (the cost: an open per write).
        with self.path.open("ab", buffering=0) as journal:
            journal.write(data)
            return journal.tell()

    def unsettled(self) -> set[str]:
        """The names noted after the last `ok` (a torn last line is skipped)."""
        try:
            lines = self.path.read_bytes().split(b"\n")[:-1]
        except FileNotFoundError:
            return set()
        found: set[str] = set()
        for line in lines:
            if line == b"ok":
                found.clear()
            elif line[:2] in (b"w ", b"d "):
                found.add(line[2:].decode("ascii", "replace"))
        return found

    def writing(self, token: str) -> None:
        """Before a new body file is made (a refusal refuses the write)."""
        self._append(f"w {token}\n".encode())

    def removing(self, tokens: list[str]) -> None:
        """Before the commit after which these bodies are removed."""
        if tokens:
            with contextlib.suppress(OSError):
                self._append("".join(f"d {token}\n" for token in tokens).encode())

    def settled(self) -> None:
        with contextlib.suppress(OSError):
            if self._append(b"ok\n") > _TRUNCATE_AT:
                self.clear()

    def clear(self) -> None:
        """Forget every note (everything noted is settled)."""
        os.truncate(self.path, 0)
