"""Staging S3 channels into /opt/ml (real S3Store over moto's backend, no server)."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emulator.runtime.optml import OptMlTree
from emulator.services.staging import StagingError, stage_channel
from emulator.state.s3 import S3Store
from tests.sdk_recordio import write_dense_tensor

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture()
def s3(tmp_path: Path) -> S3Store:
    return S3Store(tmp_path / "s3", "us-east-1")


@pytest.fixture()
def bucket(s3: S3Store) -> str:
    name = f"stage-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(name)
    return name


def _channel(uri: str, data_type: str = "S3Prefix", **extra: Any) -> dict[str, Any]:
    source = {"S3DataType": data_type, "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
    return {"ChannelName": "train", "DataSource": {"S3DataSource": source}, **extra}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_prefix_keeps_relative_paths(s3: S3Store, bucket: str, tmp_path: Path) -> None:
    s3.put_object(bucket, "data/train/a.csv", b"1,2\n")
    s3.put_object(bucket, "data/train/sub/b.csv", b"3,4\n")
    s3.put_object(bucket, "data/other.csv", b"no\n")
    target = tmp_path / "train"
    count = stage_channel(s3, _channel(f"s3://{bucket}/data/train/"), target, "us-east-1", ROLE)
    assert count == 2
    assert _files(target) == {"a.csv": b"1,2\n", "sub/b.csv": b"3,4\n"}


def test_prefix_without_slash_and_object_uri(s3: S3Store, bucket: str, tmp_path: Path) -> None:
    s3.put_object(bucket, "data/train.csv", b"x\n")
    target = tmp_path / "one"
    stage_channel(s3, _channel(f"s3://{bucket}/data/train.csv"), target, "us-east-1", ROLE)
    assert _files(target) == {"train.csv": b"x\n"}


def test_manifest_written_by_the_sdk_record_set(s3: S3Store, bucket: str, tmp_path: Path) -> None:
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    records = write_dense_tensor(matrix)
    prefix = "sagemaker-record-sets/PCA-2024-01-31-12-00-00-123/"
    s3.put_object(bucket, prefix + "matrix_0.pbr", records)
    manifest = [{"prefix": f"s3://{bucket}/{prefix}"}, "matrix_0.pbr"]
    s3.put_object(bucket, prefix + ".amazon.manifest", json.dumps(manifest).encode())
    channel = _channel(f"s3://{bucket}/{prefix}.amazon.manifest", "ManifestFile")
    channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] = "ShardedByS3Key"
    target = tmp_path / "train"
    assert stage_channel(s3, channel, target, "us-east-1", ROLE) == 1
    assert _files(target) == {"matrix_0.pbr": records}


def test_gzip_is_decompressed(s3: S3Store, bucket: str, tmp_path: Path) -> None:
    s3.put_object(bucket, "gz/part.csv.gz", gzip.compress(b"1,2,3\n" * 100))
    target = tmp_path / "train"
    channel = _channel(f"s3://{bucket}/gz/", CompressionType="Gzip")
    stage_channel(s3, channel, target, "us-east-1", ROLE)
    assert _files(target) == {"part.csv": b"1,2,3\n" * 100}


def _corrupt_deflate() -> bytes:
    """A gzip header followed by a broken deflate stream (zlib.error, not OSError)."""
    good = gzip.compress(b"1,2,3\n" * 100)
    return good[:10] + b"\xff" * 20 + good[30:]


@pytest.mark.parametrize("body", [b"plain text", _corrupt_deflate()], ids=["not-gzip", "corrupt"])
def test_not_gzip_fails_clearly(s3: S3Store, bucket: str, tmp_path: Path, body: bytes) -> None:
    s3.put_object(bucket, "bad/part.csv.gz", body)
    with pytest.raises(StagingError, match="ClientError: Data download failed"):
        stage_channel(
            s3,
            _channel(f"s3://{bucket}/bad/", CompressionType="Gzip"),
            tmp_path / "t",
            "us-east-1",
            ROLE,
        )


@pytest.mark.parametrize("uri_key", ["missing/", None])
def test_empty_prefix_or_missing_bucket(
    s3: S3Store, bucket: str, tmp_path: Path, uri_key: str | None
) -> None:
    uri = f"s3://{bucket}/missing/" if uri_key else "s3://no-such-bucket-xyz/data/"
    with pytest.raises(StagingError, match="No S3 objects found under S3 URL"):
        stage_channel(s3, _channel(uri), tmp_path / "t", "us-east-1", ROLE)


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"prefix": "s3://b/"}', b'[{"nope": 1}, "a"]', b'[{"prefix": "s3://b/"}, 3]'],
)
def test_bad_manifests(s3: S3Store, bucket: str, tmp_path: Path, body: bytes) -> None:
    s3.put_object(bucket, "m/.amazon.manifest", body)
    with pytest.raises(StagingError, match="ClientError"):
        stage_channel(
            s3,
            _channel(f"s3://{bucket}/m/.amazon.manifest", "ManifestFile"),
            tmp_path / "t",
            "us-east-1",
            ROLE,
        )


def test_manifest_entry_missing(s3: S3Store, bucket: str, tmp_path: Path) -> None:
    manifest = [{"prefix": f"s3://{bucket}/p/"}, "absent.pbr"]
    s3.put_object(bucket, "p/.amazon.manifest", json.dumps(manifest).encode())
    with pytest.raises(StagingError, match=r"absent\.pbr"):
        stage_channel(
            s3,
            _channel(f"s3://{bucket}/p/.amazon.manifest", "ManifestFile"),
            tmp_path / "t",
            "us-east-1",
            ROLE,
        )


def test_manifest_cannot_escape_the_channel(s3: S3Store, bucket: str, tmp_path: Path) -> None:
    s3.put_object(bucket, "p/../evil", b"x")
    manifest = [{"prefix": f"s3://{bucket}/p/"}, "../evil"]
    s3.put_object(bucket, "p/.amazon.manifest", json.dumps(manifest).encode())
    with pytest.raises(StagingError):
        stage_channel(
            s3,
            _channel(f"s3://{bucket}/p/.amazon.manifest", "ManifestFile"),
            tmp_path / "t",
            "us-east-1",
            ROLE,
        )
    assert not (tmp_path / "evil").exists()


def test_config_jsons(tmp_path: Path) -> None:
    tree = OptMlTree(tmp_path / "opt_ml")
    tree.create()
    request = {
        "AlgorithmSpecification": {"TrainingImage": "i", "TrainingInputMode": "File"},
        "HyperParameters": {"k": "8", "feature_dim": "7", "force_dense": "True"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv;label_size=0",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://b/p",
                        "S3DataDistributionType": "ShardedByS3Key",
                    }
                },
            },
            {
                "ChannelName": "test",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/t"}},
            },
        ],
        "ResourceConfig": {"InstanceType": "ml.c4.xlarge", "InstanceCount": 1},
    }
    tree.write_training_config(request)
    config = tree.config_dir
    assert json.loads((config / "hyperparameters.json").read_text()) == {
        "k": "8",
        "feature_dim": "7",
        "force_dense": "True",
    }
    assert json.loads((config / "inputdataconfig.json").read_text()) == {
        "train": {
            "ContentType": "text/csv;label_size=0",
            "TrainingInputMode": "File",
            "S3DistributionType": "ShardedByS3Key",
            "RecordWrapperType": "None",
        },
        "test": {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        },
    }
    resource = json.loads((config / "resourceconfig.json").read_text())
    assert resource["current_host"] == "algo-1"
    assert resource["hosts"] == ["algo-1"]
    assert resource["network_interface_name"] == "eth0"
    assert resource["current_instance_type"] == "ml.c4.xlarge"
    assert tree.read_failure() is None
    tree.failure_path.write_text("ClientError: " + "x" * 2000)
    failure = tree.read_failure()
    assert failure is not None and len(failure) == 1024
