"""`sagemaker-emulator ls` and `sagemaker-emulator logs JOB [--follow]`: the console's
information in a terminal (rich tables, a progress bar per running training job, a live log).

Client side: every read is a boto3 call to the emulator (ListTrainingJobs, DescribeTrainingJob,
DescribeLogStreams, GetLogEvents...), so this works against any emulator it can reach. Joins the
`sagemaker-emulator` command through the `sagemaker_emulator.commands` entry points.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sdk import session as sm_session

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
_PROGRESS = re.compile(r"#progress_metric: host=\S+, completed (\S+) %")

LISTS: tuple[tuple[str, str, str, str, str | None], ...] = (
    (
        "Training jobs",
        "list_training_jobs",
        "TrainingJobSummaries",
        "TrainingJobName",
        "TrainingJobStatus",
    ),
    (
        "Tuning jobs",
        "list_hyper_parameter_tuning_jobs",
        "HyperParameterTuningJobSummaries",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
    ),
    (
        "Transform jobs",
        "list_transform_jobs",
        "TransformJobSummaries",
        "TransformJobName",
        "TransformJobStatus",
    ),
    ("Models", "list_models", "Models", "ModelName", None),
    ("Endpoint configs", "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", None),
    ("Endpoints", "list_endpoints", "Endpoints", "EndpointName", "EndpointStatus"),
)


def _pages(call: Any, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    token: dict[str, str] = {}
    while True:
        page = call(**params, **token)
        yield from page.get(key, [])
        if not page.get("NextToken"):
            return
        token = {"NextToken": page["NextToken"]}


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else ""


def training_progress(logs: Any, job: str) -> float | None:
    """The last `#progress_metric` percentage the job logged (the built-ins log one per epoch)."""
    latest: float | None = None
    for stream in _job_streams(logs, job):
        events = logs.get_log_events(
            logGroupName=TRAINING_LOG_GROUP, logStreamName=stream, startFromHead=False, limit=200
        )["events"]
        for event in events:
            match = _PROGRESS.search(event["message"])
            if match:
                try:
                    latest = float(match.group(1))
                except ValueError:
                    continue
    return latest


def _job_streams(logs: Any, job: str) -> list[str]:
    try:
        streams = _pages(
            logs.describe_log_streams,
            "logStreams",
            logGroupName=TRAINING_LOG_GROUP,
            logStreamNamePrefix=job + "/",
        )
        return [s["logStreamName"] for s in streams]
    except logs.exceptions.ResourceNotFoundException:
        return []


def list_everything(args: argparse.Namespace) -> int:
    session = sm_session.boto_session(args.endpoint_url, args.region or sm_session.client_region())
    sm, logs, s3 = session.client("sagemaker"), session.client("logs"), session.client("s3")
    console = Console()
    contains = {"NameContains": args.filter} if args.filter else {}
    for title, operation, key, name_key, status_key in LISTS:
        items = list(_pages(getattr(sm, operation), key, **contains))
        if not items:
            console.print(f"{title}: none")
            continue
        table = Table(title=f"{title} ({len(items)})", title_justify="left", expand=False)
        table.add_column("Name")
        if status_key:
            table.add_column("Status")
        table.add_column("Created")
        if operation == "list_training_jobs":
            table.add_column("Progress")
        for item in items:
            row = [item[name_key]]
            if status_key:
                row.append(item.get(status_key, ""))
            row.append(_when(item.get("CreationTime")))
            cells: list[Any] = list(row)
            if operation == "list_training_jobs":
                cells.append(_progress_cell(logs, item))
            table.add_row(*cells)
        console.print(table)
    buckets = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    groups = [g["logGroupName"] for g in _pages(logs.describe_log_groups, "logGroups")]
    for title, names in (("S3 buckets", buckets), ("Log groups", groups)):
        wanted = [n for n in names if not args.filter or args.filter in n]
        if not wanted:
            console.print(f"{title}: none")
            continue
        table = Table(title=f"{title} ({len(wanted)})", title_justify="left")
        table.add_column("Name")
        for name in wanted:
            table.add_row(name)
        console.print(table)
    return 0


def _progress_cell(logs: Any, item: dict[str, Any]) -> Any:
    status = item.get("TrainingJobStatus")
    if status != "InProgress":
        return "100%" if status == "Completed" else ""
    percent = training_progress(logs, item["TrainingJobName"])
    bar = Progress(BarColumn(bar_width=20), TextColumn("{task.percentage:>3.0f}%"))
    bar.add_task("", total=100, completed=int(percent or 0))
    return bar.get_renderable()


def follow_logs(args: argparse.Namespace) -> int:
    session = sm_session.boto_session(args.endpoint_url, args.region or sm_session.client_region())
    sm, logs = session.client("sagemaker"), session.client("logs")
    out = Console(highlight=False)
    try:
        job = sm.describe_training_job(TrainingJobName=args.job)
    except sm.exceptions.ClientError as exc:
        print(f"sagemaker-emulator logs: {exc}", file=sys.stderr)
        return 1
    tokens: dict[str, str] = {}

    def drain() -> int:
        shown = 0
        for stream in _job_streams(logs, args.job):
            params: dict[str, Any] = {
                "logGroupName": TRAINING_LOG_GROUP,
                "logStreamName": stream,
                "startFromHead": True,
            }
            while True:
                if stream in tokens:
                    params["nextToken"] = tokens[stream]
                page = logs.get_log_events(**params)
                for event in page["events"]:
                    out.print(event["message"], markup=False)
                    shown += 1
                done = page.get("nextForwardToken") == tokens.get(stream)
                tokens[stream] = page["nextForwardToken"]
                if done or not page["events"]:
                    break
        return shown

    if not args.follow:
        drain()
        return 0
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(args.job, total=100)
        while True:
            drain()
            job = sm.describe_training_job(TrainingJobName=args.job)
            status = f"{job['TrainingJobStatus']} · {job.get('SecondaryStatus', '')}"
            percent = training_progress(logs, args.job)
            progress.update(task, description=f"{args.job} {status}", completed=percent or 0)
            if job["TrainingJobStatus"] in TERMINAL:
                drain()  # the last lines, written as the job ended
                break
            time.sleep(args.interval)
    print(f"{args.job}: {job['TrainingJobStatus']}", file=sys.stderr)
    return 0 if job["TrainingJobStatus"] == "Completed" else 2


def _common(parser: argparse.ArgumentParser) -> None:
    from sdk.cli import DEFAULT_ENDPOINT_URL, _default_endpoint

    parser.add_argument(
        "--endpoint-url",
        default=_default_endpoint(),
        help=f"the emulator's URL (default: $AWS_ENDPOINT_URL, else {DEFAULT_ENDPOINT_URL})",
    )
    parser.add_argument("--region", default=None, help="the region (default: the client's own)")


def add_commands(subparsers: Any) -> None:
    """Add `ls` and `logs` to an argparse subparsers object; each sets `func`."""
    ls = subparsers.add_parser(
        "ls", help="list jobs, models, endpoints, buckets and log groups on the emulator"
    )
    _common(ls)
    ls.add_argument("--filter", default="", help="only names that contain this text")
    ls.set_defaults(func=list_everything)
    logs = subparsers.add_parser(
        "logs", help="print a training job's log (--follow: until it ends)"
    )
    _common(logs)
    logs.add_argument("job", help="the training job's name")
    logs.add_argument("--follow", "-f", action="store_true", help="wait for new lines")
    logs.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    logs.set_defaults(func=follow_logs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdk.terminal")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
