"""The `aialgs.data` protobuf messages (record.proto) in a DescriptorPool of our own.

The SageMaker SDK's `sagemaker.amazon.record_pb2` registers the same full names into protobuf's
default pool; building ours in a private pool lets both live in one process (tests and benchmarks
compare against the SDK). The descriptor is built in code from `record.proto`'s declarations, so
no `protoc` is needed in the container, and it works on protobuf 3.20 through 5.x.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "aialgs.data"

_F = descriptor_pb2.FieldDescriptorProto

# (name, number, label, type, type_name, packed, oneof_index) per field, exactly as record.proto
# declares them; tests/unit/test_recordio_proto.py checks the result against the SDK's descriptor.
_TENSOR_KEYS_SHAPE = [
    ("keys", 2, _F.LABEL_REPEATED, _F.TYPE_UINT64, None, True, None),
    ("shape", 3, _F.LABEL_REPEATED, _F.TYPE_UINT64, None, True, None),
]
_MESSAGES: list[tuple[str, list[tuple[str, int, int, int, str | None, bool, int | None]]]] = [
    (
        "Float32Tensor",
        [("values", 1, _F.LABEL_REPEATED, _F.TYPE_FLOAT, None, True, None), *_TENSOR_KEYS_SHAPE],
    ),
    (
        "Float64Tensor",
        [("values", 1, _F.LABEL_REPEATED, _F.TYPE_DOUBLE, None, True, None), *_TENSOR_KEYS_SHAPE],
    ),
    (
        "Int32Tensor",
        [("values", 1, _F.LABEL_REPEATED, _F.TYPE_INT32, None, True, None), *_TENSOR_KEYS_SHAPE],
    ),
    (
        "Bytes",
        [
            ("value", 1, _F.LABEL_REPEATED, _F.TYPE_BYTES, None, False, None),
            ("content_type", 2, _F.LABEL_OPTIONAL, _F.TYPE_STRING, None, False, None),
        ],
    ),
    (
        "Value",
        [
            ("float32_tensor", 2, _F.LABEL_OPTIONAL, _F.TYPE_MESSAGE, "Float32Tensor", False, 0),
            ("float64_tensor", 3, _F.LABEL_OPTIONAL, _F.TYPE_MESSAGE, "Float64Tensor", False, 0),
            ("int32_tensor", 7, _F.LABEL_OPTIONAL, _F.TYPE_MESSAGE, "Int32Tensor", False, 0),
            ("bytes", 9, _F.LABEL_OPTIONAL, _F.TYPE_MESSAGE, "Bytes", False, 0),
        ],
    ),
    (
        "Record",
        [
            (
                "features",
                1,
                _F.LABEL_REPEATED,
                _F.TYPE_MESSAGE,
                "Record.FeaturesEntry",
                False,
                None,
            ),
            ("label", 2, _F.LABEL_REPEATED, _F.TYPE_MESSAGE, "Record.LabelEntry", False, None),
            ("uid", 3, _F.LABEL_OPTIONAL, _F.TYPE_STRING, None, False, None),
            ("metadata", 4, _F.LABEL_OPTIONAL, _F.TYPE_STRING, None, False, None),
            ("configuration", 5, _F.LABEL_OPTIONAL, _F.TYPE_STRING, None, False, None),
        ],
    ),
]
# `map<string, Value>` compiles to a nested *Entry message with map_entry set.
_MAP_ENTRIES = {"Record": ["FeaturesEntry", "LabelEntry"]}


def _add_field(
    message: descriptor_pb2.DescriptorProto,
    spec: tuple[str, int, int, int, str | None, bool, int | None],
) -> None:
    name, number, label, type_, type_name, packed, oneof_index = spec
    field = message.field.add(name=name, number=number, label=label, type=type_)
    if type_name is not None:
        field.type_name = f".{PACKAGE}.{type_name}"
    if packed:
        field.options.packed = True
    if oneof_index is not None:
        field.oneof_index = oneof_index


def file_descriptor_proto() -> descriptor_pb2.FileDescriptorProto:
    """record.proto as a FileDescriptorProto (what protoc would produce)."""
    fdp = descriptor_pb2.FileDescriptorProto(name="record.proto", package=PACKAGE)
    for name, fields in _MESSAGES:
        message = fdp.message_type.add(name=name)
        for spec in fields:
            _add_field(message, spec)
        if name == "Value":
            message.oneof_decl.add(name="value")
        for entry_name in _MAP_ENTRIES.get(name, []):
            entry = message.nested_type.add(name=entry_name)
            _add_field(entry, ("key", 1, _F.LABEL_OPTIONAL, _F.TYPE_STRING, None, False, None))
            _add_field(
                entry, ("value", 2, _F.LABEL_OPTIONAL, _F.TYPE_MESSAGE, "Value", False, None)
            )
            entry.options.map_entry = True
    fdp.options.java_package = "com.amazonaws.aialgorithms.proto"
    fdp.options.java_outer_classname = "RecordProtos"
    return fdp


def _message_classes() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_descriptor_proto())
    classes: dict[str, Any] = {}
    for name, _ in _MESSAGES:
        descriptor = pool.FindMessageTypeByName(f"{PACKAGE}.{name}")
        get_class = getattr(message_factory, "GetMessageClass", None)
        if get_class is not None:  # protobuf >= 4.21
            classes[name] = get_class(descriptor)
        else:  # protobuf 3.20: the factory API, removed in 5.x
            factory: Any = message_factory.MessageFactory(pool)
            classes[name] = factory.GetPrototype(descriptor)
    return classes


_CLASSES = _message_classes()

# Message classes. Typed as Any: they are generated at import time, so no stubs describe them.
Float32Tensor: Any = _CLASSES["Float32Tensor"]
Float64Tensor: Any = _CLASSES["Float64Tensor"]
Int32Tensor: Any = _CLASSES["Int32Tensor"]
Bytes: Any = _CLASSES["Bytes"]
Value: Any = _CLASSES["Value"]
Record: Any = _CLASSES["Record"]
