"""A model container's artifacts: ModelDataUrl or ModelDataSource, checked at CreateModel and
staged into the serving container's /opt/ml/model at deploy.

AWS stages `ModelDataSource.S3DataSource` in three ways (docs/sagemaker-facts.md#modeldatasource):

- `S3Object` + `Gzip`: the object is a gzip-compressed tar, unpacked into /opt/ml/model (what
  `ModelDataUrl` does);
- `S3Object` + `None`: the object becomes one file, /opt/ml/model/<last segment of its key>;
- `S3Prefix` + `None`: every object under the prefix becomes /opt/ml/model/<key minus prefix>,
  `/` giving directories. A forbidden name (empty or blank, with NUL, over 255 bytes, `.`, `..`),
  a name that is both a file and a directory, or a 0-byte "folder" object (key ending `/`) fails
  the deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emulator.aws.errors import ValidationException
from emulator.services.ports import ObjectStore
from emulator.services.staging import (
    StagingError,
    VolumeBudget,
    VolumeFull,
    parse_s3_uri,
    unpack_model,
)

_COPY_CHUNK = 1 << 20
_MAX_NAME_BYTES = 255


def s3_source(container: dict[str, Any]) -> dict[str, Any] | None:
    """The container's ModelDataSource.S3DataSource, if it names one."""
    source = container.get("ModelDataSource")
    if not isinstance(source, dict):
        return None
    s3: dict[str, Any] | None = source.get("S3DataSource")
    return s3


def uses_model_data_source(container: dict[str, Any]) -> bool:
    return "ModelDataSource" in container


def check_container(container: dict[str, Any], object_exists: Any) -> None:
    """CreateModel's checks of a container's model data; ValidationException when refused.

    `object_exists(uri) -> bool` tells whether a single S3 object exists.
    """
    url = container.get("ModelDataUrl")
    if url and uses_model_data_source(container):
        raise ValidationException(
            "ModelDataUrl and ModelDataSource are both specified: you must specify one and only "
            "one of them."
        )
    if url:
        if not object_exists(str(url)):
            raise ValidationException(f"Could not find model data at {url}.")
        return
    if not uses_model_data_source(container):
        return
    source = s3_source(container)
    if source is None:
        raise ValidationException(
            "ModelDataSource must specify one and only one of the available data sources "
            "(S3DataSource)."
        )
    uri = str(source["S3Uri"])
    data_type = source["S3DataType"]
    compression = source["CompressionType"]
    if data_type == "S3Prefix" and compression == "Gzip":
        raise ValidationException(
            f'ModelDataSource "{uri}": CompressionType Gzip requires S3DataType S3Object (a '
            "single gzip-compressed tar); an S3Prefix must use CompressionType None."
        )
    if data_type == "S3Prefix" and not uri.endswith("/"):
        raise ValidationException(
            f'ModelDataSource "{uri}": an S3Prefix S3Uri must end with a forward slash.'
        )
    if data_type == "S3Object" and not object_exists(uri):
        raise ValidationException(f"Could not find model data at {uri}.")


def stage_model(
    store: ObjectStore, container: dict[str, Any], model_dir: Path, budget: VolumeBudget
) -> None:
    """Put the container's model data into model_dir, within the volume `budget`; StagingError
    (the endpoint's FailureReason) when it cannot be staged."""
    url = container.get("ModelDataUrl")
    if url:
        unpack_model(store, str(url), model_dir, budget)
        return
    source = s3_source(container)
    if source is None:
        return
    uri = str(source["S3Uri"])
    data_type = source["S3DataType"]
    compression = source["CompressionType"]
    if data_type == "S3Object" and compression == "Gzip":
        unpack_model(store, uri, model_dir, budget)
    elif data_type == "S3Object":
        bucket, key = parse_s3_uri(uri)
        name = key.rsplit("/", 1)[-1]
        _check_name(uri, name)
        _download(store, bucket, key, model_dir / name, budget)
    elif compression == "None":
        _stage_prefix(store, uri, model_dir, budget)
    else:  # refused at CreateModel; a stored model of an older emulator may still name it
        raise StagingError(
            f'ModelDataSource "{uri}": S3Prefix with CompressionType {compression} is not '
            "supported."
        )


def _stage_prefix(store: ObjectStore, uri: str, model_dir: Path, budget: VolumeBudget) -> None:
    bucket, prefix = parse_s3_uri(uri)
    keys = store.list_keys(bucket, prefix) if store.head_bucket(bucket) else []
    if not keys:
        raise StagingError(f'No S3 objects found under the model data prefix "{uri}".')
    files: dict[tuple[str, ...], str] = {}
    for key, size in keys:
        relative = key[len(prefix) :]
        if relative.endswith("/") and size == 0:
            raise StagingError(
                f'The model data prefix "{uri}" holds the 0-byte folder object "{key}": '
                "uncompressed model data must hold files only."
            )
        parts = tuple(relative.split("/"))
        for part in parts:
            _check_name(f"s3://{bucket}/{key}", part)
        files[parts] = key
    directories = {parts[:i] for parts in files for i in range(1, len(parts))}
    for parts, key in files.items():
        if parts in directories:
            raise StagingError(
                f'The model data prefix "{uri}" holds "{key}" both as a file and as a folder '
                "of other objects: the names clash."
            )
    for parts, key in files.items():
        _download(store, bucket, key, model_dir.joinpath(*parts), budget)


def _check_name(uri: str, name: str) -> None:
    """AWS's rule for a file or folder name of uncompressed model data."""
    problem = None
    if not name.strip():
        problem = "is empty or blank"
    elif "\x00" in name:
        problem = "contains NUL"
    elif len(name.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES:
        problem = f"is longer than {_MAX_NAME_BYTES} bytes"
    elif name in (".", ".."):
        problem = f'is "{name}"'
    if problem is not None:
        raise StagingError(
            f'The model data object "{uri}" cannot be staged: a file or folder name {problem}.'
        )


def _download(
    store: ObjectStore, bucket: str, key: str, target: Path, budget: VolumeBudget
) -> None:
    try:
        stream = store.open_object(bucket, key)
    except Exception as exc:  # NoSuchKey / NoSuchBucket from the S3 store
        raise StagingError(f"Could not find model data at s3://{bucket}/{key}.") from exc
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with stream, open(target, "wb") as out:
            # Charged before each write: the model data stops at the volume's size.
            while chunk := stream.read(_COPY_CHUNK):
                budget.charge(len(chunk))
                out.write(chunk)
    except VolumeFull as exc:
        raise StagingError(f'Could not stage the model data "s3://{bucket}/{key}": {exc}.') from exc
    except OSError as exc:
        raise StagingError(f'Could not stage the model data "s3://{bucket}/{key}": {exc}') from exc
