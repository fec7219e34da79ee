"""How fast the console renders with many resources: 1,000 training jobs and 1,000 models.

`.venv/bin/python benchmarks/console_bench.py [--jobs 1000] [--repeat 20]`: a real emulator
(process runtime) on a free port; the training jobs name an image the process runtime does not
run, so each fails at once without starting anything (a failed job is listed like any other).
Each page is fetched `--repeat` times over one keep-alive connection after one warm-up; the
median and the slowest are printed as a Markdown table for benchmarks/RESULTS.md.

`--baseline DIR` measures a second server run from DIR (a source tree of an earlier commit:
`git archive <commit> | tar -x -C DIR`) beside this one: same data, same load, each page fetched
from one then the other, so a before/after comparison comes from one run.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import httpx

from sdk.launcher import start_emulator

ROLE = "arn:aws:iam::123456789012:role/R"
TARGET_MS = 200.0


def _kwargs(url: str) -> dict[str, str]:
    return {
        "endpoint_url": url,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


def populate(url: str, jobs: int) -> None:
    sm = boto3.client("sagemaker", **_kwargs(url))
    boto3.client("s3", **_kwargs(url)).create_bucket(Bucket="console-bench")

    def job(i: int) -> None:
        sm.create_training_job(
            TrainingJobName=f"bench-job-{i:05d}",
            AlgorithmSpecification={"TrainingImage": "bench/none:1", "TrainingInputMode": "File"},
            RoleArn=ROLE,
            OutputDataConfig={"S3OutputPath": "s3://console-bench/out"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
            HyperParameters={"k": str(i)},
        )
        sm.create_model(
            ModelName=f"bench-model-{i:05d}", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "x"}
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(job, range(jobs)))


def measure(client: httpx.Client, path: str, repeat: int) -> tuple[float, float, int]:
    first = client.get(path)
    assert first.status_code == 200, (path, first.status_code, first.text[:300])
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(times), max(times), len(first.content)


PAGES = [
    ("training jobs list page: newest 100 (HTML)", "/_emulator/ui/training-jobs"),
    ("training jobs list, every job (HTML, ?all=true)", "/_emulator/ui/training-jobs?all=true"),
    ("training jobs list, filtered (HTML)", "/_emulator/ui/training-jobs?q=job-0099"),
    ("training jobs list, every job (JSON)", "/_emulator/ui/api/training-jobs"),
    ("models list page: newest 100 (HTML)", "/_emulator/ui/models"),
    ("models list, every model (HTML, ?all=true)", "/_emulator/ui/models?all=true"),
    ("training job page (HTML)", "/_emulator/ui/training-jobs/bench-job-00500"),
    ("training job log tail (JSON)", "/_emulator/ui/api/training-jobs/bench-job-00500/logs"),
    ("training job metrics (JSON)", "/_emulator/ui/api/training-jobs/bench-job-00500/metrics"),
]


def _cell(median: float, slowest: float) -> str:
    flag = "" if median < TARGET_MS else " (over the target)"
    return f"{median:.1f} ms{flag} | {slowest:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--baseline", type=Path, help="a source tree to measure beside this one")
    args = parser.parse_args()
    trees: list[tuple[str, dict[str, str] | None]] = [("this tree", None)]
    if args.baseline is not None:
        trees.insert(0, ("baseline", {"PYTHONPATH": str(args.baseline.resolve())}))
    with contextlib.ExitStack() as stack:
        clients = []
        for label, env in trees:
            data = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            server = stack.enter_context(start_emulator(data, "process", env=env))
            started = time.perf_counter()
            populate(server.url, args.jobs)
            elapsed = time.perf_counter() - started
            print(f"{label}: created {args.jobs} training jobs and models in {elapsed:.1f} s")
            clients.append(stack.enter_context(httpx.Client(base_url=server.url, timeout=60)))
        heads = " | ".join(f"{label}: median | slowest of {args.repeat}" for label, _ in trees)
        print(f"\n| page ({args.jobs} jobs) | {heads} | size |")
        print("|---|" + "---|---|" * len(trees) + "---|")
        for title, path in PAGES:
            # Each tree in turn, page by page: both see the same load.
            cells = []
            size = 0
            for client in clients:
                median, slowest, size = measure(client, path, args.repeat)
                cells.append(_cell(median, slowest))
            print(f"| {title} | {' | '.join(cells)} | {size // 1024} KiB |")


if __name__ == "__main__":
    main()
