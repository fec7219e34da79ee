"""CloudWatch Logs for the services, over moto's logs backend, persisted per stream in the data dir.

Container output becomes log events that clients read through moto's API (GetLogEvents,
DescribeLogStreams...); clients also write through that API (CreateLogGroup, PutLogEvents,
DeleteLogGroup, PutRetentionPolicy...). Both paths end here: the services call `put_lines`, and the
moto bridge calls `sync_group` after every mutating Logs request, before the response is sent, so
what was acknowledged survives a restart (even `kill -9`), and a write the disk refuses is undone
in moto too and raises `DiskFull`.

Layout under the store's root (one folder per region, one per group, files per stream; reading and
writing them is `log_files.py`'s job)::

    <region>/<h(group)>/group.json          {"name", "created", "retention", "kms"}
    <region>/<h(group)>/<h(stream)>.json    {"name", "created"}
    <region>/<h(group)>/<h(stream)>.jsonl   its events, one [timestamp, ingestion, message] a line

Start time does not grow with history: at start only groups and streams are put into moto; a
stream's events are read from its file the first time a request needs them (`load_for_request`,
or a write to that stream). A group's retention is applied when a stream is loaded: older events
are dropped and the file is rewritten without them. A line cut short by `kill -9` is skipped.
The journals of earlier versions (`journal.jsonl`, `<region>/journal.jsonl`) are converted once at
start.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from emulator.storage.log_files import (
    append_events,
    atomic_write,
    convert_journal,
    digest,
    from_iso,
    iso,
    read_events,
    rewrite_events,
)
from emulator.storage.moto_internals import logs as moto
from emulator.storage.space import DiskFull, is_disk_full

log = logging.getLogger(__name__)

_DAY_MS = 86_400_000
# Requests that never need a stream's events: they are served from groups and streams alone.
_NO_EVENTS = frozenset(
    {
        "CreateLogGroup",
        "CreateLogStream",
        "DeleteLogGroup",
        "DeleteLogStream",
        "PutRetentionPolicy",
        "DeleteRetentionPolicy",
        "DescribeLogGroups",
        "TagLogGroup",
        "UntagLogGroup",
        "ListTagsLogGroup",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
        "AssociateKmsKey",
        "DisassociateKmsKey",
    }
)


class _GroupState:
    """What the disk holds for one group: its settings and, per stream, the events written."""

    def __init__(self, directory: Path, meta: dict[str, Any]) -> None:
        self.directory = directory
        self.meta = meta
        self.streams: dict[str, int | None] = {}
        """stream name -> events on disk that moto holds too, or None: not loaded into moto."""


class LogStore:
    def __init__(self, root: Path, region: str = "us-east-1") -> None:
        self.root = root
        self.region = region
        self.lock = threading.RLock()
        """Held around every use of moto's logs backend (moto itself is not thread-safe)."""
        root.mkdir(parents=True, exist_ok=True)
        self._groups: dict[tuple[str, str], _GroupState] = {}
        started = time.monotonic()
        with self.lock:
            self._load()
            self._migrate_journal(root / "journal.jsonl", region)
            for legacy in sorted(root.glob("*/journal.jsonl")):
                self._migrate_journal(legacy, legacy.parent.name)
        log.info(
            "logs: %d group(s), %d stream(s) known (%.2f s)",
            len(self._groups),
            sum(len(g.streams) for g in self._groups.values()),
            time.monotonic() - started,
        )

    def for_region(self, region: str) -> LogStore:
        """This store with `region` as its default (the same files, state and lock)."""
        view = copy.copy(self)
        view.region = region
        return view

    # --- the services' interface ----------------------------------------------------------------

    def ensure_stream(self, group: str, stream: str, region: str | None = None) -> None:
        region = region or self.region
        with self.lock:
            state = self._groups.get((region, group))
            known = state is not None and stream in state.streams
            if known and moto.log_stream(region, group, stream) is not None:
                return
            if known:
                self.sync_group(group, region)  # deleted in moto meanwhile: forget it on disk too
            if moto.log_group(region, group) is None:
                moto.create_log_group(region, group)
            if moto.log_stream(region, group, stream) is None:
                moto.create_log_stream(region, group, stream)
            self.sync_group(group, region)

    def put_lines(
        self,
        group: str,
        stream: str,
        lines: list[str],
        timestamp_ms: int | None = None,
        region: str | None = None,
    ) -> None:
        """Append `lines` as events (all at `timestamp_ms`, default now) to the stream."""
        if not lines:
            return
        region = region or self.region
        stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        with self.lock:
            self.ensure_stream(group, stream, region)
            self._load_streams(region, group, [stream])
            moto.append_lines(moto.log_stream(region, group, stream), stamp, lines)
            self.sync_group(group, region)

    def close(self) -> None:
        """Nothing is buffered: every write is on disk when its call returns."""

    # --- persistence --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every group of every region, on disk too (moto's own state is reset by the
        caller, with the other backends)."""
        with self.lock:
            self._groups.clear()
            for path in self.root.iterdir():
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)

    def load_for_request(self, target: str, body: dict[str, Any], region: str | None) -> None:
        """Read from disk the events a Logs request (by its X-Amz-Target) needs, before moto runs."""
        operation = target.rsplit(".", 1)[-1]
        if operation in _NO_EVENTS:
            return
        region = region or self.region
        group = body.get("logGroupName") or body.get("logGroupIdentifier")
        names: list[str] = []
        if isinstance(body.get("logGroupNames"), list):
            names = [n for n in body["logGroupNames"] if isinstance(n, str)]
        elif isinstance(body.get("logGroupIdentifiers"), list):
            names = [n for n in body["logGroupIdentifiers"] if isinstance(n, str)]
        elif isinstance(group, str):
            names = [group]
        with self.lock:
            for name in names:
                name = name.rsplit(":log-group:", 1)[-1].removesuffix(":*")  # an ARN is allowed
                state = self._groups.get((region, name))
                if state is None:
                    continue
                wanted = [s for s, count in state.streams.items() if count is None]
                stream = body.get("logStreamName")
                if isinstance(stream, str):
                    wanted = [s for s in wanted if s == stream]
                elif isinstance(body.get("logStreamNames"), list):
                    wanted = [s for s in wanted if s in body["logStreamNames"]]
                elif isinstance(body.get("logStreamNamePrefix"), str):
                    wanted = [s for s in wanted if s.startswith(body["logStreamNamePrefix"])]
                self._load_streams(region, name, wanted)

    def sync_group(self, group: str, region: str | None = None) -> None:
        """Make the disk copy of `group` equal moto's; on a refused write, undo it in moto."""
        region = region or self.region
        with self.lock:
            try:
                self._sync_group(region, group)
            except Exception as exc:
                try:
                    self._restore(region, group)
                except Exception:
                    log.exception("could not undo a refused write to log group %s", group)
                if is_disk_full(exc):
                    raise DiskFull() from exc
                raise

    def sync_region(self, region: str | None = None) -> None:
        """Sync every group moto or the disk knows in `region` (a request naming no group)."""
        region = region or self.region
        with self.lock:
            names = set(moto.log_group_names(region))
            names |= {name for (r, name) in self._groups if r == region}
            for name in sorted(names):
                self.sync_group(name, region)

    def _sync_group(self, region: str, group: str) -> None:
        fake = moto.log_group(region, group)
        state = self._groups.get((region, group))
        if fake is None:
            if state is not None:
                shutil.rmtree(state.directory, ignore_errors=True)
                del self._groups[(region, group)]
            return
        settings = moto.group_settings(fake)
        meta = {
            "name": group,
            "created": iso(settings.created),
            "retention": settings.retention_days,
            "kms": settings.kms_key_id,
        }
        if state is None:
            directory = self.root / region / digest(group)
            directory.mkdir(parents=True, exist_ok=True)
            atomic_write(directory / "group.json", meta)
            state = self._groups[(region, group)] = _GroupState(directory, meta)
        elif state.meta != meta:
            atomic_write(state.directory / "group.json", meta)
            state.meta = meta
        streams = moto.log_streams(fake)
        for name, stream in streams.items():
            if name not in state.streams:
                atomic_write(
                    state.directory / f"{digest(name)}.json",
                    {"name": name, "created": iso(moto.stream_created(stream))},
                )
                state.streams[name] = 0
            written = state.streams[name]
            count = moto.event_count(stream)
            if written is not None and count > written:
                events = moto.stream_events(stream, written)
                append_events(state.directory / f"{digest(name)}.jsonl", events)
                state.streams[name] = count
        for name in [name for name in state.streams if name not in streams]:
            for suffix in (".json", ".jsonl"):
                (state.directory / f"{digest(name)}{suffix}").unlink(missing_ok=True)
            del state.streams[name]

    def _restore(self, region: str, group: str) -> None:
        """Put moto's copy of `group` back to the disk copy (after a refused write)."""
        moto.drop_log_group(region, group)
        state = self._groups.pop((region, group), None)
        if state is not None:
            self._load_group(region, state.directory)

    def _load(self) -> None:
        for region_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for directory in sorted(p for p in region_dir.iterdir() if p.is_dir()):
                self._load_group(region_dir.name, directory)

    def _load_group(self, region: str, directory: Path) -> None:
        """Put a group and its streams (not their events) into moto."""
        try:
            meta = json.loads((directory / "group.json").read_bytes())
            name = meta["name"]
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("skipping unreadable log group record %s", directory)
            return
        fake = moto.log_group(region, name)
        if fake is None:
            fake = moto.create_log_group(region, name)
        created = from_iso(meta["created"]) if meta.get("created") else None
        moto.restore_group_settings(fake, created, meta.get("retention"), meta.get("kms"))
        state = self._groups[(region, name)] = _GroupState(directory, meta)
        for path in directory.glob("*.json"):
            if path.name == "group.json":
                continue
            try:
                stream_meta = json.loads(path.read_bytes())
                stream_name = stream_meta["name"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            created = from_iso(stream_meta["created"]) if stream_meta.get("created") else None
            moto.restore_log_stream(fake, stream_name, created)
            state.streams[stream_name] = None

    def _load_streams(self, region: str, group: str, names: Iterable[str]) -> None:
        """Read these streams' events from their files into moto (once per stream)."""
        state = self._groups.get((region, group))
        fake = moto.log_group(region, group)
        if state is None or fake is None:
            return
        streams = moto.log_streams(fake)
        retention = state.meta.get("retention")
        oldest = int(time.time() * 1000) - int(retention) * _DAY_MS if retention else None
        for name in names:
            if state.streams.get(name, 0) is not None or name not in streams:
                continue
            path = state.directory / f"{digest(name)}.jsonl"
            events, dropped = read_events(path, oldest)
            if dropped:
                # Retention: the expired events leave the disk too (and the file stays bounded).
                rewrite_events(path, events)
            moto.prepend_events(streams[name], events)
            state.streams[name] = len(events)

    def _migrate_journal(self, path: Path, region: str) -> None:
        """Convert the append-only journal of earlier versions into per-stream files, once, then
        load its groups like any other start."""
        for group in convert_journal(path, self.root / region):
            if (region, group) not in self._groups:
                self._load_group(region, self.root / region / digest(group))


class RegionalLogs:
    """The stores of all regions: one `LogStore` (CloudWatch Logs is per region; its files are
    kept per region under one root), seen through a per-region view."""

    def __init__(self, root: Path, default_region: str) -> None:
        self.root = root
        self._store = LogStore(root, default_region)
        self.lock = self._store.lock

    def get(self, region: str) -> LogStore:
        return self._store.for_region(region)

    def reset(self) -> None:
        self._store.reset()

    def close(self) -> None:
        self._store.close()
