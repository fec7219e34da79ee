"""What a start puts back into moto's S3 from the data dir (s3_disk.py describes its layout).

Only the buckets are put into moto (and the multipart uploads in progress); a key is looked up
in the index when a request first names it, and a version becomes moto's object (its metadata
read from the index, its body left on disk) when a request first reads it
(`moto_internals/s3_tracking.py`). Start time and memory grow with the number of buckets, not
with what they hold. A start also finishes what a crash left (bodies no row points to, rows of a deleted
bucket) and takes over the layout of earlier versions (objects/).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from emulator.storage.moto_internals import s3 as moto_s3
from emulator.storage.moto_internals import s3_versions
from emulator.storage.s3_disk import S3Disk
from emulator.storage.s3_index import BucketRow

log = logging.getLogger(__name__)


def load(disk: S3Disk) -> None:
    """Put the disk copy back into moto (at start, before any request): the buckets, their
    keys read from the index when first asked for."""
    started = time.monotonic()
    if disk.buckets_file.exists():
        raw = json.loads(disk.buckets_file.read_bytes())
        disk.buckets = {name: _bucket_row(info, disk.region) for name, info in raw.items()}
    if (disk.root / "objects").is_dir():
        _import_old_layout(disk)
    stale = disk.index.bucket_names() - set(disk.buckets)
    if stale:  # deleted, but a crash came before their rows went
        disk.index.begin()
        gone = [token for bucket in stale for token in disk.index.drop_bucket(bucket)]
        disk.index.commit()
        for token in gone:
            disk.body_path(token).unlink(missing_ok=True)
    for bucket, row in disk.buckets.items():
        if moto_s3.bucket(bucket) is not None:
            moto_s3.drop_bucket(bucket)
        disk.restore_uploads(bucket, disk.create_bucket(bucket, row))
    _remove_unsettled(disk)
    log.info(
        "S3: loaded %d bucket(s) from %s in %.2f s (keys are read when first asked for)",
        len(disk.buckets),
        disk.root,
        time.monotonic() - started,
    )


def _import_old_layout(disk: S3Disk) -> None:
    """Take over the layout of earlier versions (one metadata file per object, no versions
    kept, under objects/): each body is linked into bodies/ and indexed, then objects/ goes.
    Can be redone from the start after a crash (rows are replaced, extra links are orphans)."""
    old = disk.root / "objects"
    rows = 0
    disk.index.begin()
    try:
        for bucket in disk.buckets:
            for meta_path in sorted((old / bucket).glob("*/*.json")):
                try:
                    meta = json.loads(meta_path.read_bytes())
                    token = uuid.uuid4().hex
                    disk.journal.writing(token)
                    os.link(meta_path.parent / meta["body"], disk.body_path(token))
                except (OSError, ValueError, KeyError) as exc:
                    log.warning("skipping unreadable S3 object record %s: %s", meta_path, exc)
                    continue
                modified = datetime.fromisoformat(meta["last_modified"])
                facts = s3_versions.VersionFacts(
                    version_id="null",
                    is_delete_marker=False,
                    last_modified=modified.astimezone(UTC).replace(tzinfo=None),
                    etag=meta["etag"],
                    size=int(meta["size"]),
                    metadata=dict(meta.get("metadata") or {}),
                    storage_class=meta.get("storage_class"),
                    versioned=False,
                )
                disk.index.put_versions(bucket, meta["key"], [(token, facts)])
                rows += 1
        disk.index.commit()
    except BaseException:
        disk.index.rollback()
        raise
    shutil.rmtree(old)
    log.info("S3: took over %d object(s) of the earlier layout (objects/)", rows)


def _remove_unsettled(disk: S3Disk) -> None:
    """Bodies a crash left without a row (written but not committed, or dropped from the
    index but not yet removed): only those the journal names are looked at."""
    unsettled = disk.journal.unsettled()
    if unsettled:
        kept = disk.index.referenced(unsettled)
        for token in unsettled - kept:
            disk.body_path(token).unlink(missing_ok=True)
        log.info("S3: removed %d body file(s) a crash left", len(unsettled - kept))
    disk.journal.clear()


def _bucket_row(info: dict[str, Any], region: str) -> BucketRow:
    return BucketRow(
        str(info.get("region") or region), str(info.get("created") or ""), info.get("versioning")
    )
