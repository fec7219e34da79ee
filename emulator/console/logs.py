"""A training job's log, tailed: the events of its streams after a cursor the page keeps.

The job's streams are `<job>/algo-<n>-<epoch seconds>` in /aws/sagemaker/TrainingJobs, as on
AWS; the cursor maps each stream to how many of its events the page has already shown.
"""

from __future__ import annotations

from typing import Any

from emulator.console.sources import ConsoleSources

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
MAX_EVENTS = 5000
"""Per answer; the page asks again at once when an answer was full."""


def tail_training_job(
    sources: ConsoleSources, region: str, job: str, cursor: dict[str, int]
) -> dict[str, Any]:
    streams = [
        s for s in sources.log_stream_names(region, TRAINING_LOG_GROUP) if s.startswith(job + "/")
    ]
    events: list[dict[str, Any]] = []
    after = dict(cursor)
    for stream in streams:
        start = cursor.get(stream, 0)
        found = sources.log_events(region, TRAINING_LOG_GROUP, stream, start)
        room = MAX_EVENTS - len(events)
        found = found[:room]
        events.extend({"stream": stream, "timestamp": t, "message": m} for t, m in found)
        after[stream] = start + len(found)
    events.sort(key=lambda e: e["timestamp"])
    return {
        "group": TRAINING_LOG_GROUP,
        "streams": streams,
        "events": events,
        "cursor": after,
        "more": len(events) >= MAX_EVENTS,
    }
