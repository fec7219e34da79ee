"""Pipe mode's feeder: FIFOs per epoch from the S3 store (real S3Store over moto's backend)."""

from __future__ import annotations

import gzip
import io
import uuid
from pathlib import Path

import pytest

from algorithms.common import recordio
from emulator.services.pipe_feed import ChannelPipe, fifo_path
from emulator.services.staging import host_objects
from emulator.services.training.spec import ChannelSpec, parse_channel
from emulator.storage.s3 import S3Store

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture()
def s3(tmp_path: Path) -> S3Store:
    store = S3Store(tmp_path / "s3", "us-east-1")
    return store


def _channel(uri: str, distribution: str = "FullyReplicated", **extra: str) -> ChannelSpec:
    source = {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": distribution}
    return parse_channel({"ChannelName": "train", "DataSource": {"S3DataSource": source}, **extra})


def _read_epochs(pipe: ChannelPipe, data: Path, epochs: int) -> list[bytes]:
    pipe.start()
    try:
        read = []
        for epoch in range(epochs):
            with open(fifo_path(data, "train", epoch), "rb") as fifo:
                read.append(fifo.read())
        return read
    finally:
        pipe.close()


def _bucket(s3: S3Store, objects: dict[str, bytes]) -> str:
    name = f"pipe-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(name)
    for key, body in objects.items():
        s3.put_object(name, key, body)
    return name


def test_each_epoch_streams_the_hosts_share_in_key_order(s3: S3Store, tmp_path: Path) -> None:
    bucket = _bucket(s3, {f"d/{i}.csv": f"{i}\n".encode() for i in range(4)})
    channel = _channel(f"s3://{bucket}/d/", "ShardedByS3Key")
    for host, expected in ((0, b"0\n2\n"), (1, b"1\n3\n")):
        objects = host_objects(s3, channel, "us-east-1", ROLE, (host, 2))
        data = tmp_path / f"algo-{host + 1}"
        pipe = ChannelPipe(s3, objects, data, "train")
        assert _read_epochs(pipe, data, 3) == [expected] * 3
        assert pipe.error is None


def test_gzip_objects_are_decompressed_and_recordio_wrapped(s3: S3Store, tmp_path: Path) -> None:
    bucket = _bucket(s3, {"d/a.gz": gzip.compress(b"hello"), "d/b.gz": gzip.compress(b"pipe!")})
    objects = host_objects(s3, _channel(f"s3://{bucket}/d/"), "us-east-1", ROLE)
    pipe = ChannelPipe(s3, objects, tmp_path, "train", gunzip=True, recordio_wrap=True)
    (stream,) = _read_epochs(pipe, tmp_path, 1)
    assert list(recordio.iter_payloads(io.BytesIO(stream))) == [b"hello", b"pipe!"]


def test_a_corrupt_object_ends_the_epoch_with_a_client_error(s3: S3Store, tmp_path: Path) -> None:
    bucket = _bucket(s3, {"d/a.gz": b"not gzip at all"})
    objects = host_objects(s3, _channel(f"s3://{bucket}/d/"), "us-east-1", ROLE)
    pipe = ChannelPipe(s3, objects, tmp_path, "train", gunzip=True)
    assert _read_epochs(pipe, tmp_path, 1) == [b""]
    assert pipe.error is not None
    assert pipe.error.startswith(f'ClientError: Data download failed: "s3://{bucket}/d/a.gz"')
