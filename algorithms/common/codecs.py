"""Inference request and response formats of the built-in algorithms (sagemaker-spec.md 2-4).

Requests (`decode_request`), into float32 (n, feature_dim):
- `text/csv`: one row per line, features only (a `label_size` parameter drops leading columns);
- `application/json`: `{"instances": [...]}`, each instance `{"features": [...]}`,
  `{"data": {"features": {"values": [...]}}}`, or sparse
  `{"data": {"features": {"keys": [...], "shape": [d], "values": [...]}}}`;
- `application/jsonlines`: one such instance object per line;
- `application/x-recordio-protobuf`: `features["values"]`, dense or sparse.
Content-type parameters (`; charset=utf-8`, `label_size`) are tolerated.

Responses (`encode_response`): the algorithm gives its per-row outputs as named columns
(name -> (n, m) array) and a `ResponseShape` saying the JSON top key, the key order, which
columns are scalars, and the CSV column order. Numbers are float32 widened to double and written
with the shortest repr that round-trips (Python's float repr), as the real service writes them.

Errors are `BadRequest` (400) and `UnsupportedMediaType` (415): `InvocationError`s of
`algorithms.common.serving`, so the server answers them as they are. A bad payload's message
starts with the real k-means answer, "unable to evaluate payload provided", and says what is
wrong.

Every answer is valid JSON (no bare NaN / Infinity tokens): a feature that is not a finite
float32 (NaN, ±Infinity, or a number beyond float32's range such as 1e39) is a bad payload, and
so is a request whose finite values are so large that a result overflows float32. Both are
refused in every response format, so one request does not succeed or fail by its Accept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from algorithms.common import csvdata, recordio
from algorithms.common.channels import ChannelError, label_size_of, parse_media_type
from algorithms.common.serving import InvocationError, Response

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
REQUEST_TYPES = (CSV, JSON, JSONLINES, RECORDIO)

_BAD_PAYLOAD = "unable to evaluate payload provided"
_FORMS = (
    '{"features": [...]}, {"data": {"features": {"values": [...]}}} or '
    '{"data": {"features": {"keys": [...], "shape": [d], "values": [...]}}}'
)


class BadRequest(InvocationError):
    """HTTP 400: a payload that cannot be read, or has the wrong number of features."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(f"{_BAD_PAYLOAD}: {message}", 400)


class UnsupportedMediaType(InvocationError):
    """HTTP 415: a Content-Type or Accept the algorithm does not speak."""

    status = 415

    def __init__(self, message: str) -> None:
        super().__init__(message, 415)


# --- requests -----------------------------------------------------------------------------------


def _text(body: bytes, params: Mapping[str, str]) -> str:
    charset = params.get("charset", "utf-8")
    try:
        return body.decode(charset)
    except LookupError:
        raise UnsupportedMediaType(f"unknown charset {charset!r}") from None
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not valid {charset} text ({exc})") from None


def _check_width(width: int, feature_dim: int | None, where: str) -> None:
    if feature_dim is not None and width != feature_dim:
        raise BadRequest(
            f"{where} has {width} feature(s), but the model's feature_dim is {feature_dim}"
        )


def _numbers(values: Any, where: str) -> np.ndarray:
    """A JSON list of numbers as a 1-D float64 array; strings, bools, nesting are refused."""
    if not isinstance(values, list):
        raise BadRequest(f"{where} must be a list of numbers, not {type(values).__name__}")
    try:
        array = np.array(values)
    except ValueError:
        raise BadRequest(f"{where} must be a flat list of numbers") from None
    if array.size == 0:
        return np.zeros(0, dtype=np.float64)
    # numpy reads true/false as 1/0 when numbers are beside them; JSON booleans are not numbers.
    if (
        array.ndim != 1
        or array.dtype.kind not in "iuf"
        or any(v is True or v is False for v in values)
    ):
        raise BadRequest(f"{where} must be a flat list of numbers")
    return array.astype(np.float64)


def _sparse_row(features: Mapping[str, Any], feature_dim: int | None, where: str) -> np.ndarray:
    keys = _numbers(features.get("keys"), f"{where}: keys")
    values = _numbers(features.get("values"), f"{where}: values")
    if keys.size and (keys.dtype.kind == "f" and not np.all(keys == np.floor(keys))):
        raise BadRequest(f"{where}: keys must be integers")
    if keys.size != values.size:
        raise BadRequest(f"{where}: {keys.size} keys but {values.size} values")
    shape = features.get("shape")
    if shape is not None:
        dims = _numbers(shape, f"{where}: shape")
        if dims.size == 0 or np.any(dims < 1):
            raise BadRequest(f"{where}: shape must be a list of positive integers")
        dim = int(np.prod(dims))
        _check_width(dim, feature_dim, where)
    elif feature_dim is not None:
        dim = feature_dim
    else:
        raise BadRequest(f"{where}: a sparse instance needs a shape")
    if keys.size and (keys.min() < 0 or keys.max() >= dim):
        raise BadRequest(f"{where}: keys must lie in [0, {dim})")
    row = np.zeros(dim, dtype=np.float32)
    row[keys.astype(np.intp)] = values
    return row


