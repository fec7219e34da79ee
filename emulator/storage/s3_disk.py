"""S3's data dir: the write-through copy of what moto's S3 holds, and its sync after every mutating
request (what a start puts back into moto is s3_load.py's).

moto keeps S3 in memory. So that buckets and objects survive a restart (even `kill -9`), every
mutating S3 request (through the edge or through S3Store) is followed, before its response is
sent, by a sync of the touched bucket to disk. A sync costs what the request changed, not what
the bucket holds: each bucket's key store in moto records the names a request changed
(`moto_internals.s3_tracking`), and only those are written.

Layout under the store's root::

    buckets.json                  {name: {"region", "created", "versioning"}}
    index.sqlite3 (+ -wal, -shm)  every version of every object (delete markers included), every
                                  multipart upload in progress and its parts: their metadata and
                                  the name of their body (see s3_index.py)
    bodies/<t[:2]>/<t>            one body, t = a fresh random name per version (or part) written
    bodies.journal                names of the bodies being written or removed (body_journal.py)

A body is written once, under a fresh name, before the index row that points to it is
committed: a crash in between leaves a file no row points to (the journal names it, and the
next start removes it), never a row pointing to a partial body. That file is also what moto
serves: once it is written, the key's own buffer is swapped for a `FileBody` of it, so the data
dir holds the only copy.

A write the disk refuses (full) is undone in moto as well (`_restore`: moto's copy of what the
request changed goes back to the disk's), the files it wrote are removed, and `DiskFull` is
raised: what was acknowledged is on disk, what was refused is nowhere, before and after a
restart.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator.storage.body_journal import BodyJournal
from emulator.storage.file_body import FileBody
from emulator.storage.file_writes import replace_file
from emulator.storage.moto_internals import s3 as moto_s3
from emulator.storage.moto_internals import s3_tracking, s3_uploads, s3_versions
from emulator.storage.moto_internals.s3 import Bucket, Version
from emulator.storage.s3_index import BucketRow, S3Index
from emulator.storage.space import DiskFull, is_disk_full

log = logging.getLogger(__name__)


class S3Disk:
    """The data dir's copy of S3. Not thread-safe: its caller (S3Store) holds its lock around
    every use, which covers moto's S3 backend too."""

    def __init__(self, root: Path, region: str, lock: AbstractContextManager[Any]) -> None:
        self.root = root
        self.region = region
        self.lock = lock
        """The store's lock (moto's CloudWatch counts a bucket's keys without holding it)."""
        self.bodies = root / "bodies"
        for prefix in range(256):  # made once: a write need not check its folder
            (self.bodies / f"{prefix:02x}").mkdir(parents=True, exist_ok=True)
        self.buckets_file = root / "buckets.json"
        self.buckets: dict[str, BucketRow] = {}
        """Each bucket's row of buckets.json, as the disk holds it."""
        self.uploads: dict[str, dict[str, dict[int, str]]] = {}
        """bucket -> upload id -> part number -> body token, as the disk holds them."""
        self.index = S3Index(root / "index.sqlite3")
        self.journal = BodyJournal(root / "bodies.journal")

    def close(self) -> None:
        self.index.close()

    def sync_bucket(self, bucket: str) -> None:
        """Write what the last request changed in `bucket` to disk (after every mutating one).

        If the disk refuses, moto's copy of what changed is put back to the disk's (the request
        is undone) and `DiskFull` (or the other error) is raised.
        """
        write = _Write()
        try:
            self._sync_bucket(bucket, write)
        except Exception as exc:
            self.index.rollback()
            for path in write.written:
                path.unlink(missing_ok=True)
            self.journal.settled()
            try:
                self._restore(bucket, write)
            except Exception:
                log.exception("could not undo a refused write to S3 bucket %s", bucket)
            if is_disk_full(exc):
                raise DiskFull() from exc
            raise
        for done in write.after_commit:
            done()
        for token in write.obsolete:
            self.body_path(token).unlink(missing_ok=True)
        self.journal.settled()

    def _sync_bucket(self, bucket: str, write: _Write) -> None:
        found = moto_s3.bucket(bucket)
        if found is None:
            if bucket in self.buckets:
                # buckets.json first: rows of a bucket it does not name are dropped at start.
                self._write_buckets({k: v for k, v in self.buckets.items() if k != bucket})
                del self.buckets[bucket]
                self.uploads.pop(bucket, None)
                self.index.begin()
                write.obsolete += self.index.drop_bucket(bucket)
                self.journal.removing(write.obsolete)
                self.index.commit()
            return
        facts = moto_s3.bucket_facts(found)
        row = BucketRow(facts.region, _iso(facts.created), moto_s3.versioning(found))
        tracked = s3_tracking.track_keys(found, self._stored(bucket, facts.region))
        changed = s3_tracking.take_changed_keys(found)
        if not tracked or changed is None:
            write.keys = set(s3_tracking.all_key_names(found)) | self.index.key_names(bucket)
        else:
            write.keys = changed
        keys = write.keys
        write.after_commit.append(lambda: s3_tracking.settle_keys(found, keys))
        previous = self.buckets.get(bucket)
        if previous != row:
            self._write_buckets({**self.buckets, bucket: row})
            self.buckets[bucket] = row
            write.bucket_row = (previous,)
        self.index.begin()
        for name in sorted(write.keys):
            self._sync_key(bucket, found, name, write)
        self._sync_uploads(bucket, found, write)
        self.journal.removing(write.obsolete)
        self.index.commit()

    def _sync_key(self, bucket: str, found: Bucket, name: str, write: _Write) -> None:
        versions = s3_versions.key_versions(found, name)
        tokens = [s3_versions.version_token(version) for version in versions]
        stored = self.index.versions(bucket, name)
        if tokens == [row.token for row in stored]:
            return
        rows: list[tuple[str, s3_versions.VersionFacts]] = []
        for version, token in zip(versions, tokens, strict=True):
            facts = s3_versions.version_facts(version)
            if token is None:
                token = self._write_body(version, facts, write)
            rows.append((token, facts))
        self.index.put_versions(bucket, name, rows)
        kept = {token for token, _ in rows}
        write.obsolete += [
            row.token for row in stored if not row.facts.is_delete_marker and row.token not in kept
        ]

    def _sync_uploads(self, bucket: str, found: Bucket, write: _Write) -> None:
        on_disk = self.uploads.get(bucket, {})
        current = s3_uploads.uploads(found)
        if not current and not on_disk:
            return
        state: dict[str, dict[int, str]] = {}
        for upload_id, parts in on_disk.items():
            if upload_id not in current:
                self.index.drop_upload(bucket, upload_id)
                write.obsolete += parts.values()
        for upload_id, upload in current.items():
            stored = on_disk.get(upload_id)
            if stored is None:
                self.index.put_upload(bucket, upload_id, s3_uploads.upload_facts(upload))
                stored = {}
            tokens: dict[int, str] = {}
            parts = s3_uploads.upload_parts(upload)
            for number, part in parts.items():
                token = s3_versions.version_token(part)
                if token is None or stored.get(number) != token:
                    facts = s3_versions.version_facts(part)
                    token = self._write_body(part, facts, write)
                    self.index.put_part(bucket, upload_id, number, token, facts)
                    if number in stored:
                        write.obsolete.append(stored[number])
                tokens[number] = token
            for number, token in stored.items():
                if number not in parts:
                    self.index.drop_part(bucket, upload_id, number)
                    write.obsolete.append(token)
            state[upload_id] = tokens
        write.after_commit.append(lambda: self.uploads.__setitem__(bucket, state))

    def _write_body(self, version: Version, facts: s3_versions.VersionFacts, write: _Write) -> str:
        """Write a new version's body (none for a delete marker) under a fresh name; once the
        index points to it, moto serves it from there."""
        token = uuid.uuid4().hex
        if not facts.is_delete_marker:
            path = self.body_path(token)
            self.journal.writing(token)
            write.written.append(path)
            with path.open("wb") as out:
                moto_s3.copy_body(version, out)
            size = facts.size
            write.after_commit.append(
                lambda: s3_versions.serve_body_from(version, FileBody(path), size)
            )
        write.after_commit.append(lambda: s3_versions.set_version_token(version, token))
        return token

    def _restore(self, bucket: str, write: _Write) -> None:
        """Put moto's copy of what the refused request changed back to the disk's."""
        found = moto_s3.bucket(bucket)
        row = self.buckets.get(bucket)
        if write.bucket_row is not None:
            # The bucket's row was written but the rest was refused: take it back as well.
            (row,) = write.bucket_row
            rows = {k: v for k, v in self.buckets.items() if k != bucket}
            if row is not None:
                rows[bucket] = row
            self.buckets = rows
            self._write_buckets(rows)
        if row is None:
            if found is not None:
                moto_s3.drop_bucket(bucket)  # its creation was refused
            self.uploads.pop(bucket, None)
            return
        if found is None:  # its deletion was refused
            found = self.create_bucket(bucket, row)  # its keys read from the index again
            write.keys = set()
        moto_s3.set_versioning(found, row.versioning)
        for name in write.keys:
            seqs = [stored.seq for stored in self.index.versions(bucket, name)]
            s3_tracking.put_stored_versions(found, name, seqs)
        s3_tracking.take_changed_keys(found)
        self.restore_uploads(bucket, found)

    def restore_uploads(self, bucket: str, found: Bucket) -> None:
        stored = self.index.uploads(bucket)
        for upload_id in s3_uploads.uploads(found):
            s3_uploads.drop_upload(found, upload_id)
        region = moto_s3.bucket_facts(found).region
        state: dict[str, dict[int, str]] = {}
        for upload_id, (facts, parts) in stored.items():
            made = {}
            for part in parts:
                key = s3_versions.make_version(
                    bucket, region, part.part, part.facts, FileBody(self.body_path(part.token))
                )
                s3_versions.set_version_token(key, part.token)
                made[part.part] = key
            s3_uploads.restore_upload(found, region, upload_id, facts, made)
            state[upload_id] = {part.part: part.token for part in parts}
        if state:
            self.uploads[bucket] = state
        else:
            self.uploads.pop(bucket, None)

    def _stored(self, bucket: str, region: str) -> _IndexKeys:
        return _IndexKeys(self, bucket, region)

    def body_path(self, token: str) -> Path:
        return self.bodies / token[:2] / token

    def _write_buckets(self, buckets: dict[str, BucketRow]) -> None:
        payload = {name: row._asdict() for name, row in buckets.items()}
        replace_file(self.buckets_file, json.dumps(payload, indent=1).encode())

    def create_bucket(self, bucket: str, row: BucketRow) -> Bucket:
        """Put a bucket of the disk copy into moto, its keys to be loaded when first read."""
        created = datetime.fromisoformat(row.created) if row.created else None
        found = moto_s3.create_bucket(bucket, row.region, created)
        moto_s3.set_versioning(found, row.versioning)
        s3_tracking.serve_stored_keys(found, self._stored(bucket, row.region))
        return found


