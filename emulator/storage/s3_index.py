"""The index of S3's data dir: buckets, object versions, multipart uploads and their parts, in one
SQLite file (write-ahead log), so that a write changes a few rows whatever the bucket holds, and
a start reads the rows it needs without opening any object's file.

Durability is the bodies': neither they nor the index are fsync'd, so what was acknowledged
survives the emulator's crash (`kill -9`: the kernel keeps the writes), not the machine's.
After every commit the write-ahead log is checkpointed, so that the next write starts again at
its beginning: the log keeps the size of the largest write, and a delete on a full disk fits in
it (deleting needs no new space).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from emulator.storage.moto_internals.s3_uploads import UploadFacts
from emulator.storage.moto_internals.s3_versions import VersionFacts

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    token TEXT NOT NULL,
    version_id TEXT NOT NULL,
    marker INTEGER NOT NULL,
    last_modified TEXT NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    storage_class TEXT,
    versioned INTEGER NOT NULL,
    PRIMARY KEY (bucket, key, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    bucket TEXT NOT NULL,
    upload_id TEXT NOT NULL,
    facts TEXT NOT NULL,
    PRIMARY KEY (bucket, upload_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parts (
    bucket TEXT NOT NULL,
    upload_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    token TEXT NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    last_modified TEXT NOT NULL,
    PRIMARY KEY (bucket, upload_id, part)
) WITHOUT ROWID;
"""


class BucketRow(NamedTuple):
    """A bucket's settings, as buckets.json holds them."""

    region: str
    created: str
    versioning: str | None


class VersionRow(NamedTuple):
    seq: int
    token: str
    facts: VersionFacts


class PartRow(NamedTuple):
    part: int
    token: str
    facts: VersionFacts


