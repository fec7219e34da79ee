"""LogStore: per-stream files, read on demand, retention applied, the old journal converted."""

from __future__ import annotations

import json
import time
from pathlib import Path

from emulator.storage.logs import LogStore
from emulator.storage.moto_internals import logs as moto

GROUP = "/aws/sagemaker/TrainingJobs"
GET = "Logs_20140328.GetLogEvents"


def fresh(region: str) -> None:
    moto.reset_logs(region)  # what a new process starts with


def messages(store: LogStore, stream: str, region: str) -> list[str]:
    store.load_for_request(GET, {"logGroupName": GROUP, "logStreamName": stream}, region)
    return [e.message for e in moto.stream_events(moto.log_stream(region, GROUP, stream))]


def test_the_old_journal_is_converted_once(tmp_path: Path) -> None:
    region = "ap-south-2"
    fresh(region)
    root = tmp_path / "logs"
    root.mkdir()
    records = [
        {"group": GROUP, "stream": "job/algo-1"},
        {"group": GROUP, "stream": "job/algo-1", "events": [[1_000, ["a", "b"]]]},
        {"group": GROUP, "stream": "job/algo-1", "events": [[2_000, ["c"]]]},
    ]
    text = "".join(json.dumps(r) + "\n" for r in records) + '{"group": "cut sh'
    (root / "journal.jsonl").write_text(text)
    store = LogStore(root, region)
    assert not (root / "journal.jsonl").exists()
    assert moto.stream_events(moto.log_stream(region, GROUP, "job/algo-1")) == []
    assert messages(store, "job/algo-1", region) == ["a", "b", "c"]
    fresh(region)
    assert messages(LogStore(root, region), "job/algo-1", region) == ["a", "b", "c"]


def test_retention_drops_old_events_from_memory_and_disk(tmp_path: Path) -> None:
    region = "ap-south-1"
    fresh(region)
    store = LogStore(tmp_path / "logs", region)
    now = int(time.time() * 1000)
    store.put_lines(GROUP, "s", ["old"], now - 10 * 86_400_000)
    store.put_lines(GROUP, "s", ["new"], now)
    moto.logs_backend(region).put_retention_policy(GROUP, 7)
    store.sync_group(GROUP, region)  # what the bridge does after PutRetentionPolicy
    fresh(region)
    again = LogStore(tmp_path / "logs", region)
    assert messages(again, "s", region) == ["new"]
    (events_file,) = (tmp_path / "logs").rglob("*.jsonl")
    assert len(events_file.read_text().splitlines()) == 1


def test_a_group_deleted_in_moto_is_forgotten_on_disk(tmp_path: Path) -> None:
    region = "ap-east-1"
    fresh(region)
    store = LogStore(tmp_path / "logs", region)
    store.put_lines(GROUP, "s", ["one", "two"])
    moto.logs_backend(region).delete_log_group(GROUP)  # a client's DeleteLogGroup
    store.put_lines(GROUP, "s", ["three"])
    fresh(region)
    assert messages(LogStore(tmp_path / "logs", region), "s", region) == ["three"]


def test_per_region_writes(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs", "us-east-1")
    for region in ("eu-north-1", "sa-east-1"):
        fresh(region)
    store.for_region("eu-north-1").put_lines(GROUP, "s", ["north"])
    store.put_lines(GROUP, "s", ["south"], region="sa-east-1")
    fresh("eu-north-1")
    fresh("sa-east-1")
    again = LogStore(tmp_path / "logs", "us-east-1")
    assert messages(again, "s", "eu-north-1") == ["north"]
    assert messages(again, "s", "sa-east-1") == ["south"]
