"""Stage S3 data for containers: a training job's channels into /opt/ml/input/data/<channel>/
(File mode), and a model's tar.gz into /opt/ml/model (hosting and batch transform).

Copies what the real service downloads: S3Prefix (every object under the prefix) and ManifestFile
(the manifest's prefix + each listed suffix, as the SDK's record_set() writes it). One host gets
every object under both FullyReplicated and ShardedByS3Key. Gzip channels are decompressed while
staging, so the container reads plain files. FastFile channels are staged the same way; Pipe
channels are fed to FIFOs as the algorithm reads (services/pipe_feed.py) where the runtime's
containers see this machine's files, and staged like File where they do not.

Everything staged is bounded by the volume it would land on (a `VolumeBudget`): a training job's
ResourceConfig.VolumeSizeInGB, a production variant's VolumeSizeInGB, or 30 GB when the request
names none. Staging stops as soon as the budget is passed, so a small gzip bomb fails its job
or endpoint at once instead of filling the disk. No S3 key or archive member may land outside its
own folder.
"""

from __future__ import annotations

import errno
import gzip
import json
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from emulator.services.ports import ObjectStore

if TYPE_CHECKING:
    from emulator.services.training.spec import ChannelSpec

_COPY_CHUNK = 1 << 20

DEFAULT_VOLUME_GB = 30
"""The storage volume when a request names none: the SDK's default training volume_size, and the
EBS volume the SageMaker docs give hosting instances without local storage."""

_GIB = 1 << 30


class StagingError(Exception):
    """The input cannot be staged; the message is the job's FailureReason (ClientError: ...)."""


class VolumeFull(StagingError):
    """Staging would write more than the volume holds."""


