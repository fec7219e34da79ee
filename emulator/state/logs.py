"""CloudWatch Logs for the services, over moto's logs backend, persisted as an append-only journal.

Container output becomes log events that clients read through moto's API (GetLogEvents,
DescribeLogStreams...). Every group, stream and batch of events written here is appended to
`journal.jsonl` before the call returns and replayed on start, so the logs of old jobs survive a
restart; a line cut short by `kill -9` is skipped on replay.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import IO, Any

from moto.logs.models import logs_backends

from emulator.aws.arns import ACCOUNT_ID

log = logging.getLogger(__name__)


class LogStore:
    def __init__(
        self, root: Path, region: str = "us-east-1", lock: threading.RLock | None = None
    ) -> None:
        self.root = root
        self.region = region
        self.lock = lock if lock is not None else threading.RLock()
        """Held around every use of moto's logs backends (moto itself is not thread-safe); the
        stores of all regions share one, which the Logs API (through moto) takes too."""
        root.mkdir(parents=True, exist_ok=True)
        self._journal_path = root / "journal.jsonl"
        self._streams: set[tuple[str, str]] = set()
        self._replay()
        self._journal: IO[str] = self._journal_path.open("a", encoding="utf-8")
        if self._journal.tell() > 0 and not self._journal_path.read_bytes().endswith(b"\n"):
            # A record cut short by a crash: end its line so the next record stays whole.
            self._append_raw("\n")

    @property
    def backend(self) -> Any:
        return logs_backends[ACCOUNT_ID][self.region]

    def ensure_stream(self, group: str, stream: str) -> None:
        with self.lock:
            if (group, stream) in self._streams:
                return
            self._ensure(group, stream)
            self._append({"group": group, "stream": stream})

    def put_lines(
        self, group: str, stream: str, lines: list[str], timestamp_ms: int | None = None
    ) -> None:
        """Append `lines` as events (all at `timestamp_ms`, default now) to the stream."""
        if not lines:
            return
        stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        events = [{"timestamp": stamp, "message": line} for line in lines]
        with self.lock:
            self.ensure_stream(group, stream)
            self._put(group, stream, events)
            self._append({"group": group, "stream": stream, "events": [[stamp, lines]]})

    def close(self) -> None:
        with self.lock:
            self._journal.close()

    def _ensure(self, group: str, stream: str) -> None:
        backend = self.backend
        backend.ensure_log_group(group)
        backend.ensure_log_stream(group, stream)
        self._streams.add((group, stream))

    def _put(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        groups = self.backend.groups
        if group not in groups or stream not in groups[group].streams:
            self._ensure(group, stream)  # a client deleted it through the Logs API meanwhile
        # The stream's own method: the backend's put_log_events drops events older than 14 days,
        # which would lose old jobs' logs on replay.
        groups[group].streams[stream].put_log_events(events)

    def _append(self, record: dict[str, Any]) -> None:
        self._append_raw(json.dumps(record, separators=(",", ":")) + "\n")

    def _append_raw(self, text: str) -> None:
        self._journal.write(text)
        self._journal.flush()

    def _replay(self) -> None:
        if not self._journal_path.exists():
            return
        count = 0
        with self.lock, self._journal_path.open("r", encoding="utf-8") as journal:
            for line in journal:
                try:
                    record = json.loads(line)
                    group, stream = record["group"], record["stream"]
                except (ValueError, KeyError, TypeError):
                    log.warning("skipping a damaged line of %s", self._journal_path)
                    continue
                self._ensure(group, stream)
                for stamp, lines in record.get("events", []):
                    self._put(group, stream, [{"timestamp": stamp, "message": m} for m in lines])
                    count += len(lines)
        log.info("logs: replayed %d stream(s), %d event(s)", len(self._streams), count)


class RegionalLogs:
    """One LogStore per region (CloudWatch Logs is per region), all under one lock.

    Layout: `<root>/<region>/journal.jsonl`. A version 0.1 journal (`<root>/journal.jsonl`, one
    region) becomes the default region's.
    """

    def __init__(self, root: Path, default_region: str) -> None:
        self.root = root
        self.lock = threading.RLock()
        self._stores: dict[str, LogStore] = {}
        legacy = root / "journal.jsonl"
        if legacy.is_file() and not (root / default_region).exists():
            (root / default_region).mkdir(parents=True)
            legacy.rename(root / default_region / "journal.jsonl")
        if root.is_dir():
            for path in sorted(root.iterdir()):
                if path.is_dir() and (path / "journal.jsonl").is_file():
                    self.get(path.name)  # replay what each region wrote before

    def get(self, region: str) -> LogStore:
        with self.lock:
            store = self._stores.get(region)
            if store is None:
                store = LogStore(self.root / region, region, self.lock)
                self._stores[region] = store
            return store

    def close(self) -> None:
        with self.lock:
            for store in self._stores.values():
                store.close()
