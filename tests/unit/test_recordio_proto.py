"""records.py builds the same descriptor as record.proto / the SDK's record_pb2."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2

from algorithms.common import records

OUR_PROTO = Path(records.__file__).with_name("record.proto")
record_pb2: Any = importlib.import_module("sagemaker.amazon.record_pb2")
SDK_PROTO = Path(record_pb2.__file__).with_name("record.proto")


def declarations(proto_text: str) -> list[str]:
    """The tokens of a .proto file without comments or whitespace."""
    without_comments = re.sub(r"//[^\n]*", "", proto_text)
    return re.findall(r"[A-Za-z_][\w.]*|\d+|\S", without_comments)


def test_descriptor_equals_the_sdks() -> None:
    theirs = descriptor_pb2.FileDescriptorProto()
    record_pb2.DESCRIPTOR.CopyToProto(theirs)
    assert records.file_descriptor_proto() == theirs
    ours = descriptor_pb2.FileDescriptorProto()
    records.Record.DESCRIPTOR.file.CopyToProto(ours)
    assert ours == theirs


def test_record_proto_declares_what_the_sdks_declares() -> None:
    assert declarations(OUR_PROTO.read_text()) == declarations(SDK_PROTO.read_text())
    assert "package aialgs.data;" in OUR_PROTO.read_text()


def test_our_pool_is_not_the_default_pool() -> None:
    assert records.Record.DESCRIPTOR.file.pool is not record_pb2.DESCRIPTOR.pool
