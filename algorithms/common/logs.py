"""The log lines of the built-in algorithms, written to stdout one flushed line at a time.

The platform streams a container's stdout to CloudWatch Logs as it comes, and metric
definitions scrape it, so the formats copy the real images exactly:

- ordinary lines: ``[MM/DD/YYYY HH:MM:SS LEVEL <thread-id>] message`` (UTC, Python logging);
- ``#quality_metric: host=algo-1, train msd <loss>=0.06404909491539001`` (shortest float repr);
- ``#progress_metric: host=algo-1, completed 100.0 % of epochs``;
- ``#throughput_metric: host=algo-1, train throughput=60188.2 records/second``;
- ``#metrics {json}`` lines, printed without the logging prefix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping

LOGGER_NAME = "algorithm"
LINE_FORMAT = "[%(asctime)s %(levelname)s %(thread)d] %(message)s"
DATE_FORMAT = "%m/%d/%Y %H:%M:%S"


class _StdoutHandler(logging.Handler):
    """Writes to whatever ``sys.stdout`` is now, flushing every line (logs are streamed live)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def get_logger() -> logging.Logger:
    """The algorithm's logger, writing the real line format to stdout (configured once)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = _StdoutHandler()
        formatter = logging.Formatter(LINE_FORMAT, DATE_FORMAT)
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def emit(line: str) -> None:
    """Print one raw line (no prefix) and flush it at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def quality_metric(channel: str, metric: str, value: float, host: str = "algo-1") -> None:
    get_logger().info(f"#quality_metric: host={host}, {channel} {metric} <loss>={float(value)!r}")


def progress_metric(percent: float, host: str = "algo-1") -> None:
    get_logger().info(f"#progress_metric: host={host}, completed {float(percent)!r} % of epochs")


def throughput_metric(records_per_second: float, host: str = "algo-1") -> None:
    get_logger().info(
        f"#throughput_metric: host={host}, train throughput={float(records_per_second)!r} "
        "records/second"
    )


def _stat(value: float) -> dict[str, float | int]:
    return {"sum": value, "count": 1, "min": value, "max": value}


class MetricsLog:
    """``#metrics`` lines with the real ``Dimensions`` (``Algorithm``, ``Host``, ``Operation``)."""

    def __init__(self, algorithm: str, host: str = "algo-1", operation: str = "training") -> None:
        self.dimensions = {"Algorithm": algorithm, "Host": host, "Operation": operation}

    def line(
        self,
        metrics: Mapping[str, float],
        start: float,
        end: float | None = None,
        meta: str | None = None,
    ) -> None:
        dims: dict[str, str] = dict(self.dimensions)
        if meta is not None:
            dims["Meta"] = meta
        body = {
            "StartTime": start,
            "EndTime": time.time() if end is None else end,
            "Dimensions": dims,
            "Metrics": {name: _stat(float(v)) for name, v in metrics.items()},
        }
        emit("#metrics " + json.dumps(body))

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Time a stage; print ``{"<name>": {"sum": <ms>, ...}}`` when it ends (milliseconds)."""
        start = time.time()
        yield
        end = time.time()
        self.line({name: (end - start) * 1000.0}, start, end)

    def iterator_stats(self, meta: str, records: int, batches: int, start: float) -> None:
        """The data iterator's counters, as the real images log them after each pass."""
        self.line(
            {
                "Total Records Seen": records,
                "Total Batches Seen": batches,
                "Max Records Seen Between Resets": records,
                "Max Batches Seen Between Resets": batches,
                "Reset Count": 1,
                "Number of Records Since Last Reset": records,
                "Number of Batches Since Last Reset": batches,
            },
            start,
            meta=meta,
        )
