"""A training channel's mini-batches, read by the channel's ContentType.

`iter_channel_batches(optml, channel, content_type, batch_size, feature_dim)` takes anything
with a `data_dir(channel) -> Path` method (an `algorithms.common.optml.OptMl`), or a Path that is
the `/opt/ml` root itself. `content_type` is the channel's `ContentType` from
inputdataconfig.json, or None when the job set none.

What is read: File mode puts a channel's objects under `input/data/<channel>/` (any depth); every
regular file there is read, in sorted path order, except hidden files (a name starting with
"."), on every pass. Pipe mode gives FIFOs `input/data/<channel>_<epoch>` instead of a folder,
one per pass over the data: pass N reads `<channel>_N` (a FIFO can be read once).

Content types (sagemaker-spec.md section 5): none, `application/x-recordio-protobuf` (and the
aliases PCA registers, `application/x-labeled-vector-protobuf` and `protobuf`) are RecordIO;
`text/csv` is CSV with `label_size` from its parameter (default 1, see csvdata). Anything else
raises ChannelError. Every error raised is a ValueError.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from algorithms.common import csvdata, recordio

RECORDIO_TYPES = frozenset(
    {
        "application/x-recordio-protobuf",
        "application/x-labeled-vector-protobuf",
        "protobuf",
    }
)
CSV_TYPE = "text/csv"


class ChannelError(ValueError):
    """A channel that cannot be read: unknown content type, no data, a bad parameter."""


class HasDataDir(Protocol):
    def data_dir(self, channel: str) -> Path: ...


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """`type/subtype; k=v; ...` as (lower-cased type, {lower-cased key: value})."""
    head, *rest = value.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, sep, val = item.partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"')
    return head.strip().lower(), params


def label_size_of(params: dict[str, str], default: int) -> int:
    """The `label_size` content type parameter (a non-negative integer), or `default`."""
    raw = params.get("label_size")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise ChannelError(f"label_size must be a non-negative integer, not {raw!r}") from None
    if size < 0:
        raise ChannelError(f"label_size must be a non-negative integer, not {raw!r}")
    return size


PIPE_WAIT_SECONDS = 120.0
"""How long a reader waits for the next epoch's FIFO to appear (the platform makes it when the
previous one is opened, so this is only a safety net)."""


def channel_files(optml: HasDataDir | Path, channel: str, pass_index: int = 0) -> list[Path]:
    """The files pass `pass_index` (0, 1, ...) of a channel reads, in order: File mode's folder,
    the same on every pass; Pipe mode's FIFO of that epoch, `<channel>_<pass_index>`."""
    folder = (
        optml / "input" / "data" / channel if isinstance(optml, Path) else optml.data_dir(channel)
    )
    if folder.is_dir():
        return sorted(
            path
            for path in folder.rglob("*")
            if path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        )
    if (folder.parent / f"{channel}_0").exists():
        pipe = folder.parent / f"{channel}_{pass_index}"
        deadline = time.monotonic() + PIPE_WAIT_SECONDS
        while not pipe.exists():
            if time.monotonic() > deadline:
                raise ChannelError(f"the pipe {pipe} of pass {pass_index} did not appear")
            time.sleep(0.01)
        return [pipe]
    raise ChannelError(f"no data found for channel '{channel}' (looked in {folder})")


def iter_channel_batches(
    optml: HasDataDir | Path,
    channel: str,
    content_type: str | None,
    batch_size: int,
    feature_dim: int | None,
    pass_index: int = 0,
) -> Iterator[np.ndarray]:
    """float32 (rows, feature_dim) mini-batches of pass `pass_index` of a channel (see
    `channel_files`), `batch_size` rows (the last fewer).

    Raises ChannelError (unknown content type, no data) before the first batch, and
    RecordIOError / CsvDataError (all ValueErrors) for bad data as it is met.
    """
    media_type, params = parse_media_type(content_type or "application/x-recordio-protobuf")
    if media_type in RECORDIO_TYPES:
        paths = channel_files(optml, channel, pass_index)
        return recordio.iter_dense_batches(paths, batch_size, feature_dim)
    if media_type == CSV_TYPE:
        label_size = label_size_of(params, csvdata.TRAINING_DEFAULT_LABEL_SIZE)
        paths = channel_files(optml, channel, pass_index)
        return csvdata.iter_csv_batches(paths, batch_size, label_size, feature_dim)
    raise ChannelError(
        f"content type {content_type!r} of channel '{channel}' is not supported; use "
        "application/x-recordio-protobuf or text/csv"
    )
