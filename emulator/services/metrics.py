"""Training metrics: the built-ins' MetricDefinitions and the metric lines they log.

The real service fills AlgorithmSpecification.MetricDefinitions of built-in algorithms and reports
the last value each definition matched in FinalMetricDataList (docs/sagemaker-facts.md#k-means and
#job-status-and-logs). Bring-your-own jobs use the MetricDefinitions of their request. Every value
a definition matches also goes to CloudWatch as it is logged, in namespace
`/aws/sagemaker/TrainingJobs` with dimension `TrainingJobName`, at the time of its log line: what
the SDK's TrainingJobAnalytics reads (docs/sagemaker-facts.md#metrics).
"""

from __future__ import annotations

import logging
import math
import re
from datetime import datetime

from emulator.services.ports import MetricWriter
from emulator.state.records import MetricValue

log = logging.getLogger(__name__)

TRAINING_NAMESPACE = "/aws/sagemaker/TrainingJobs"

_PROGRESS = {"Name": "train:progress", "Regex": r"#progress_metric: host=\S+, completed (\S+) %"}
_THROUGHPUT = {
    "Name": "train:throughput",
    "Regex": r"#throughput_metric: host=\S+, train throughput=(\S+) records/second",
}

BUILTIN_METRIC_DEFINITIONS: dict[str, list[dict[str, str]]] = {
    "kmeans": [
        {"Name": "test:msd", "Regex": r"#quality_metric: host=\S+, test msd <loss>=(\S+)"},
        {"Name": "test:ssd", "Regex": r"#quality_metric: host=\S+, test ssd <loss>=(\S+)"},
        {"Name": "train:msd", "Regex": r"#quality_metric: host=\S+, train msd <loss>=(\S+)"},
        _PROGRESS,
        _THROUGHPUT,
    ],
    "pca": [_PROGRESS, _THROUGHPUT],
}


class MetricCollector:
    """Matches log lines against metric definitions; keeps the last value of each metric."""

    def __init__(self, definitions: list[dict[str, str]]) -> None:
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        for definition in definitions:
            try:
                self._patterns.append((definition["Name"], re.compile(definition["Regex"])))
            except re.error:
                continue  # A bad user regex matches nothing rather than failing the job.
        self._values: dict[str, MetricValue] = {}

    def feed(self, line: str, at: datetime) -> list[MetricValue]:
        """Look at one log line; the values it gave (empty when it matched no definition)."""
        if not self._patterns:
            return []
        changed: list[MetricValue] = []
        for name, pattern in self._patterns:
            match = pattern.search(line)
            if match is None or not match.groups():
                continue
            try:
                value = float(match.group(1))
            except ValueError:
                continue
            if math.isfinite(value):
                self._values[name] = changed_value = MetricValue(name, value, at)
                changed.append(changed_value)
        return changed

    def final(self) -> list[MetricValue]:
        return sorted(self._values.values(), key=lambda m: m.name)


def publish_training_metrics(
    writer: MetricWriter, job_name: str, values: list[MetricValue]
) -> None:
    """Send matched values to CloudWatch; a failure there (a full disk) never fails the job."""
    data = [
        {
            "MetricName": value.name,
            "Dimensions": [{"Name": "TrainingJobName", "Value": job_name}],
            "Timestamp": value.timestamp,
            "Value": value.value,
        }
        for value in values
    ]
    try:
        writer.put_metric_data(TRAINING_NAMESPACE, data)
    except Exception:
        log.warning("could not publish the metrics of training job %s", job_name, exc_info=True)
