"""The files of the CloudWatch Logs store: one folder per log group, per stream a small JSON
record and its events, one `[timestamp, ingestion, message]` JSON array a line (see `logs.py` for
the layout). Writes are atomic or undone; a line cut short by a crash is skipped on read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator.storage.file_writes import append_lines, replace_file
from emulator.storage.moto_internals.logs import Event

log = logging.getLogger(__name__)


def read_events(path: Path, oldest: int | None) -> tuple[list[Event], bool]:
    events: list[Event] = []
    dropped = False
    try:
        handle = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        return events, False
    with handle:
        for line in handle:
            try:
                stamp, ingestion, message = json.loads(line)
            except (ValueError, TypeError):
                dropped = True  # a line cut short by a crash: rewrite the file without it
                continue
            if oldest is not None and stamp < oldest:
                dropped = True
                continue
            events.append(Event(stamp, ingestion, message))
    return events, dropped


def event_lines(events: Iterable[Event]) -> str:
    return "".join(
        json.dumps([e.timestamp, e.ingestion_time, e.message], separators=(",", ":")) + "\n"
        for e in events
    )


def append_events(path: Path, events: Iterable[Event]) -> None:
    append_lines(path, event_lines(events).encode())


def rewrite_events(path: Path, events: list[Event]) -> None:
    with contextlib.suppress(OSError):  # no space to compact now: the next load tries again
        replace_file(path, event_lines(events).encode())


def atomic_write(path: Path, value: dict[str, Any]) -> None:
    replace_file(path, json.dumps(value).encode())


def digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def iso(value: datetime | None) -> str:
    if value is None:
        return ""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def from_iso(value: str) -> datetime:
    # moto keeps naive UTC datetimes.
    return datetime.fromisoformat(value).astimezone(UTC).replace(tzinfo=None)


def convert_journal(path: Path, region_dir: Path) -> set[str]:
    """Convert the append-only journal of earlier versions (`journal.jsonl`) into the per-stream
    files of `region_dir`, once; the groups it held. Written straight to the files, not through
    moto."""
    if not path.exists():
        return set()
    count = 0
    now_ms = int(time.time() * 1000)
    created = iso(datetime.now(UTC))
    outputs: dict[tuple[str, str], Any] = {}
    try:
        with path.open("r", encoding="utf-8") as journal:
            for line in journal:
                try:
                    record = json.loads(line)
                    group, stream = record["group"], record["stream"]
                except (ValueError, KeyError, TypeError):
                    continue
                out = outputs.get((group, stream))
                if out is None:
                    directory = region_dir / digest(group)
                    if not directory.is_dir():
                        directory.mkdir(parents=True)
                        atomic_write(
                            directory / "group.json",
                            {"name": group, "created": created, "retention": None, "kms": None},
                        )
                    meta = {"name": stream, "created": created}
                    atomic_write(directory / f"{digest(stream)}.json", meta)
                    out = (directory / f"{digest(stream)}.jsonl").open("a", encoding="utf-8")
                    outputs[(group, stream)] = out
                for stamp, lines in record.get("events", []):
                    for message in lines:
                        out.write(json.dumps([stamp, now_ms, message]) + "\n")
                    count += len(lines)
    finally:
        for out in outputs.values():
            out.close()
    path.unlink()
    log.info("logs: converted the old journal (%d event(s)) to per-stream files", count)
    return {group for group, _stream in outputs}
