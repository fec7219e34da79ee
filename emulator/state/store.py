"""Persistent record store: one SQLite file under the data dir, so state survives a restart.

Records are dataclasses from `records.py`, kept as JSON (datetimes tagged, enums by value) in one
table keyed by (kind, name). SQLite gives atomic writes; a lock serialises the one connection,
which every service thread shares.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import types
import typing
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

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
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS records ("
            " kind TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,"
            " PRIMARY KEY (kind, name))"
        )

    def put(self, kind: str, name: str, record: object) -> None:
        body = json.dumps(to_state(record), separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT INTO records (kind, name, body) VALUES (?, ?, ?)"
                " ON CONFLICT(kind, name) DO UPDATE SET body = excluded.body",
                (kind, name, body),
            )

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
        with self._lock:
            self._db.execute(
                "INSERT INTO records (kind, name, body) VALUES (?, ?, ?)"
                " ON CONFLICT(kind, name) DO UPDATE SET body = excluded.body",
                (kind, name, json.dumps(value)),
            )

    def get_raw(self, kind: str, name: str) -> Any:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM records WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def delete(self, kind: str, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM records WHERE kind = ? AND name = ?", (kind, name))

    def close(self) -> None:
        with self._lock:
            self._db.close()
