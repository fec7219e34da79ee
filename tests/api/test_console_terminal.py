"""`sagemaker-emulator ls` and `sagemaker-emulator logs JOB --follow` against a real server."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.api.conftest import (
    Aws,
    Trained,
    blobs,
    channel,
    create_job,
    unique,
    upload_record_set,
)

ROOT = Path(__file__).resolve().parents[2]


def _run(aws: Aws, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sdk.terminal", *args, "--endpoint-url", aws.url],
        capture_output=True,
        text=True,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def test_ls_lists_jobs_endpoints_buckets_and_log_groups(aws: Aws, kmeans_trained: Trained) -> None:
    listed = _run(aws, "ls")
    assert listed.returncode == 0, listed.stderr
    for expected in (kmeans_trained.job, "Completed", aws.bucket, "/aws/sagemaker/TrainingJobs"):
        assert expected in listed.stdout
    narrowed = _run(aws, "ls", "--filter", "no-such-name-anywhere")
    assert kmeans_trained.job not in narrowed.stdout


def test_logs_follow_prints_the_log_until_the_job_ends(aws: Aws) -> None:
    data, _ = blobs(n=2000, d=4, k=3, seed=2)
    name = unique("follow")
    uri = upload_record_set(aws, data, name)
    create_job(
        aws,
        name,
        "kmeans",
        [channel(uri, data_type="ManifestFile", distribution="ShardedByS3Key")],
        {"feature_dim": "4", "k": "3"},
    )
    followed = _run(aws, "logs", name, "--follow")
    assert followed.returncode == 0, followed.stderr
    assert "#quality_metric" in followed.stdout
    assert f"{name}: Completed" in followed.stderr
    once = _run(aws, "logs", name)
    assert once.stdout.splitlines() == followed.stdout.splitlines()  # each line once, in order


def test_the_commands_join_the_sagemaker_emulator_command() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())
    entries = declared["project"]["entry-points"]["sagemaker_emulator.commands"]
    assert entries["terminal"] == "sdk.terminal:add_commands"
