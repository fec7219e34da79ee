"""Training metrics: the built-ins' MetricDefinitions and the metric lines they log.

The real service fills AlgorithmSpecification.MetricDefinitions of built-in algorithms and reports
the last value each definition matched in FinalMetricDataList (docs/sagemaker-facts.md#k-means and
#job-status-and-logs). Bring-your-own jobs use the MetricDefinitions of their request.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from emulator.state.records import MetricValue

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

    def feed(self, line: str, at: datetime) -> bool:
        """Look at one log line; True when it changed a metric."""
        if not self._patterns:
            return False
        changed = False
        for name, pattern in self._patterns:
            match = pattern.search(line)
            if match is None or not match.groups():
                continue
            try:
                value = float(match.group(1))
            except ValueError:
                continue
            if math.isfinite(value):
                self._values[name] = MetricValue(name, value, at)
                changed = True
        return changed

    def final(self) -> list[MetricValue]:
        return sorted(self._values.values(), key=lambda m: m.name)