class S3Index:
    """One connection, used under the S3 store's lock only."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # --- a write: one transaction ----------------------------------------------------------------

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")
        with contextlib.suppress(sqlite3.Error):  # committed all the same: the next one retries
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # --- buckets (their settings are in buckets.json: see s3.py) ----------------------------

    def bucket_names(self) -> set[str]:
        """The buckets that have rows: one seek per bucket (the tables are ordered by bucket),
        not a pass over every row."""
        found: set[str] = set()
        for table in ("versions", "uploads"):
            last = ""
            while row := self.db.execute(
                f"SELECT bucket FROM {table} WHERE bucket > ? ORDER BY bucket LIMIT 1", (last,)
            ).fetchone():
                last = row[0]
                found.add(last)
        return found

    def drop_bucket(self, name: str) -> list[str]:
        """Forget the bucket and all it holds; the tokens of the bodies it had."""
        tokens = [
            token
            for (token,) in self.db.execute(
                "SELECT token FROM versions WHERE bucket = ? AND marker = 0 "
                "UNION ALL SELECT token FROM parts WHERE bucket = ?",
                (name, name),
            )
        ]
        self.db.execute("DELETE FROM versions WHERE bucket = ?", (name,))
        self.db.execute("DELETE FROM uploads WHERE bucket = ?", (name,))
        self.db.execute("DELETE FROM parts WHERE bucket = ?", (name,))
        return tokens

    # --- versions ----------------------------------------------------------------------------

    def seqs(self, bucket: str, key: str) -> list[int]:
        """The numbers of the key's stored versions, oldest first ([] when none)."""
        rows = self.db.execute(
            "SELECT seq FROM versions WHERE bucket = ? AND key = ? ORDER BY seq", (bucket, key)
        )
        return [seq for (seq,) in rows]

    def key_seqs(self, bucket: str) -> Iterator[tuple[str, list[int]]]:
        """(key, numbers of its stored versions, oldest first) of every key of the bucket."""
        rows = self.db.execute(
            "SELECT key, seq FROM versions WHERE bucket = ? ORDER BY key, seq", (bucket,)
        ).fetchall()
        current: str | None = None
        seqs: list[int] = []
        for key, seq in rows:
            if key != current:
                if current is not None:
                    yield current, seqs
                current, seqs = key, []
            seqs.append(seq)
        if current is not None:
            yield current, seqs

    def counts(self, bucket: str) -> tuple[int, int]:
        """How many keys the bucket has (delete markers included), and how many versions."""
        row = self.db.execute(
            "SELECT COUNT(DISTINCT key), COUNT(*) FROM versions WHERE bucket = ?", (bucket,)
        ).fetchone()
        return int(row[0]), int(row[1])

    def names_from(self, bucket: str, start: str, inclusive: bool, limit: int) -> list[str]:
        """Up to `limit` key names of the bucket from `start` on (itself too when `inclusive`),
        in key order: the UTF-8 byte order of SQLite's BINARY collation, which is the order of
        Python's strings (code points) and S3's. One seek in the primary key."""
        rows = self.db.execute(
            f"SELECT DISTINCT key FROM versions WHERE bucket = ? AND key {'>=' if inclusive else '>'} ? "
            "ORDER BY key LIMIT ?",
            (bucket, start, limit),
        )
        return [key for (key,) in rows]

    def key_names(self, bucket: str) -> set[str]:
        rows = self.db.execute("SELECT DISTINCT key FROM versions WHERE bucket = ?", (bucket,))
        return {key for (key,) in rows}

    def current_sizes(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        """(key, size) of every object under `prefix` whose latest version is no delete marker,
        in key order."""
        rows = self.db.execute(
            "SELECT key, size, marker FROM versions v WHERE bucket = ? AND key >= ? "
            "AND seq = (SELECT MAX(seq) FROM versions WHERE bucket = v.bucket AND key = v.key) "
            "ORDER BY key",
            (bucket, prefix),
        )
        found: list[tuple[str, int]] = []
        for key, size, marker in rows:
            if not key.startswith(prefix):
                break
            if not marker:
                found.append((key, size))
        return found

    def version(self, bucket: str, key: str, seq: int) -> VersionRow:
        row = self.db.execute(
            "SELECT seq, token, version_id, marker, last_modified, etag, size, metadata, "
            "storage_class, versioned FROM versions WHERE bucket = ? AND key = ? AND seq = ?",
            (bucket, key, seq),
        ).fetchone()
        if row is None:
            raise KeyError((bucket, key, seq))
        return _version_row(row)

    def versions(self, bucket: str, key: str) -> list[VersionRow]:
        rows = self.db.execute(
            "SELECT seq, token, version_id, marker, last_modified, etag, size, metadata, "
            "storage_class, versioned FROM versions WHERE bucket = ? AND key = ? ORDER BY seq",
            (bucket, key),
        )
        return [_version_row(row) for row in rows]

    def put_versions(
        self, bucket: str, key: str, versions: list[tuple[str, VersionFacts]]
    ) -> list[int]:
        """Replace the key's stored versions with these (token, facts), oldest first; their
        numbers."""
        self.db.execute("DELETE FROM versions WHERE bucket = ? AND key = ?", (bucket, key))
        self.db.executemany(
            "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    bucket,
                    key,
                    seq,
                    token,
                    facts.version_id,
                    int(facts.is_delete_marker),
                    _iso(facts.last_modified),
                    facts.etag,
                    facts.size,
                    json.dumps(facts.metadata),
                    facts.storage_class,
                    int(facts.versioned),
                )
                for seq, (token, facts) in enumerate(versions)
            ],
        )
        return list(range(len(versions)))

    def referenced(self, tokens: set[str]) -> set[str]:
        """Those of `tokens` a row points to (one pass over the index: after a crash only)."""
        found: set[str] = set()
        for table in ("versions", "parts"):
            for (token,) in self.db.execute(f"SELECT token FROM {table}"):
                if token in tokens:
                    found.add(token)
        return found

    # --- multipart uploads ---------------------------------------------------------------------

    def uploads(self, bucket: str) -> dict[str, tuple[UploadFacts, list[PartRow]]]:
        found: dict[str, tuple[UploadFacts, list[PartRow]]] = {}
        for upload_id, facts in self.db.execute(
            "SELECT upload_id, facts FROM uploads WHERE bucket = ?", (bucket,)
        ):
            found[upload_id] = (UploadFacts(**json.loads(facts)), [])
        for upload_id, part, token, etag, size, modified in self.db.execute(
            "SELECT upload_id, part, token, etag, size, last_modified FROM parts "
            "WHERE bucket = ? ORDER BY upload_id, part",
            (bucket,),
        ):
            if upload_id in found:
                facts = VersionFacts("null", False, _naive(modified), etag, size, {}, None, False)
                found[upload_id][1].append(PartRow(part, token, facts))
        return found

    def put_upload(self, bucket: str, upload_id: str, facts: UploadFacts) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO uploads VALUES (?, ?, ?)",
            (bucket, upload_id, json.dumps(facts.__dict__)),
        )

    def drop_upload(self, bucket: str, upload_id: str) -> None:
        self.db.execute(
            "DELETE FROM uploads WHERE bucket = ? AND upload_id = ?", (bucket, upload_id)
        )
        self.db.execute("DELETE FROM parts WHERE bucket = ? AND upload_id = ?", (bucket, upload_id))

    def put_part(
        self, bucket: str, upload_id: str, part: int, token: str, facts: VersionFacts
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (bucket, upload_id, part, token, facts.etag, facts.size, _iso(facts.last_modified)),
        )

    def drop_part(self, bucket: str, upload_id: str, part: int) -> None:
        self.db.execute(
            "DELETE FROM parts WHERE bucket = ? AND upload_id = ? AND part = ?",
            (bucket, upload_id, part),
        )


def _version_row(row: Any) -> VersionRow:
    seq, token, version_id, marker, modified, etag, size, metadata, storage, versioned = row
    facts = VersionFacts(
        version_id=version_id,
        is_delete_marker=bool(marker),
        last_modified=_naive(modified),
        etag=etag,
        size=size,
        metadata=json.loads(metadata),
        storage_class=storage,
        versioned=bool(versioned),
    )
    return VersionRow(seq, token, facts)


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _naive(value: str) -> datetime | None:
    """Naive UTC, as moto keeps its dates."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(UTC).replace(tzinfo=None)