def _instance_row(instance: Any, feature_dim: int | None, where: str) -> np.ndarray:
    """One instance in any of the three JSON forms, as a float32 row."""
    if isinstance(instance, dict):
        if "features" in instance:
            row = _numbers(instance["features"], f"{where}: features")
            _check_width(row.size, feature_dim, where)
            return row.astype(np.float32)
        data = instance.get("data")
        if isinstance(data, dict) and isinstance(data.get("features"), dict):
            features = data["features"]
            if "keys" in features:
                return _sparse_row(features, feature_dim, where)
            row = _numbers(features.get("values"), f"{where}: data.features.values")
            _check_width(row.size, feature_dim, where)
            return row.astype(np.float32)
    raise BadRequest(f"{where} is not one of {_FORMS}")


def _stack(rows: Sequence[np.ndarray], feature_dim: int | None) -> np.ndarray:
    if not rows:
        return np.zeros((0, feature_dim or 0), dtype=np.float32)
    widths = {row.size for row in rows}
    if len(widths) > 1:
        raise BadRequest(f"instances have different numbers of features: {sorted(widths)}")
    return np.stack(rows)


def _decode_json(text: str, feature_dim: int | None) -> np.ndarray:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("instances"), list):
        raise BadRequest('a JSON request must be an object {"instances": [...]}')
    instances = document["instances"]
    rows = [
        _instance_row(instance, feature_dim, f"instance {index}")
        for index, instance in enumerate(instances)
    ]
    return _stack(rows, feature_dim)


def _decode_jsonlines(text: str, feature_dim: int | None) -> np.ndarray:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            instance = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"line {number} is not valid JSON ({exc})") from None
        rows.append(_instance_row(instance, feature_dim, f"line {number}"))
    return _stack(rows, feature_dim)


def _require_finite(matrix: np.ndarray) -> np.ndarray:
    """The decoded request, refused if a feature is NaN, infinite or beyond float32's range."""
    finite = np.isfinite(matrix)
    if finite.all():
        return matrix
    row, column = (int(i) for i in np.argwhere(~finite)[0])
    raise BadRequest(
        f"record {row}, feature {column} reads as {float(matrix[row, column])} in float32: "
        "every feature must be a finite number within float32's range (about ±3.4e38), "
        "not NaN or Infinity"
    )


def decode_request(body: bytes, content_type: str | None, feature_dim: int | None) -> np.ndarray:
    """An /invocations body as float32 (n, feature_dim), every value finite.

    Raises BadRequest / UnsupportedMediaType."""
    # Numbers beyond float32's range become inf on the way in; they are refused just below.
    with np.errstate(over="ignore", invalid="ignore"):
        return _require_finite(_decode(body, content_type, feature_dim))


def _decode(body: bytes, content_type: str | None, feature_dim: int | None) -> np.ndarray:
    if not content_type:
        raise UnsupportedMediaType(
            f"the request has no Content-Type; send one of {', '.join(REQUEST_TYPES)}"
        )
    media_type, params = parse_media_type(content_type)
    if media_type not in REQUEST_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {content_type!r} is not supported; send one of "
            f"{', '.join(REQUEST_TYPES)}"
        )
    # RecordIO is binary: only text bodies may be "empty" by being all whitespace.
    empty = not body if media_type == RECORDIO else not body.strip()
    if empty:
        raise BadRequest("the request body is empty")
    if media_type == RECORDIO:
        try:
            return recordio.decode_matrix(body, feature_dim)
        except recordio.RecordIOError as exc:
            raise BadRequest(str(exc)) from None
    if media_type == CSV:
        try:
            label_size = label_size_of(params, 0)
            return csvdata.parse_csv(
                _text(body, params).encode(), "request body", label_size, feature_dim
            )
        except (csvdata.CsvDataError, ChannelError) as exc:
            raise BadRequest(str(exc)) from None
    text = _text(body, params)
    if media_type == JSON:
        return _decode_json(text, feature_dim)
    return _decode_jsonlines(text, feature_dim)


