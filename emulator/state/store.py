"""Persistent record store: one SQLite file under the data dir, so state survives a restart.

Records are dataclasses from `records.py`, kept as JSON (datetimes tagged, enums by value) in one
table keyed by (kind, name). SQLite gives atomic writes; a lock serialises the one connection,
which every service thread shares.

On a full disk a write raises `DiskFull` when it would create a record (the caller answers an
error and keeps nothing), but an update of a record that is already stored (a running job moving
on, failing with the disk-full reason) is kept pending in memory and written by the next write or
`close()` once space returns: the services' in-memory state is the truth meanwhile.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import threading
import types
import typing
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from emulator.storage.space import DiskFull, is_disk_full

T = TypeVar("T")
log = logging.getLogger(__name__)

_DT_TAG = "$dt"


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_DT_TAG: value.isoformat()}
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _untag(value: Any) -> Any:
    """Restore datetimes inside free-form dicts (e.g. a stored request)."""
    if isinstance(value, dict):
        if set(value) == {_DT_TAG}:
            return datetime.fromisoformat(value[_DT_TAG])
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _decode(args[0], value) if len(args) == 1 else _untag(value)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_decode(item, v) for v in value]
    if isinstance(hint, type):
        if issubclass(hint, Enum):
            return hint(value)
        if hint is datetime:
            return datetime.fromisoformat(value[_DT_TAG])
        if dataclasses.is_dataclass(hint):
            return from_state(hint, value)
    return _untag(value)


def to_state(record: object) -> dict[str, Any]:
    encoded = _encode(record)
    assert isinstance(encoded, dict)
    return encoded


def from_state(cls: type[T], state: dict[str, Any]) -> T:
    hints = typing.get_type_hints(cls)
    kwargs = {
        f.name: _decode(hints[f.name], state[f.name])
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in state
    }
    return cls(**kwargs)


class RecordStore:
    """Typed CRUD over (kind, name) -> record, persisted in `<data_dir>/state.sqlite3`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], str] = {}
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS records ("
            " kind TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,"
            " PRIMARY KEY (kind, name))"
        )

    def put(self, kind: str, name: str, record: object) -> None:
        self._write(kind, name, json.dumps(to_state(record), separators=(",", ":")))

    def _write(self, kind: str, name: str, body: str) -> None:
        with self._lock:
            self._flush_pending()
            try:
                self._upsert(kind, name, body)
            except sqlite3.Error as exc:
                if not is_disk_full(exc):
                    raise
                exists = self._db.execute(
                    "SELECT 1 FROM records WHERE kind = ? AND name = ?", (kind, name)
                ).fetchone()
                if exists is None:
                    raise DiskFull() from exc
                self._pending[(kind, name)] = body

    def _upsert(self, kind: str, name: str, body: str) -> None:
        self._db.execute(
            "INSERT INTO records (kind, name, body) VALUES (?, ?, ?)"
            " ON CONFLICT(kind, name) DO UPDATE SET body = excluded.body",
            (kind, name, body),
        )

    def _flush_pending(self) -> None:
        """Write the updates a full disk held back (under the lock), oldest first."""
        while self._pending:
            (kind, name), body = next(iter(self._pending.items()))
            try:
                self._upsert(kind, name, body)
            except sqlite3.Error as exc:
                if is_disk_full(exc):
                    return
                raise
            del self._pending[(kind, name)]

    @property
    def pending(self) -> int:
        """How many updates wait for space (0 when everything is on disk)."""
        with self._lock:
            return len(self._pending)

    def get(self, kind: str, name: str, cls: type[T]) -> T | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM records WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
        return None if row is None else from_state(cls, json.loads(row[0]))

    def load_all(self, kind: str, cls: type[T]) -> list[T]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM records WHERE kind = ? ORDER BY name", (kind,)
            ).fetchall()
        return [from_state(cls, json.loads(body)) for (body,) in rows]

    def put_raw(self, kind: str, name: str, value: Any) -> None:
        """Store a plain JSON value (tags lists and the like)."""
        self._write(kind, name, json.dumps(value))

    def get_raw(self, kind: str, name: str) -> Any:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM records WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def delete(self, kind: str, name: str) -> None:
        with self._lock:
            self._flush_pending()
            self._pending.pop((kind, name), None)
            try:
                self._db.execute("DELETE FROM records WHERE kind = ? AND name = ?", (kind, name))
            except sqlite3.Error as exc:
                if is_disk_full(exc):
                    raise DiskFull() from exc
                raise

    def close(self) -> None:
        with self._lock:
            self._flush_pending()
            if self._pending:
                log.error(
                    "the disk is still full: %d record update(s) could not be stored",
                    len(self._pending),
                )
            self._db.close()