class VolumeBudget:
    """Bytes that may still be written to one volume; `charge` before writing them."""

    def __init__(self, size_in_gb: int | None, what: str) -> None:
        # 0 or absent: an instance-storage type or no volume named; use the default.
        self.size_in_gb = size_in_gb or DEFAULT_VOLUME_GB
        self.limit = self.size_in_gb * _GIB
        self.used = 0
        self.what = what
        """Which setting the volume comes from, for the message (e.g. ResourceConfig.VolumeSizeInGB)."""

    def charge(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise VolumeFull(
                f"the data needs more than the {self.size_in_gb} GB storage volume "
                f"({self.what} = {self.size_in_gb}); increase {self.what}"
            )


def _is_no_space(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


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
    """channel_dir/relative, refused unless it stays inside channel_dir: no ".." segment, no
    absolute path, no NUL, and no symbolic link on the way that leads out."""
    path = PurePosixPath(relative)
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts or ".." in parts or path.is_absolute() or "\0" in relative:
        raise StagingError(f'ClientError: The S3 key path "{relative[:256]}" cannot be staged.')
    target = channel_dir.joinpath(*parts)
    if not target.resolve().is_relative_to(channel_dir.resolve()):
        raise StagingError(f'ClientError: The S3 key path "{relative[:256]}" cannot be staged.')
    return target


def _copy(source: BinaryIO, target: Path, gunzip: bool, budget: VolumeBudget) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with source, open(target, "wb") as out:
        reader: BinaryIO = gzip.GzipFile(fileobj=source) if gunzip else source  # type: ignore[assignment]
        with reader:
            # Charged before each write: a gzip bomb stops at the volume's size, not the disk's.
            while chunk := reader.read(_COPY_CHUNK):
                budget.charge(len(chunk))
                out.write(chunk)


def host_objects(
    store: ObjectStore,
    channel: ChannelSpec,
    region: str,
    role_arn: str,
    host: tuple[int, int] = (0, 1),
) -> list[S3Object]:
    """The objects of a channel one host gets, in key order (see `stage_channel`); StagingError
    when the channel names none."""
    name = channel.name
    # Defense in depth: create-time validation refuses these names too.
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise StagingError(f'ClientError: The channel name "{name[:64]}" cannot be staged.')
    if channel.uri is None or channel.data_type is None:
        raise StagingError(
            f"ClientError: Channel {name}: only S3DataSource input is supported by this emulator."
        )
    objects = list_source_objects(store, channel.data_type, channel.uri)
    if not objects:
        raise StagingError(_missing_message(channel.uri, region, role_arn))
    index, count = host
    if count > 1 and channel.distribution == "ShardedByS3Key":
        objects = objects[index::count]
    return objects


def stage_channel(
    store: ObjectStore,
    channel: ChannelSpec,
    channel_dir: Path,
    region: str,
    role_arn: str,
    budget: VolumeBudget | None = None,
    host: tuple[int, int] = (0, 1),
) -> int:
    """Download one channel into channel_dir; returns the number of objects staged.

    `budget` is the host's volume, shared by all its channels (default: a 30 GB volume).
    `host` is (index, count) of the host this tree belongs to: with `ShardedByS3Key` it gets
    every count-th object of the channel (a manifest's entries for ManifestFile) from its index
    on, in key order, so each host gets about 1/count of the objects and a host with none gets
    an empty channel, as AWS describes it (docs/several-instances.md)."""
    name = channel.name
    budget = budget or VolumeBudget(None, "ResourceConfig.VolumeSizeInGB")
    objects = host_objects(store, channel, region, role_arn, host)
    gunzip = channel.compression == "Gzip"
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
        source_uri = f"s3://{obj.bucket}/{obj.key}"[:1100]
        try:
            _copy(stream, target, gunzip, budget)
        except VolumeFull as exc:
            raise StagingError(
                f'ClientError: Data download failed: "{source_uri}" of channel {name}: {exc}.'
            ) from exc
        except OSError as exc:
            if _is_no_space(exc):
                raise StagingError(
                    f'ClientError: Data download failed: "{source_uri}" of channel {name}: '
                    "no space left on the device."
                ) from exc
            raise StagingError(f'ClientError: Data download failed: "{source_uri}": {exc}') from exc
        except (EOFError, zlib.error) as exc:  # zlib.error: a corrupt deflate stream
            raise StagingError(f'ClientError: Data download failed: "{source_uri}": {exc}') from exc
    return len(objects)


def unpack_model(
    store: ObjectStore, url: str, model_dir: Path, budget: VolumeBudget | None = None
) -> None:
    """Extract the model's tar.gz at `url` into model_dir (the container's /opt/ml/model).

    Raises StagingError with the real service's messages for a missing or broken archive; an
    archive that expands past `budget` (default: a 30 GB volume) or fills the disk says so.
    """
    budget = budget or VolumeBudget(None, "VolumeSizeInGB")
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
            for member in tar:
                # Charged from the header before the member is written: a 2 GiB member of a
                # 2 MB archive fails at once.
                budget.charge(member.size)
                _extract(tar, member, model_dir)
    except VolumeFull as exc:
        raise StagingError(
            f'Failed to extract model data archive from URL "{url}": {exc}.'
        ) from exc
    except OSError as exc:
        if _is_no_space(exc):
            raise StagingError(
                f'Failed to extract model data archive from URL "{url}": no space left on the '
                "device."
            ) from exc
        raise StagingError(failure) from exc
    except (tarfile.TarError, EOFError) as exc:
        raise StagingError(failure) from exc


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, model_dir: Path) -> None:
    if hasattr(tarfile, "data_filter"):
        # The "data" filter refuses absolute paths, links out of the tree and devices.
        # A directory's own mode is not applied: a read-only one would refuse its files (the
        # one thing extractall did for us, by setting directory modes last).
        tar.extract(member, model_dir, set_attrs=not member.isdir(), filter="data")
    elif _is_plain(member):  # Python < 3.11.4 (bookworm's python3, in the offline image)
        tar.extract(member, model_dir, set_attrs=not member.isdir())


def _is_plain(member: tarfile.TarInfo) -> bool:
    """A file or directory inside the tree: what the "data" filter keeps, for old Pythons."""
    inside = not member.name.startswith("/") and ".." not in PurePosixPath(member.name).parts
    return inside and (member.isfile() or member.isdir())
