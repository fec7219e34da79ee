"""Tuning benchmark: a 10-child Grid tuning job against the same ten jobs launched by hand.

On the census table (3,218 counties x 34 features, record sets, a `test` channel of the last 418
rows), k-means for k = 2..11, five at a time:

1. a Grid tuning job (MaxParallelTrainingJobs 5): CreateHyperParameterTuningJob -> Completed;
2. the same ten CreateTrainingJob requests from a client that keeps five running, polling
   DescribeTrainingJob every 20 ms, and starts the next one as soon as one ends.

Both are timed wall-clock on one emulator (runs interleaved). The tuning job's scheduling cost is
measured from its records: the gaps between a child's end and the next child's creation, and the
delay from CreateHyperParameterTuningJob to the first child.

Usage: .venv/bin/python benchmarks/tuning_bench.py [--runtime process] [--repeats 2]
           [--write-results]   (appends the figures to benchmarks/RESULTS.md)
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from control_plane_bench import census_matrix  # noqa: E402

from algorithms.common.recordio import encode_dense  # noqa: E402
from emulator.runtime.images import image_uri  # noqa: E402
from sdk.launcher import start_emulator  # noqa: E402
from sdk.session import boto_session  # noqa: E402

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
KS = [str(k) for k in range(2, 12)]
PARALLEL = 5


def upload(s3: Any, bucket: str, matrix: Any, name: str) -> str:
    prefix = f"sagemaker-record-sets/{name}/"
    s3.put_object(Bucket=bucket, Key=prefix + "matrix_0.pbr", Body=encode_dense(matrix))
    manifest = f'[{{"prefix": "s3://{bucket}/{prefix}"}}, "matrix_0.pbr"]'
    s3.put_object(Bucket=bucket, Key=prefix + ".amazon.manifest", Body=manifest.encode())
    return f"s3://{bucket}/{prefix}.amazon.manifest"


def channels(train: str, test: str) -> list[dict[str, Any]]:
    return [
        {
            "ChannelName": name,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "ManifestFile",
                    "S3Uri": uri,
                    "S3DataDistributionType": "ShardedByS3Key",
                }
            },
        }
        for name, uri in (("train", train), ("test", test))
    ]


def common(bucket: str, train: str, test: str) -> dict[str, Any]:
    return {
        "AlgorithmSpecification": {
            "TrainingImage": image_uri("kmeans", REGION),
            "TrainingInputMode": "File",
        },
        "RoleArn": ROLE,
        "InputDataConfig": channels(train, test),
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/bench/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


STATIC = {"feature_dim": "34", "force_dense": "True", "mini_batch_size": "500"}


def tuning_run(sm: Any, bucket: str, train: str, test: str) -> tuple[float, list[float], float]:
    """Seconds to Completed; gaps (s) between a child's end and the next child's creation once a
    slot was free; delay (s) from the Create call to the first child."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    definition = {**common(bucket, train, test), "StaticHyperParameters": STATIC}
    start = time.perf_counter()
    created = datetime.datetime.now(datetime.UTC)
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "test:msd"},
            "ResourceLimits": {"MaxParallelTrainingJobs": PARALLEL},
            "ParameterRanges": {"CategoricalParameterRanges": [{"Name": "k", "Values": KS}]},
        },
        TrainingJobDefinition=definition,
    )
    while True:
        d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if d["HyperParameterTuningJobStatus"] != "InProgress":
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    assert d["HyperParameterTuningJobStatus"] == "Completed", d.get("FailureReason")
    children = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=100, SortBy="CreationTime"
    )["TrainingJobSummaries"]
    # The (PARALLEL+i)-th child waits for the i-th end: its delay is the scheduling cost.
    ends = sorted(c["TrainingEndTime"] for c in children)
    creations = sorted(c["CreationTime"] for c in children)
    gaps = [
        (creations[PARALLEL + i] - ends[i]).total_seconds() for i in range(len(children) - PARALLEL)
    ]
    first = (creations[0] - created).total_seconds()
    return elapsed, gaps, first


def by_hand_run(sm: Any, bucket: str, train: str, test: str) -> float:
    base = common(bucket, train, test)
    pending = list(KS)
    running: set[str] = set()
    start = time.perf_counter()
    while pending or running:
        while pending and len(running) < PARALLEL:
            k = pending.pop(0)
            name = f"hand-{k}-{uuid.uuid4().hex[:8]}"
            sm.create_training_job(
                TrainingJobName=name,
                HyperParameters={**STATIC, "k": k, "_tuning_objective_metric": "test:msd"},
                **base,
            )
            running.add(name)
        for name in list(running):
            status = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
            if status in ("Completed", "Failed", "Stopped"):
                assert status == "Completed", name
                running.discard(name)
        time.sleep(0.02)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runtime", default="process")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()

    matrix = census_matrix()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_emulator(Path(tmp), runtime=args.runtime)
        try:
            session = boto_session(server.url, REGION)
            sm, s3 = session.client("sagemaker"), session.client("s3")
            bucket = f"tuning-bench-{uuid.uuid4().hex[:8]}"
            s3.create_bucket(Bucket=bucket)
            train = upload(s3, bucket, matrix[:2800], "train")
            test = upload(s3, bucket, matrix[2800:], "test")
            tuned: list[float] = []
            by_hand: list[float] = []
            gaps: list[float] = []
            firsts: list[float] = []
            for _ in range(args.repeats):
                elapsed, run_gaps, first = tuning_run(sm, bucket, train, test)
                tuned.append(elapsed)
                gaps.extend(run_gaps)
                firsts.append(first)
                by_hand.append(by_hand_run(sm, bucket, train, test))
        finally:
            server.stop()

    lines = [
        "",
        f"## Tuning: a 10-child Grid tuning job vs the same jobs by hand ({args.runtime} runtime)",
        "",
        f"`benchmarks/tuning_bench.py --runtime {args.runtime} --repeats {args.repeats}` on "
        f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"{datetime.date.today().isoformat()}: k-means on the census record set (k = 2..11, "
        f"test channel), {PARALLEL} at a time; a client polling every 20 ms launches the "
        "by-hand jobs.",
        "",
        "| run | wall (s), median | each run (s) |",
        "| --- | --- | --- |",
        f"| tuning job (Grid, MaxParallelTrainingJobs {PARALLEL}) | "
        f"{statistics.median(tuned):.2f} | {', '.join(f'{t:.2f}' for t in tuned)} |",
        f"| the same ten jobs by hand | {statistics.median(by_hand):.2f} | "
        f"{', '.join(f'{t:.2f}' for t in by_hand)} |",
        "",
        f"Tuning job scheduling, measured from its records: Create -> first child "
        f"{statistics.median(firsts) * 1000:.0f} ms (median); a child's end -> the next child's "
        f"creation {statistics.median(gaps) * 1000:.0f} ms median, "
        f"{max(gaps) * 1000:.0f} ms max over {len(gaps)} hand-overs. Difference of medians "
        f"(tuning - by hand): {statistics.median(tuned) - statistics.median(by_hand):+.2f} s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write_results:
        with (ROOT / "benchmarks" / "RESULTS.md").open("a") as results:
            results.write(text)


if __name__ == "__main__":
    main()
