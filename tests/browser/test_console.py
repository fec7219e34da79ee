"""The console in a real browser (headless Chromium, driven over the DevTools protocol) against a
real server while a k-means job trains, once per runtime (process, docker): the job is listed,
the log lines of a job that trains until stopped arrive without a reload (the page loaded while it
trains, whatever the machine's load), its metric curve shows points (once training metrics are
published to CloudWatch), its page shows the call that created it, the endpoint's test request
returns predictions and a tuning job's plot shows every child.

Every wait is for something the page shows (an element, a dataset value), with a deadline.
Screenshots are kept under the pytest temporary directory the test prints, or under
$SAGEMAKER_EMULATOR_ARTIFACTS/console-screenshots/<runtime> when that is set. Chromium comes from
scripts/browser.sh; without it the test fails unless SAGEMAKER_EMULATOR_SKIP_BROWSER=1. The
Docker run needs the engine and the algorithm images (tests.docker.engine.require_docker, as the
API tier's runtime parameter).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sdk.launcher import EmulatorServer, start_emulator
from tests.api.conftest import (
    Aws,
    blobs,
    channel,
    create_job,
    deploy,
    make_aws,
    unique,
    upload_csv,
    upload_record_set,
    wait_job,
    wait_training_started,
)
from tests.api.test_tuning import _config, _definition, _wait
from tests.browser.cdp import Browser
from tests.browser.test_hostile_page import chromium

UI = "/_emulator/ui"


@dataclass
class Seen:
    """What the browser showed, for the tests below to check one aspect each."""

    shots: Path
    job: str = ""
    listed: list[str] = field(default_factory=list)
    status_at_load: str = ""
    lines_at_load: str = ""
    lines_later: str = ""
    tail_ended: str = ""
    published_metrics: int = 0
    metric_points: int = 0
    metric_note: str = ""
    invocation: str = ""
    invocation_status: str = ""
    tuning_children: int = 0
    tuning_rows: int = 0
    tuning_points: dict[str, int] = field(default_factory=dict)
    job_calls: list[str] = field(default_factory=list)
    job_create_request: str = ""


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("process", id="process"),
        pytest.param("docker", id="docker", marks=pytest.mark.docker),
    ],
)
def runtime_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "docker":
        from tests.docker.engine import require_docker

        require_docker()
    return name


@pytest.fixture(scope="module")
def server(runtime_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    data = tmp_path_factory.mktemp(f"console-browser-{runtime_name}")
    with start_emulator(data, runtime_name) as running:
        yield running


def _kmeans(aws: Aws, prefix: str, rows: int, seed: int, epochs: int) -> str:
    """Start a k-means job (8 features, k=4) on `rows` RecordIO rows; its name."""
    data, _ = blobs(n=rows, d=8, k=4, seed=seed)
    name = unique(prefix)
    uri = upload_record_set(aws, data, name)
    create_job(
        aws,
        name,
        "kmeans",
        [channel(uri, data_type="ManifestFile", distribution="ShardedByS3Key")],
        {"feature_dim": "8", "k": "4", "epochs": str(epochs), "mini_batch_size": "500"},
    )
    return name


def _tune(aws: Aws) -> str:
    data, _ = blobs(n=300, d=4, k=3, seed=5)
    name = unique("console-tune")[:32]
    train = upload_csv(aws, data[:200], f"data/{name}/train")
    test = upload_csv(aws, data[200:], f"data/{name}/test")
    channels = [
        channel(train, "train", content_type="text/csv;label_size=0"),
        channel(test, "test", content_type="text/csv;label_size=0"),
    ]
    ks = ["2", "3", "4"]
    aws.sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=_config(
            "Grid", {"CategoricalParameterRanges": [{"Name": "k", "Values": ks}]}, None, 3
        ),
        TrainingJobDefinition=_definition(aws, channels, {"feature_dim": "4"}),
    )
    return name


def _js(value: Any) -> str:
    return json.dumps(value)


@pytest.fixture(scope="module")
def seen(
    server: EmulatorServer, runtime_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seen]:
    browser_path = chromium()
    # pytest keeps its last three temporary directories only: SAGEMAKER_EMULATOR_ARTIFACTS
    # (a folder) keeps the screenshots for good.
    kept = os.environ.get("SAGEMAKER_EMULATOR_ARTIFACTS")
    if kept:
        shots = Path(kept) / "console-screenshots" / runtime_name
        shots.mkdir(parents=True, exist_ok=True)
    else:
        shots = tmp_path_factory.mktemp(f"console-screenshots-{runtime_name}")
    print(f"\nconsole screenshots ({runtime_name} runtime): {shots}")
    aws = make_aws(server, runtime_name)
    result = Seen(shots)
    browser = Browser(browser_path, tmp_path_factory.mktemp("chromium-profile"))
    try:
        browser.open_tab()
        # A job that logs a progress line per epoch and trains until it is stopped, so the page
        # is loaded while it runs and sees new lines arrive however slow the machine is.
        live = _kmeans(aws, "console-live", rows=2_000, seed=12, epochs=1_000_000)
        result.job = job = _kmeans(aws, "console-kmeans", rows=20_000, seed=11, epochs=5)
        tuning = _tune(aws)

        browser.navigate(f"{server.url}{UI}/training-jobs")
        result.listed = browser.evaluate(
            "[...document.querySelectorAll('#items tbody tr')].map(r => r.dataset.name)"
        )
        browser.screenshot(shots / "training-jobs.png")

        # The live tail, on the job that trains until stopped: loaded while it trains, the page
        # shows its first lines, then more without a reload, then the end once it is stopped.
        wait_training_started(aws, live, timeout=240.0)
        browser.navigate(f"{server.url}{UI}/training-jobs/{live}")
        result.status_at_load = browser.evaluate("document.querySelector('h1 .status').textContent")
        result.lines_at_load = browser.wait_for(
            "document.getElementById('log').dataset.lines || ''", timeout=240
        )
        result.lines_later = str(
            browser.wait_for(
                "Number(document.getElementById('log').dataset.lines || 0)",
                timeout=240,
                check=lambda count: count > int(result.lines_at_load),
            )
        )
        browser.screenshot(shots / "training-job-running.png")
        aws.sm.stop_training_job(TrainingJobName=live)
        result.tail_ended = browser.wait_for(
            "document.getElementById('log').dataset.ended || ''", timeout=240
        )

        described = wait_job(aws, job, timeout=240)
        assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")

        metrics = make_cloudwatch(aws).list_metrics(Namespace="/aws/sagemaker/TrainingJobs")
        hosts = [
            d["Value"]
            for m in metrics["Metrics"]
            for d in m["Dimensions"]
            if d["Name"] == "Host" and d["Value"].startswith(job + "/")
        ]
        result.published_metrics = len(hosts)
        browser.navigate(f"{server.url}{UI}/training-jobs/{job}")
        browser.wait_for("document.getElementById('metrics').dataset.series !== undefined")
        result.metric_points = int(
            browser.evaluate("document.getElementById('metrics').dataset.points")
        )
        result.metric_note = browser.evaluate("document.getElementById('metrics-note').textContent")
        result.job_calls = browser.evaluate(
            "[...document.querySelectorAll('#calls tbody tr')].map(r => r.dataset.operation)"
        )
        result.job_create_request = browser.evaluate(
            "document.querySelector('#calls tr[data-operation=CreateTrainingJob] pre')"
            "?.textContent || ''"
        )
        browser.screenshot(shots / "training-job.png")

        endpoint = deploy(aws, described["ModelArtifacts"]["S3ModelArtifacts"], "kmeans")
        browser.navigate(f"{server.url}{UI}/endpoints/{endpoint}")
        rows = "1.0,2.0,3.0,4.0,5.0,6.0,7.0,8.0\n-1.0,0.5,2.0,3.0,0.0,1.0,2.0,3.0"
        browser.evaluate(
            "(() => { const f = document.getElementById('invoke');"
            f" f.elements.Body.value = {_js(rows)};"
            " f.elements.ContentType.value = 'text/csv';"
            " f.elements.Accept.value = 'application/json';"
            " f.querySelector('button').click(); })()"
        )
        result.invocation_status = browser.wait_for(
            "document.getElementById('invoke-result').dataset.status || ''"
        )
        result.invocation = browser.evaluate("document.getElementById('invoke-result').textContent")
        browser.screenshot(shots / "endpoint.png")

        described_tuning = _wait(aws, tuning, timeout=300)
        assert described_tuning["HyperParameterTuningJobStatus"] == "Completed"
        result.tuning_children = len(
            aws.sm.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=tuning
            )["TrainingJobSummaries"]
        )
        browser.navigate(f"{server.url}{UI}/tuning-jobs/{tuning}")
        browser.wait_for("document.querySelector('#tuning-plots canvas[data-points]') !== null")
        result.tuning_rows = browser.evaluate(
            "document.querySelectorAll('#children tbody tr').length"
        )
        result.tuning_points = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#tuning-plots canvas')]"
            ".map(c => [c.dataset.parameter, Number(c.dataset.points)]))"
        )
        browser.screenshot(shots / "tuning-job.png")
        yield result
    finally:
        browser.close()


def make_cloudwatch(aws: Aws) -> Any:
    from sdk.session import boto_session

    return boto_session(aws.url, aws.region).client("cloudwatch")


def test_the_training_job_is_listed(seen: Seen) -> None:
    assert seen.job in seen.listed
    assert (seen.shots / "training-jobs.png").stat().st_size > 0


def test_log_lines_arrive_without_a_reload(seen: Seen) -> None:
    assert seen.status_at_load == "InProgress"
    assert int(seen.lines_later) > int(seen.lines_at_load) > 0
    assert seen.tail_ended == "Stopped"  # and the page stopped polling once every line was in


def test_the_metric_curve_shows_the_published_points(seen: Seen) -> None:
    # The job's metric lines are published to CloudWatch and drawn as they come.
    assert seen.published_metrics, seen.metric_note
    assert seen.metric_points > 0


def test_the_job_page_shows_the_call_that_created_it(seen: Seen) -> None:
    assert seen.job_calls == ["CreateTrainingJob"]
    assert f'"TrainingJobName": "{seen.job}"' in seen.job_create_request
    assert '"mini_batch_size": "500"' in seen.job_create_request


def test_the_endpoint_test_request_returns_predictions(seen: Seen) -> None:
    assert seen.invocation_status == "200", seen.invocation
    variant, _, body = seen.invocation.partition("\n")
    assert variant.startswith("AllTraffic")
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == 2 and "closest_cluster" in predictions[0]


def test_the_tuning_plot_shows_every_child(seen: Seen) -> None:
    assert seen.tuning_children == 3
    assert seen.tuning_rows == 3
    assert seen.tuning_points == {"k": 3}