class _IndexKeys:
    """A bucket's keys in the index, for moto's key store (`s3_tracking.StoredKeys`), used
    under the store's lock."""

    def __init__(self, disk: S3Disk, bucket: str, region: str) -> None:
        self.lock = disk.lock
        self._disk = disk
        self._bucket = bucket
        self._region = region

    def seqs(self, name: str) -> list[int]:
        return self._disk.index.seqs(self._bucket, name)

    def everything(self) -> Iterable[tuple[str, list[int]]]:
        return self._disk.index.key_seqs(self._bucket)

    def counts(self) -> tuple[int, int]:
        return self._disk.index.counts(self._bucket)

    def names_from(self, start: str, inclusive: bool, limit: int) -> list[str]:
        return self._disk.index.names_from(self._bucket, start, inclusive, limit)

    def load(self, name: str, seq: int) -> Version:
        """A stored version as moto's object, when a request first reads it."""
        stored = self._disk.index.version(self._bucket, name, seq)
        body = (
            None if stored.facts.is_delete_marker else FileBody(self._disk.body_path(stored.token))
        )
        version = s3_versions.make_version(self._bucket, self._region, name, stored.facts, body)
        s3_versions.set_version_token(version, stored.token)
        return version


@dataclass
class _Write:
    """What one sync wrote, to finish it once the index committed, or to undo it."""

    keys: set[str] = field(default_factory=set)
    """The names whose versions it stored."""
    bucket_row: tuple[BucketRow | None] | None = None
    """(the bucket's previous row,) when it rewrote buckets.json."""
    written: list[Path] = field(default_factory=list)
    """Body files it created."""
    obsolete: list[str] = field(default_factory=list)
    """Tokens of the bodies no longer pointed to once it committed."""
    after_commit: list[Callable[[], Any]] = field(default_factory=list)


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
