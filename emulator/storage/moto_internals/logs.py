"""moto's CloudWatch Logs: groups, streams and their events. See the package's notes
(`__init__.py`).

The Logs store persists moto's LogGroup/LogStream/LogEvent objects and puts them back at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeAlias

from moto.logs.models import LogEvent, LogStream, logs_backends

from emulator.aws.arns import ACCOUNT_ID

Group: TypeAlias = Any
"""moto's LogGroup."""
Stream: TypeAlias = Any
"""moto's LogStream."""


def logs_backend(region: str) -> Any:
    """moto's Logs backend of the emulator's account in `region`."""
    return logs_backends[ACCOUNT_ID][region]


def reset_logs(region: str) -> None:
    """Forget every log group of `region` (what a fresh process starts with)."""
    logs_backend(region).reset()


def log_group(region: str, name: str) -> Group | None:
    found: Group | None = logs_backend(region).groups.get(name)
    return found


def log_group_names(region: str) -> list[str]:
    return list(logs_backend(region).groups)


def create_log_group(region: str, name: str) -> Group:
    return logs_backend(region).create_log_group(name, {})


def drop_log_group(region: str, name: str) -> None:
    """Forget a group and its streams (no error when there is none)."""
    logs_backend(region).groups.pop(name, None)


@dataclass(frozen=True)
class GroupSettings:
    created: datetime
    """Naive UTC, as moto keeps it."""
    retention_days: int | None
    kms_key_id: str | None


def group_settings(group: Group) -> GroupSettings:
    return GroupSettings(group.creation_time, group.retention_in_days, group.kms_key_id)


def restore_group_settings(
    group: Group, created: datetime | None, retention_days: int | None, kms_key_id: str | None
) -> None:
    """Put back a group's stored settings (`created` None: leave its creation time)."""
    if created is not None:
        group.creation_time = created
    group.retention_in_days = retention_days
    group.kms_key_id = kms_key_id


def log_streams(group: Group) -> dict[str, Stream]:
    """The group's streams by name (a copy: changing it changes nothing in moto)."""
    return dict(group.streams)


def log_stream(region: str, group: str, stream: str) -> Stream | None:
    found = log_group(region, group)
    return None if found is None else found.streams.get(stream)


def create_log_stream(region: str, group: str, stream: str) -> None:
    logs_backend(region).create_log_stream(group, stream)


def restore_log_stream(group: Group, name: str, created: datetime | None) -> Stream:
    """Put a stored stream into `group` without its events (they are read later), or empty the
    one there."""
    stream = group.streams.get(name) or LogStream(group, name)
    group.streams[name] = stream
    if created is not None:
        stream.creation_time = created
    stream.events = []
    return stream


def stream_created(stream: Stream) -> datetime:
    """Naive UTC, as moto keeps it."""
    created: datetime = stream.creation_time
    return created


class Event(NamedTuple):
    timestamp: int
    """Milliseconds since the epoch, as the writer gave it."""
    ingestion_time: int
    """Milliseconds since the epoch, when Logs took it."""
    message: str


def event_count(stream: Stream) -> int:
    return len(stream.events)


def stream_events(stream: Stream, start: int = 0) -> list[Event]:
    """The stream's events from index `start` on, in the order they were put."""
    return [Event(e.timestamp, e.ingestion_time, e.message) for e in stream.events[start:]]


def prepend_events(stream: Stream, events: list[Event]) -> None:
    """Put stored events before those the stream holds (which came after them), keeping its
    stored bytes and last ingestion time right."""
    stream.events = [
        LogEvent(e.ingestion_time, {"timestamp": e.timestamp, "message": e.message}) for e in events
    ] + stream.events
    stream.stored_bytes = sum(len(e.message) for e in stream.events)
    if events:
        stream.last_ingestion_time = datetime.fromtimestamp(
            max(e.ingestion_time for e in events) / 1000, UTC
        ).replace(tzinfo=None)


def append_lines(stream: Stream, timestamp_ms: int, lines: list[str]) -> None:
    """Append `lines` as events, all at `timestamp_ms`, ingested now.

    The stream's own method: the backend's PutLogEvents drops events older than 14 days, as the
    real one does for clients, but these are a job's own lines.
    """
    stream.put_log_events([{"timestamp": timestamp_ms, "message": line} for line in lines])
