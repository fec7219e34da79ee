"""Staging S3 channels into /opt/ml (real S3Store over moto's backend, no server)."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import tarfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emulator.runtime.optml import OptMlTree
from emulator.services.staging import StagingError, VolumeBudget, stage_channel, unpack_model
from emulator.services.training.spec import ChannelSpec, parse, parse_channel
from emulator.storage.s3 import S3Store
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


def _channel(
    uri: str,
    data_type: str = "S3Prefix",
    distribution: str = "FullyReplicated",
    **extra: Any,
) -> ChannelSpec:
    source = {"S3DataType": data_type, "S3Uri": uri, "S3DataDistributionType": distribution}
    return parse_channel({"ChannelName": "train", "DataSource": {"S3DataSource": source}, **extra})


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
    channel = _channel(
        f"s3://{bucket}/{prefix}.amazon.manifest", "ManifestFile", distribution="ShardedByS3Key"
    )
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
        "TrainingJobName": "t",
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
    }
    tree.write_training_config(parse(request))
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


# --- bounded by the volume, never outside the channel ---------------------------------------------

MiB = 1 << 20


def _nearly_full(free: int, what: str = "ResourceConfig.VolumeSizeInGB") -> VolumeBudget:
    """A 1 GB volume of which only `free` bytes are left (other channels filled the rest)."""
    budget = VolumeBudget(1, what)
    budget.used = budget.limit - free
    return budget


def _tar_gz(members: dict[str, bytes], mode: int = 0o644) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_gzip_channel_stops_expanding_at_the_volume(
    s3: S3Store, bucket: str, tmp_path: Path
) -> None:
    bomb = gzip.compress(bytes(64 * MiB), compresslevel=1)
    assert len(bomb) < MiB
    s3.put_object(bucket, "bomb/data.csv.gz", bomb)
    target = tmp_path / "train"
    with pytest.raises(StagingError) as info:
        stage_channel(
            s3,
            _channel(f"s3://{bucket}/bomb/", CompressionType="Gzip"),
            target,
            "us-east-1",
            ROLE,
            _nearly_full(2 * MiB),
        )
    message = str(info.value)
    assert message.startswith("ClientError: ")
    assert "1 GB storage volume" in message and "ResourceConfig.VolumeSizeInGB" in message
    # Stopped as soon as the volume was full, not after expanding the whole archive.
    assert (target / "data.csv").stat().st_size <= 2 * MiB


def test_channels_share_one_volume(s3: S3Store, bucket: str, tmp_path: Path) -> None:
    s3.put_object(bucket, "a/x.csv", bytes(MiB))
    budget = _nearly_full(int(1.5 * MiB))
    stage_channel(s3, _channel(f"s3://{bucket}/a/"), tmp_path / "one", "us-east-1", ROLE, budget)
    with pytest.raises(StagingError, match="storage volume"):
        stage_channel(
            s3, _channel(f"s3://{bucket}/a/"), tmp_path / "two", "us-east-1", ROLE, budget
        )


def test_model_archive_stops_at_the_volume(s3: S3Store, bucket: str, tmp_path: Path) -> None:
    s3.put_object(bucket, "m/model.tar.gz", _tar_gz({"small": b"1", "weights": bytes(8 * MiB)}))
    model_dir = tmp_path / "model"
    with pytest.raises(StagingError) as info:
        unpack_model(
            s3, f"s3://{bucket}/m/model.tar.gz", model_dir, _nearly_full(MiB, "VolumeSizeInGB")
        )
    assert "storage volume" in str(info.value) and "VolumeSizeInGB" in str(info.value)
    assert "not a valid tar.gz" not in str(info.value)
    # The oversized member was refused from its header: nothing of it was written.
    assert not (model_dir / "weights").exists()
    assert (model_dir / "small").read_bytes() == b"1"


def test_model_archive_within_the_volume_and_read_only_dirs(
    s3: S3Store, bucket: str, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        folder = tarfile.TarInfo("code")
        folder.type = tarfile.DIRTYPE
        folder.mode = 0o555
        tar.addfile(folder)
        info = tarfile.TarInfo("code/inference.py")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
    s3.put_object(bucket, "m/ok.tar.gz", buffer.getvalue())
    unpack_model(s3, f"s3://{bucket}/m/ok.tar.gz", tmp_path / "model")
    assert (tmp_path / "model" / "code" / "inference.py").read_bytes() == b"ok"


needs_dev_full = pytest.mark.skipif(
    not os.path.exists("/dev/full"), reason="/dev/full (a device that is always full) is Linux's"
)


@needs_dev_full
def test_no_space_is_reported_as_such_for_a_model(s3: S3Store, bucket: str) -> None:
    # /dev/full answers every write with ENOSPC: "extracting" a member named `full` into /dev
    # writes to it, as a full disk would.
    s3.put_object(bucket, "m/full.tar.gz", _tar_gz({"full": b"x" * 100_000}, mode=0o666))
    with pytest.raises(StagingError) as info:
        unpack_model(s3, f"s3://{bucket}/m/full.tar.gz", Path("/dev"))
    assert "no space left on the device" in str(info.value)
    assert "not a valid tar.gz" not in str(info.value)


@needs_dev_full
def test_no_space_is_reported_as_such_for_a_channel(s3: S3Store, bucket: str) -> None:
    s3.put_object(bucket, "d/full", b"x" * 100_000)
    with pytest.raises(StagingError, match="no space left on the device"):
        stage_channel(s3, _channel(f"s3://{bucket}/d/"), Path("/dev"), "us-east-1", ROLE)


@pytest.mark.parametrize("key", ["data//abs/evil", "data/a/../../evil", "data/nul\x00evil"])
def test_keys_cannot_escape_the_channel(s3: S3Store, bucket: str, tmp_path: Path, key: str) -> None:
    s3.put_object(bucket, key, b"x")
    with pytest.raises(StagingError, match="cannot be staged"):
        stage_channel(s3, _channel(f"s3://{bucket}/data/"), tmp_path / "c" / "train", "r", ROLE)
    assert not [p for p in (tmp_path / "c").rglob("*") if p.is_file()]
    assert not (tmp_path / "c" / "evil").exists() and not (tmp_path / "evil").exists()


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_channel_names_are_refused(s3: S3Store, bucket: str, tmp_path: Path, name: str) -> None:
    s3.put_object(bucket, "data/config/hyperparameters.json", b"{}")
    channel = dataclasses.replace(_channel(f"s3://{bucket}/data/"), name=name)
    tree = OptMlTree(tmp_path / "opt_ml")
    with pytest.raises(StagingError, match="channel name"):
        stage_channel(s3, channel, tree.channel_dir(name), "us-east-1", ROLE)
    assert not (tree.input_data_dir.parent / "config" / "hyperparameters.json").exists()


def test_host_layout_of_instance_groups_and_their_resourceconfig() -> None:
    from emulator.runtime.optml import resource_config
    from emulator.services.training.spec import host_layout

    layout = host_layout(
        {
            "InstanceGroups": [
                {
                    "InstanceGroupName": "cpu",
                    "InstanceType": "ml.c5.xlarge",
                    "InstanceCount": 2,
                },
                {
                    "InstanceGroupName": "big",
                    "InstanceType": "ml.m5.4xlarge",
                    "InstanceCount": 1,
                },
            ]
        }
    )
    assert layout.hosts == ["algo-1", "algo-2", "algo-3"]
    config = resource_config(layout, "algo-3")
    assert config["current_host"] == "algo-3"
    assert config["current_group_name"] == "big"
    assert config["current_instance_type"] == "ml.m5.4xlarge"
    assert config["hosts"] == ["algo-1", "algo-2", "algo-3"]
    assert [g["hosts"] for g in config["instance_groups"]] == [["algo-1", "algo-2"], ["algo-3"]]
    many = host_layout({"InstanceType": "ml.m5.large", "InstanceCount": 11})
    assert many.hosts[-2:] == ["algo-10", "algo-11"]  # numeric order, as host names go
