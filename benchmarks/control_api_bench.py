"""Control-plane API benchmark: the hot path of the job operations, Create/Describe/List.

Through the emulator's port, over one keep-alive connection, raw JSON 1.1 requests (so the client
adds next to nothing): CreateTrainingJob latency (jobs whose input bucket does not exist: each
fails while staging, so the machine stays quiet), then DescribeTrainingJob and ListTrainingJobs
(MaxResults 100) over those jobs once they have ended, and DescribeTransformJob of a missing job
(the error path every kind shares).

`--checkout DIR` (repeatable) runs the server from that source tree (PYTHONPATH), so two versions
are compared side by side in one run; rounds alternate between them (A B A B ...), and each
figure is the median over rounds of the round's median, of its fastest call, and of the server
process's CPU time per call (/proc: on a loaded machine the wall-clock medians follow the load,
the CPU time much less).

Usage: .venv/bin/python benchmarks/control_api_bench.py [--checkout DIR]... [--rounds 3]
           [--jobs 200] [--calls 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
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


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) the process has used, in ms: unlike wall time, what another
    process does on the machine hardly changes it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


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
            cpu: dict[str, float] = {}
            before = cpu_ms(server.pid)
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
            cpu["CreateTrainingJob (and its failing run)"] = (cpu_ms(server.pid) - before) / jobs
            before = cpu_ms(server.pid)
            describe = [
                timed(client, "DescribeTrainingJob", {"TrainingJobName": f"bench-{i % jobs:04d}"})
                for i in range(calls)
            ]
            cpu["DescribeTrainingJob"] = (cpu_ms(server.pid) - before) / calls
            before = cpu_ms(server.pid)
            listing = [
                timed(client, "ListTrainingJobs", {"MaxResults": 100}) for _ in range(calls // 4)
            ]
            cpu[f"ListTrainingJobs (100 of {jobs})"] = (cpu_ms(server.pid) - before) / (calls // 4)
            before = cpu_ms(server.pid)
            missing = [
                timed(client, "DescribeTransformJob", {"TransformJobName": "absent"}, ok=400)
                for _ in range(calls // 4)
            ]
            cpu["DescribeTransformJob (missing)"] = (cpu_ms(server.pid) - before) / (calls // 4)
        finally:
            client.close()
            server.stop()
    # The minimum too: on a shared, loaded machine the median follows the load; the fastest
    # call is the cost of the code path when the server got the CPU at once.
    measured = {
        "CreateTrainingJob": create,
        "DescribeTrainingJob": describe,
        f"ListTrainingJobs (100 of {jobs})": listing,
        "DescribeTransformJob (missing)": missing,
    }
    result: dict[str, float] = {}
    for name, samples in measured.items():
        result[f"{name} p50 ms"] = statistics.median(samples)
        result[f"{name} min ms"] = min(samples)
    for name, per_call in cpu.items():
        result[f"{name}: server CPU ms per call"] = per_call
    return result


IN_PROCESS = """
import json, sys, tempfile, time, timeit
from pathlib import Path
from emulator.runtime.process_runtime import ProcessRuntime
from emulator.services.regions import RegionalServices
from emulator.storage.logs import RegionalLogs
from emulator.storage.s3 import S3Store

jobs, request = int(sys.argv[1]), json.loads(sys.argv[2])
with tempfile.TemporaryDirectory() as tmp:
    root = Path(tmp)
    logs = RegionalLogs(root / "logs", "us-east-1")
    regions = RegionalServices(root, "us-east-1", ProcessRuntime(), S3Store(root / "s3"), logs.get)
    regions.start()
    service = regions.get("us-east-1")
    call = service.call_operation
    for i in range(jobs):
        call("CreateTrainingJob", {**request, "TrainingJobName": f"bench-{i:04d}"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and call(
        "ListTrainingJobs", {"StatusEquals": "InProgress"})["TrainingJobSummaries"]:
        time.sleep(0.1)

    def best(statement, number):
        return min(timeit.repeat(statement, number=number, repeat=7)) / number * 1000

    def calls_of(statement):
        # Function calls (Python and C) one call makes: deterministic, whatever the load.
        count = 0

        def profile(frame, event, arg):
            nonlocal count
            if event in ("call", "c_call"):
                count += 1

        sys.setprofile(profile)
        try:
            statement()
        finally:
            sys.setprofile(None)
        return count

    counted = {
        "CreateTrainingJob function calls": calls_of(lambda: call(
            "CreateTrainingJob", {**request, "TrainingJobName": "bench-counted"})),
        "DescribeTrainingJob function calls": calls_of(
            lambda: call("DescribeTrainingJob", {"TrainingJobName": "bench-0001"})),
        f"ListTrainingJobs (100 of {jobs}) function calls": calls_of(
            lambda: call("ListTrainingJobs", {"MaxResults": 100})),
    }
    print(json.dumps({**counted,
        "DescribeTrainingJob": best(
            lambda: call("DescribeTrainingJob", {"TrainingJobName": "bench-0001"}), 300),
        f"ListTrainingJobs (100 of {jobs})": best(
            lambda: call("ListTrainingJobs", {"MaxResults": 100}), 30),
        "DescribeTransformJob (missing)": best(lambda: _missing(call), 300),
    }))
    regions.close()
    logs.close()
"""
IN_PROCESS = IN_PROCESS.replace(
    "    print(json.dumps(",
    "    def _missing(call):\n"
    "        try:\n"
    "            call('DescribeTransformJob', {'TransformJobName': 'absent'})\n"
    "        except Exception:\n"
    "            pass\n\n"
    "    print(json.dumps(",
)


def in_process(checkout: Path, jobs: int) -> dict[str, float]:
    """The operations called in-process, as a tuning job calls them (validation, handler, wire
    shape; no HTTP): the best of 7 timed batches, ms per call, and the function calls one
    operation makes (counted with sys.setprofile: the same on a quiet or a loaded machine)."""
    output = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(jobs), json.dumps(training_request("x"))],
        env={**os.environ, "PYTHONPATH": str(checkout)},
        cwd=tempfile.gettempdir(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return {
        (name if name.endswith("calls") else f"{name} in-process best ms"): value
        for name, value in found.items()
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
            result = {
                **one_round(checkout, args.jobs, args.calls),
                **in_process(checkout, args.jobs),
            }
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