# --- responses ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseShape:
    """How an algorithm's output columns are laid out in each response format.

    PCA: `ResponseShape("projections", ("projection",))` gives
    `{"projections": [{"projection": [...]}]}`. k-means:
    `ResponseShape("predictions", ("distance_to_cluster", "closest_cluster"),
    scalars=frozenset({"distance_to_cluster", "closest_cluster"}),
    csv_columns=("closest_cluster", "distance_to_cluster"))`.
    """

    json_key: str
    """The top-level JSON key holding the list of rows."""
    columns: tuple[str, ...]
    """The keys of each JSON / JSON Lines row, in order; RecordIO writes these labels too."""
    scalars: frozenset[str] = field(default_factory=frozenset)
    """Columns written as one number (their single value) rather than a list."""
    csv_columns: tuple[str, ...] | None = None
    """The CSV column order (each column's values flattened); None refuses CSV responses."""
    default_accept: str = JSON
    """What a missing Accept (or */*) gets: JSON for both built-ins."""

    def offered(self) -> tuple[str, ...]:
        types = (JSON, JSONLINES, RECORDIO)
        return (*types, CSV) if self.csv_columns is not None else types


def _accept_ranges(accept: str) -> list[tuple[float, int, str]]:
    """The media ranges of an Accept header as (-q, position, range), best first."""
    ranges = []
    for position, item in enumerate(accept.split(",")):
        media_range, params = parse_media_type(item)
        if not media_range:
            continue
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 1.0
        if quality > 0:
            ranges.append((-quality, position, media_range))
    return sorted(ranges)


def choose_response_type(accept: str | None, shape: ResponseShape) -> str:
    """The response media type for an Accept header. Raises UnsupportedMediaType."""
    if not accept or not accept.strip():
        return shape.default_accept
    offered = shape.offered()
    for _, _, media_range in _accept_ranges(accept):
        if media_range in offered:
            return media_range
        if media_range == "*/*":
            return shape.default_accept
        if media_range.endswith("/*"):
            family = media_range[:-1]
            if shape.default_accept.startswith(family):
                return shape.default_accept
            for media_type in offered:
                if media_type.startswith(family):
                    return media_type
    raise UnsupportedMediaType(
        f"Accept {accept!r} is not supported; ask for one of {', '.join(offered)}"
    )


def _rows(columns: Mapping[str, np.ndarray], names: Sequence[str]) -> dict[str, np.ndarray]:
    """The named columns as (n, m) float32, all with the same n."""
    missing = [name for name in names if name not in columns]
    if missing:
        raise KeyError(f"the algorithm gave no column {missing}")
    out = {}
    for name in names:
        array = np.asarray(columns[name], dtype=np.float32)
        out[name] = array.reshape(array.shape[0], -1)
    if len({array.shape[0] for array in out.values()}) > 1:
        raise ValueError("every output column must have the same number of rows")
    return out


def _json_rows(columns: Mapping[str, np.ndarray], shape: ResponseShape) -> list[dict[str, Any]]:
    arrays = _rows(columns, shape.columns)
    # float32 -> float64 -> Python float: json writes the shortest repr of the widened value.
    values = {
        name: (
            array[:, 0].astype(np.float64).tolist()
            if name in shape.scalars
            else array.astype(np.float64).tolist()
        )
        for name, array in arrays.items()
    }
    count = next(iter(arrays.values())).shape[0] if arrays else 0
    return [{name: values[name][index] for name in shape.columns} for index in range(count)]


def _require_finite_results(columns: Mapping[str, np.ndarray], names: Sequence[str]) -> None:
    """Finite inputs can still overflow float32 on the way out (x - mean, distances)."""
    for name, array in _rows(columns, names).items():
        finite = np.isfinite(array).all(axis=1)
        if not finite.all():
            row = int(np.argmin(finite))
            raise BadRequest(
                f"the {name} of record {row} is not a finite float32 number: the record's "
                "values are too large for the model (the result overflows float32)"
            )


def encode_response(
    columns: Mapping[str, np.ndarray], accept: str | None, shape: ResponseShape
) -> Response:
    """The response body and its Content-Type for the per-row output `columns`."""
    media_type = choose_response_type(accept, shape)
    with np.errstate(over="ignore", invalid="ignore"):
        _require_finite_results(columns, shape.columns)
    if media_type == JSON:
        body = json.dumps({shape.json_key: _json_rows(columns, shape)}, allow_nan=False)
        return Response(body.encode(), JSON)
    if media_type == JSONLINES:
        lines = [json.dumps(row, allow_nan=False) + "\n" for row in _json_rows(columns, shape)]
        return Response("".join(lines).encode(), JSONLINES)
    if media_type == RECORDIO:
        arrays = _rows(columns, shape.columns)
        return Response(recordio.encode_label_records(arrays), RECORDIO)
    assert shape.csv_columns is not None
    arrays = _rows(columns, shape.csv_columns)
    table = np.concatenate([arrays[name] for name in shape.csv_columns], axis=1)
    lines = [",".join(map(repr, row)) + "\n" for row in table.astype(np.float64).tolist()]
    return Response("".join(lines).encode(), CSV)
