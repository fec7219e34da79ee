"""The successful calls that made or changed each resource, kept on disk: a small event history.

Like CloudTrail's event history, each entry is one call (eventName, eventTime, awsRegion,
requestID, recipientAccountId, requestParameters) filed under the ARN of the one resource it made
or changed. Reads (Describe*, List*, Get*) are not kept; which calls are kept, and their requests
without secrets or payloads, is decided by emulator.aws.call_events.

Bounded twice, so a busy emulator never grows it without limit:
- per resource: its first call (the Create) and the last MAX_CALLS_PER_RESOURCE - 1 after it;
- in all: at most MAX_ENTRIES entries and MAX_BYTES of them; past either, the resources changed
  least recently are forgotten whole (oldest first), as an event history ages out.

The file is a journal of JSON lines, appended per call (no fsync: a crash of the emulator, not of
the machine) and rewritten from memory once it holds more than twice the live entries, so the
file stays within about twice the in-memory bound. A torn last line is skipped at load.
A write the disk refuses is logged and skipped: the call it records has already succeeded.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from emulator.aws.call_events import CallEvent

log = logging.getLogger(__name__)

MAX_CALLS_PER_RESOURCE = 20
MAX_ENTRIES = 20_000
MAX_BYTES = 16 * 1024 * 1024
_COMPACT_SLACK = 1_000
"""Lines the file may hold beyond twice the live entries before it is rewritten."""

Event = dict[str, Any]


class CallHistory:
    def __init__(
        self,
        path: Path,
        *,
        per_resource: int = MAX_CALLS_PER_RESOURCE,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.path = path
        self._per_resource = max(per_resource, 2)
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        # resource -> its kept lines (JSON text), oldest first; the least recently changed first.
        self._lines: OrderedDict[str, list[str]] = OrderedDict()
        self._entries = 0
        self._bytes = 0
        self._file_lines = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._load()

    # --- reads ------------------------------------------------------------------------------------

    def calls(self, resource: str) -> list[Event]:
        """The kept calls of one resource, oldest first."""
        with self._lock:
            lines = list(self._lines.get(resource, ()))
        return [json.loads(line)["event"] for line in lines]

    def size(self) -> tuple[int, int]:
        """(entries, bytes) kept in memory."""
        with self._lock:
            return self._entries, self._bytes

    # --- writes -----------------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every call, on disk too (the moto API's reset: the resources are gone)."""
        with self._lock:
            self._lines.clear()
            self._entries = self._bytes = self._file_lines = 0
            self.path.unlink(missing_ok=True)

    def record(self, call: CallEvent | None) -> None:
        """Keep `call` (None: a call the history does not keep, a read)."""
        if call is None:
            return
        resource = call.resource
        line = json.dumps({"resource": resource, "event": call.event}, default=str)
        with self._lock:
            self._keep(resource, line)
            try:
                with self.path.open("a", encoding="utf-8") as journal:
                    journal.write(line + "\n")
                self._file_lines += 1
                if self._file_lines > 2 * self._entries + _COMPACT_SLACK:
                    self._rewrite()
            except OSError as exc:
                log.warning("call history not written (%s): %s", self.path, exc)

    def _keep(self, resource: str, line: str) -> None:
        kept = self._lines.pop(resource, None)
        if kept is None:
            kept = []
        kept.append(line)
        self._entries += 1
        self._bytes += len(line)
        if len(kept) > self._per_resource:
            # The first call (the resource's Create) stays; the oldest after it goes.
            dropped = kept.pop(1)
            self._entries -= 1
            self._bytes -= len(dropped)
        self._lines[resource] = kept  # now the most recently changed
        while len(self._lines) > 1 and (
            self._entries > self._max_entries or self._bytes > self._max_bytes
        ):
            _, forgotten = self._lines.popitem(last=False)
            self._entries -= len(forgotten)
            self._bytes -= sum(len(x) for x in forgotten)

    def _rewrite(self) -> None:
        """The file from memory (live entries only), replacing the old one whole. Written resource
        by resource, least recently changed first: loading it back gives the same order."""
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            for lines in self._lines.values():
                out.writelines(line + "\n" for line in lines)
        os.replace(temporary, self.path)
        self._file_lines = self._entries

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return
        for line in text.splitlines():
            try:
                entry = json.loads(line)
                resource = entry["resource"]
                entry["event"]["eventName"]
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line (a crash mid-append)
            if isinstance(resource, str):
                self._keep(resource, line)
            self._file_lines += 1
