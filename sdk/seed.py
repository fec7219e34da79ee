"""Seed the emulator's S3 from local files and folders.

The classic notebooks read public AWS buckets (e.g. `s3://aws-ml-blog-sagemaker-census-segmentation/`)
that do not exist offline; seeding puts the same objects under the same names in the emulator.
Key naming follows `aws s3 cp`: a file goes to `prefix/<name>` when the destination ends with
`/` (or is a bare bucket), else to the destination key itself; a folder is copied recursively with
its relative paths under the prefix.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdk import session as sm_session


class SeedError(ValueError):
    """A seed request that cannot be carried out (bad URI, missing source)."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        if not uri.startswith("s3://"):
            raise SeedError(f"not an S3 URI: {uri!r} (expected s3://bucket[/prefix])")
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not bucket:
            raise SeedError(f"no bucket in S3 URI {uri!r}")
        return cls(bucket, key)


def _files_under(folder: Path) -> Iterator[Path]:
    # Sorted, so that a seed is reproducible; hidden files are data too (aws s3 cp copies them).
    yield from sorted(p for p in folder.rglob("*") if p.is_file())


def plan(source: Path, destination: str) -> list[tuple[Path, S3Location]]:
    """The (local file, S3 location) pairs that seeding `source` to `destination` writes."""
    target = S3Location.parse(destination)
    if not source.exists():
        raise SeedError(f"no such file or folder: {source}")
    if source.is_file():
        key = target.key
        if not key or key.endswith("/"):
            key += source.name
        return [(source, S3Location(target.bucket, key))]
    prefix = target.key if not target.key or target.key.endswith("/") else target.key + "/"
    return [
        (path, S3Location(target.bucket, prefix + path.relative_to(source).as_posix()))
        for path in _files_under(source)
    ]


def ensure_bucket(s3: Any, bucket: str) -> None:
    """Create `bucket` unless it exists (path-style against the emulator; region us-east-1)."""
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket in existing:
        return
    region = s3.meta.region_name
    if region in (None, "us-east-1"):
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def seed(source: Path, destination: str, s3: Any) -> list[str]:
    """Upload `source` (file or folder) to `destination` (`s3://bucket[/prefix]`).

    Creates the bucket when it is missing. Returns the `s3://` URIs written.
    """
    pairs = plan(source, destination)
    ensure_bucket(s3, S3Location.parse(destination).bucket)
    written = []
    for path, location in pairs:
        content_type, _ = mimetypes.guess_type(path.name)
        extra = {"ContentType": content_type} if content_type else {}
        s3.upload_file(str(path), location.bucket, location.key, ExtraArgs=extra)
        written.append(f"s3://{location.bucket}/{location.key}")
    return written


def seed_tree(root: Path, s3: Any) -> list[str]:
    """Seed a folder whose top-level folders are buckets (`root/<bucket>/<key...>`).

    This is the `--seed-dir` layout for compose files. Loose files at the top level belong to no
    bucket and are an error rather than silently skipped.
    """
    if not root.is_dir():
        raise SeedError(f"seed dir {root} is not a folder")
    loose = sorted(p.name for p in root.iterdir() if p.is_file())
    if loose:
        raise SeedError(
            f"seed dir {root} has files at its top level ({', '.join(loose)}); "
            "its top-level folders are buckets: put files in <seed dir>/<bucket>/..."
        )
    written: list[str] = []
    for bucket_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        ensure_bucket(s3, bucket_dir.name)
        written += seed(bucket_dir, f"s3://{bucket_dir.name}/", s3)
    return written


def seed_emulator(
    source: Path,
    destination: str | None,
    endpoint_url: str,
    region: str = sm_session.DEFAULT_REGION,
) -> list[str]:
    """`seed` (or `seed_tree` when `destination` is None) against the emulator at `endpoint_url`."""
    s3 = sm_session.client("s3", endpoint_url, region)
    if destination is None:
        return seed_tree(source, s3)
    return seed(source, destination, s3)
