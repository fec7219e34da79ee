"""Control-plane API benchmark: the hot path of the job operations, Create/Describe/List.

Through the emulator's port, over one keep-alive connection, raw JSON 1.1 requests (so the client
adds next to nothing): CreateTrainingJob latency (jobs whose input bucket does not exist: each
fails while staging, so the machine stays quiet), then DescribeTrainingJob and ListTrainingJobs
(MaxResults 100) over those jobs once they have ended, and DescribeTransformJob of a missing job
(the error path every kind shares).

`--checkout DIR` (repeatable) runs the server from that source tree (PYTHONPATH), so two versions
are compared side by side in one run; rounds alternate between them (A B A B ...), and each
figure is the median over rounds of the round's median.

Usage: .venv/bin/python benchmarks/control_api_bench.py [--checkout DIR]... [--rounds 3]
           [--jobs 200] [--calls 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.runtime.images import image_uri  # noqa: E402
from sdk.launcher import start_emulator  # noqa: E402

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/sagemaker/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0"
)


class Client:
    def __init__(self, host: str, port: int) -> None:
        self._connection = http.client.HTTPConnection(host, port, timeout=30)

    def call(self, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        body = json.dumps(params).encode()
        self._connection.request(
            "POST",
            "/",
            body,
            {
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"SageMaker.{operation}",
                "X-Amz-Date": "20240101T000000Z",
                "Authorization": AUTHORIZATION,
            },
        )
        response = self._connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    def close(self) -> None:
        self._connection.close()


def training_request(name: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": image_uri("pca", REGION),
            "TrainingInputMode": "File",
        },
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://no-such-bucket-for-the-bench/train/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://no-such-bucket-for-the-bench/output/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": {"feature_dim": "4", "num_components": "2", "mini_batch_size": "10"},
        "Tags": [{"Key": "bench", "Value": "control-api"}],
    }


def timed(client: Client, operation: str, params: dict[str, Any], ok: int = 200) -> float:
    start = time.perf_counter()
    status, answer = client.call(operation, params)
    elapsed = time.perf_counter() - start
    if status != ok:
        raise RuntimeError(f"{operation}: {status} {answer}")
    return elapsed * 1000


def one_round(checkout: Path, jobs: int, calls: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        server = start_emulator(
            Path(tmp) / "data", runtime="process", env={"PYTHONPATH": str(checkout)}
        )
        client = Client("127.0.0.1", server.port)
        try:
            for i in range(20):  # warm-up: imports, caches
                client.call("DescribeTrainingJob", {"TrainingJobName": f"warm-{i}"})
            create = [
                timed(client, "CreateTrainingJob", training_request(f"bench-{i:04d}"))
                for i in range(jobs)
            ]
            deadline = time.monotonic() + 120
            while True:
                _, page = client.call(
                    "ListTrainingJobs", {"StatusEquals": "InProgress", "MaxResults": 100}
                )
                if not page["TrainingJobSummaries"] or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            describe = [
                timed(client, "DescribeTrainingJob", {"TrainingJobName": f"bench-{i % jobs:04d}"})
                for i in range(calls)
            ]
            listing = [
                timed(client, "ListTrainingJobs", {"MaxResults": 100}) for _ in range(calls // 4)
            ]
            missing = [
                timed(client, "DescribeTransformJob", {"TransformJobName": "absent"}, ok=400)
                for _ in range(calls // 4)
            ]
        finally:
            client.close()
            server.stop()
    return {
        "CreateTrainingJob p50 ms": statistics.median(create),
        "DescribeTrainingJob p50 ms": statistics.median(describe),
        "ListTrainingJobs (100 of N) p50 ms": statistics.median(listing),
        "DescribeTransformJob (missing) p50 ms": statistics.median(missing),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, action="append", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    checkouts = [c.resolve() for c in (args.checkout or [ROOT])]
    rounds: dict[Path, list[dict[str, float]]] = {c: [] for c in checkouts}
    for number in range(args.rounds):
        for checkout in checkouts:
            result = one_round(checkout, args.jobs, args.calls)
            rounds[checkout].append(result)
            print(f"round {number + 1} {checkout}: {json.dumps(result)}", flush=True)
    summary = {
        str(c): {m: round(statistics.median(r[m] for r in rounds[c]), 3) for m in rounds[c][0]}
        for c in checkouts
    }
    measures = list(next(iter(summary.values())))
    print("| measure | " + " | ".join(str(c) for c in checkouts) + " |")
    print("|---|" + "---|" * len(checkouts))
    for measure in measures:
        print(f"| {measure} | " + " | ".join(f"{summary[str(c)][measure]:.2f}" for c in checkouts))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
