"""Stage S3 data for containers: a training job's channels into /opt/ml/input/data/<channel>/
(File mode), and a model's tar.gz into /opt/ml/model (hosting and batch transform).

Copies what the real service downloads: S3Prefix (every object under the prefix) and ManifestFile
(the manifest's prefix + each listed suffix, as the SDK's record_set() writes it). One host gets
every object under both FullyReplicated and ShardedByS3Key. Gzip channels are decompressed while
staging, so the container reads plain files. Pipe and FastFile channels are staged the same way:
the built-ins read a channel's folder when it exists, whatever the input mode.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from emulator.services.ports import ObjectStore

_COPY_CHUNK = 1 << 20


class StagingError(Exception):
    """The input cannot be staged; the message is the job's FailureReason (ClientError: ...)."""


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    relative: str
    """Path below the channel directory."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise StagingError(f'ClientError: "{uri}" is not an S3 URI (s3://bucket/key).')
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise StagingError(f'ClientError: "{uri}" names no bucket.')
    return bucket, key


def _missing_message(uri: str, region: str, role_arn: str) -> str:
    bucket, _ = parse_s3_uri(uri)
    # The real service's FailureReason for an empty or missing prefix.
    return (
        f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. '
        f"Please ensure that the bucket exists in the selected region ({region}), that objects "
        f'exist under that S3 prefix, and that the role "{role_arn}" has "s3:ListBucket" '
        f'permissions on bucket "{bucket}".'
    )


def _prefix_objects(store: ObjectStore, uri: str) -> list[S3Object]:
    bucket, prefix = parse_s3_uri(uri)
    if not store.head_bucket(bucket):
        return []
    # Keys keep their path relative to the prefix's last "/": s3://b/data/ gives data/x.csv ->
    # x.csv, and an object URI s3://b/data/train.csv gives train.csv.
    base = prefix[: prefix.rfind("/") + 1]
    return [
        S3Object(bucket, key, key[len(base) :])
        for key, _size in store.list_keys(bucket, prefix)
        if not key.endswith("/")
    ]


def _manifest_objects(store: ObjectStore, uri: str) -> list[S3Object]:
    bucket, key = parse_s3_uri(uri)
    if not store.head_bucket(bucket):
        return []
    try:
        manifest = json.loads(store.get_object(bucket, key))
    except ValueError as exc:
        raise StagingError(f'ClientError: The manifest file "{uri}" is not valid JSON.') from exc
    except Exception as exc:  # NoSuchKey from the S3 store: the manifest itself is missing.
        raise StagingError(f'ClientError: Could not download the manifest file "{uri}".') from exc
    if (
        not isinstance(manifest, list)
        or not manifest
        or not isinstance(manifest[0], dict)
        or not isinstance(manifest[0].get("prefix"), str)
        or not all(isinstance(s, str) for s in manifest[1:])
    ):
        raise StagingError(
            f'ClientError: The manifest file "{uri}" must be a JSON list: '
            '[{"prefix": "s3://bucket/prefix/"}, "suffix", ...].'
        )
    prefix_bucket, prefix_key = parse_s3_uri(manifest[0]["prefix"])
    objects = []
    for suffix in manifest[1:]:
        object_key = prefix_key + suffix
        objects.append(S3Object(prefix_bucket, object_key, suffix.lstrip("/")))
    return objects


def list_source_objects(store: ObjectStore, data_type: str, uri: str) -> list[S3Object]:
    """The objects an S3DataSource names (S3Prefix or ManifestFile), with their relative paths."""
    if data_type == "S3Prefix":
        return _prefix_objects(store, uri)
    if data_type == "ManifestFile":
        return _manifest_objects(store, uri)
    raise StagingError(
        f"ClientError: S3DataType {data_type} is not supported by this emulator "
        "(S3Prefix and ManifestFile are)."
    )


def _safe_target(channel_dir: Path, relative: str) -> Path:
    parts = [p for p in PurePosixPath(relative).parts if p not in ("", ".", "/")]
    if not parts or ".." in parts:
        raise StagingError(f'ClientError: The S3 key path "{relative}" cannot be staged.')
    return channel_dir.joinpath(*parts)


def _copy(source: BinaryIO, target: Path, gunzip: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with source, open(target, "wb") as out:
        if gunzip:
            with gzip.GzipFile(fileobj=source) as unzipped:
                shutil.copyfileobj(unzipped, out, _COPY_CHUNK)
        else:
            shutil.copyfileobj(source, out, _COPY_CHUNK)


def stage_channel(
    store: ObjectStore,
    channel: dict[str, Any],
    channel_dir: Path,
    region: str,
    role_arn: str,
) -> int:
    """Download one channel into channel_dir; returns the number of objects staged."""
    source = channel["DataSource"].get("S3DataSource")
    if source is None:
        raise StagingError(
            f"ClientError: Channel {channel['ChannelName']}: only S3DataSource input is supported "
            "by this emulator."
        )
    uri = source["S3Uri"]
    objects = list_source_objects(store, source["S3DataType"], uri)
    if not objects:
        raise StagingError(_missing_message(uri, region, role_arn))
    gunzip = channel.get("CompressionType", "None") == "Gzip"
    channel_dir.mkdir(parents=True, exist_ok=True)
    for obj in objects:
        relative = obj.relative
        if gunzip and relative.endswith(".gz"):
            relative = relative[: -len(".gz")]
        target = _safe_target(channel_dir, relative)
        try:
            stream = store.open_object(obj.bucket, obj.key)
        except Exception as exc:  # NoSuchKey / NoSuchBucket from the S3 store.
            raise StagingError(
                f'ClientError: Data download failed: could not download "s3://{obj.bucket}/'
                f'{obj.key}" ({type(exc).__name__}).'
            ) from exc
        try:
            _copy(stream, target, gunzip)
        except (OSError, EOFError, zlib.error) as exc:  # zlib.error: a corrupt deflate stream
            raise StagingError(
                f'ClientError: Data download failed: "s3://{obj.bucket}/{obj.key}": {exc}'
            ) from exc
    return len(objects)


def unpack_model(store: ObjectStore, url: str, model_dir: Path) -> None:
    """Extract the model's tar.gz at `url` into model_dir (the container's /opt/ml/model).

    Raises StagingError with the real service's messages for a missing or broken archive.
    """
    failure = (
        f'Failed to extract model data archive from URL "{url}". Please ensure that the '
        "object located at the URL is a valid tar.gz archive."
    )
    try:
        bucket, key = parse_s3_uri(url)
        stream = store.open_object(bucket, key)
    except Exception as exc:  # NoSuchKey / NoSuchBucket from the S3 store.
        raise StagingError(f"Could not find model data at {url}.") from exc
    try:
        with stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
            # The "data" filter refuses absolute paths, links out of the tree and devices.
            if hasattr(tarfile, "data_filter"):
                tar.extractall(model_dir, filter="data")
            else:  # Python < 3.11.4 (bookworm's python3, in the offline emulator image)
                tar.extractall(model_dir, members=_plain_members(tar))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise StagingError(failure) from exc


def _plain_members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """Files and directories inside the tree: what the "data" filter keeps, for old Pythons."""
    for member in tar:
        inside = not member.name.startswith("/") and ".." not in PurePosixPath(member.name).parts
        if inside and (member.isfile() or member.isdir()):
            yield member
