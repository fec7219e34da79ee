"""The CloudWatch series a page plots, in GetMetricData's shape (MetricDataResults).

Training jobs publish in /aws/sagemaker/TrainingJobs with the dimension Host=<job>/algo-<n>;
endpoints in AWS/SageMaker with EndpointName and VariantName, as on AWS.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from emulator.console.sources import ConsoleSources

TRAINING_NAMESPACE = "/aws/sagemaker/TrainingJobs"
ENDPOINT_NAMESPACE = "AWS/SageMaker"
PERIODS = (1, 5, 10, 30, 60, 300, 900, 3600)
"""CloudWatch's high-resolution periods, then multiples of a minute."""
MAX_POINTS = 300
ENDPOINT_WINDOW = timedelta(hours=1)


def period_for(span: timedelta) -> int:
    """The finest period that keeps a series under MAX_POINTS points."""
    seconds = max(span.total_seconds(), 1.0)
    for period in PERIODS:
        if seconds / period <= MAX_POINTS:
            return period
    return PERIODS[-1]


def _wire(
    results: list[dict[str, Any]], window: tuple[datetime, datetime], period: int
) -> dict[str, Any]:
    return {
        "StartTime": window[0].timestamp(),
        "EndTime": window[1].timestamp(),
        "Period": period,
        "MetricDataResults": [
            {**r, "Timestamps": [t.timestamp() for t in r["Timestamps"]]} for r in results
        ],
    }


def training_job(sources: ConsoleSources, region: str, job: dict[str, Any]) -> dict[str, Any]:
    """`job`: DescribeTrainingJob's answer (wire form: epoch seconds)."""
    now = datetime.now(UTC)
    began = job.get("TrainingStartTime") or job["CreationTime"]
    ended = job.get("TrainingEndTime")
    start = datetime.fromtimestamp(began, UTC) - timedelta(seconds=60)
    end = datetime.fromtimestamp(ended, UTC) + timedelta(seconds=60) if ended else now
    end = max(end, start + timedelta(seconds=2)) + timedelta(seconds=1)
    period = period_for(end - start)
    host = (job["TrainingJobName"] + "/", True)
    results = sources.metric_data(region, TRAINING_NAMESPACE, ("Host", *host), (start, end), period)
    return _wire(results, (start, end), period)


def endpoint(sources: ConsoleSources, region: str, name: str) -> dict[str, Any]:
    end = datetime.now(UTC) + timedelta(seconds=1)
    start = end - ENDPOINT_WINDOW
    period = 60
    results = sources.metric_data(
        region, ENDPOINT_NAMESPACE, ("EndpointName", name, False), (start, end), period
    )
    return _wire(results, (start, end), period)
