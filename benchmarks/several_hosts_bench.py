"""Several instances: a 2-host PCA and k-means job against 1 host on the same data, through the
API, per runtime: wall time (CreateTrainingJob -> Completed) and the peak memory of each host.

The data is a synthetic float32 matrix in two RecordIO shards (what `record_set` writes for two
instances), channel ShardedByS3Key: one host reads both shards, two hosts one each. Peak memory
is each host's VmHWM (peak resident set), read from /proc while the job runs: the algorithm
processes of a job are found by their TRAINING_JOB_NAME (a container's processes are host
processes too).

Usage: .venv/bin/python benchmarks/several_hosts_bench.py [--rows 400000] [--dim 50]
           [--runtimes process,docker] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from algorithms.common.recordio import encode_dense  # noqa: E402
from emulator.runtime.images import image_uri  # noqa: E402
from sdk.launcher import start_emulator  # noqa: E402
from sdk.session import boto_session  # noqa: E402

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SECTION = "## Several instances"


def peak_rss_by_host(job: str, stop: threading.Event, found: dict[str, int]) -> None:
    """Poll /proc for the job's algorithm processes; keep each host's largest VmHWM (KiB)."""
    needle = f"TRAINING_JOB_NAME={job}".encode()
    while not stop.wait(0.05):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                if needle not in environ:
                    continue
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            host = next(
                (e.split(b"=", 1)[1].decode() for e in environ if e.startswith(b"HOSTNAME=")),
                "",
            )
            base = next(
                (
                    e.split(b"=", 1)[1].decode()
                    for e in environ
                    if e.startswith(b"SAGEMAKER_BASE_DIR=")
                ),
                "",
            )
            # The process runtime names the host by its tree (<job>/algo-N/opt_ml).
            key = Path(base).parent.name if base else host or pid
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    found[key] = max(found.get(key, 0), int(line.split()[1]))


def train(aws: Any, algorithm: str, manifest: str, hosts: int, dim: int) -> tuple[float, list[int]]:
    job = f"{algorithm}-{hosts}h-{uuid.uuid4().hex[:6]}"
    hyperparameters = (
        {"feature_dim": str(dim), "num_components": "10", "mini_batch_size": "500"}
        if algorithm == "pca"
        else {"feature_dim": str(dim), "k": "10", "mini_batch_size": "5000"}
    )
    stop, found = threading.Event(), {}
    watcher = threading.Thread(target=peak_rss_by_host, args=(job, stop, found), daemon=True)
    watcher.start()
    start = time.perf_counter()
    aws["sm"].create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={
            "TrainingImage": image_uri(algorithm, REGION),
            "TrainingInputMode": "File",
        },
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "ManifestFile",
                        "S3Uri": manifest,
                        "S3DataDistributionType": "ShardedByS3Key",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{aws['bucket']}/out/"},
        ResourceConfig={
            "InstanceType": "ml.c5.xlarge",
            "InstanceCount": hosts,
            "VolumeSizeInGB": 5,
        },
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters=hyperparameters,
    )
    while True:
        d = aws["sm"].describe_training_job(TrainingJobName=job)
        if d["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    stop.set()
    watcher.join()
    if d["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"{job}: {d.get('FailureReason')}")
    return elapsed, [found[k] for k in sorted(found)]


def run(runtime: str, matrix: np.ndarray, workdir: Path) -> list[str]:
    rows: list[str] = []
    with start_emulator(workdir / runtime, runtime=runtime) as server:
        session = boto_session(server.url, REGION)
        s3, bucket = session.client("s3"), f"bench-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        prefix = f"sagemaker-record-sets/bench-{uuid.uuid4().hex[:6]}/"
        shards = np.array_split(matrix, 2)
        names = []
        for i, shard in enumerate(shards):
            s3.put_object(Bucket=bucket, Key=f"{prefix}matrix_{i}.pbr", Body=encode_dense(shard))
            names.append(f"matrix_{i}.pbr")
        manifest = [{"prefix": f"s3://{bucket}/{prefix}"}, *names]
        s3.put_object(Bucket=bucket, Key=prefix + ".amazon.manifest", Body=json.dumps(manifest))
        uri = f"s3://{bucket}/{prefix}.amazon.manifest"
        aws = {"sm": session.client("sagemaker"), "bucket": bucket}
        for algorithm in ("pca", "kmeans"):
            for hosts in (1, 2):
                elapsed, peaks = train(aws, algorithm, uri, hosts, matrix.shape[1])
                peak = ", ".join(f"{p / 1024:.0f}" for p in peaks) or "-"
                rows.append(f"| {runtime} | {algorithm} | {hosts} | {elapsed:.1f} s | {peak} |")
                print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--runtimes", default="process,docker")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(args.rows, args.dim)).astype(np.float32)
    matrix[:, :5] *= 10.0
    rows = [
        "| runtime | algorithm | hosts | wall time | peak RSS per host (MiB) |",
        "| --- | --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as workdir:
        for runtime in args.runtimes.split(","):
            rows += run(runtime, matrix, Path(workdir))
    table = "\n".join(rows)
    text = (
        f"{SECTION}\n\n`benchmarks/several_hosts_bench.py --rows {args.rows} --dim {args.dim}` "
        f"({time.strftime('%Y-%m-%d')}): {args.rows:,} x {args.dim} float32 rows in two RecordIO "
        "shards, ShardedByS3Key; the same data for 1 and 2 hosts. Wall time is "
        "CreateTrainingJob to Completed through the API (host start, staging, MPI rendezvous "
        "and upload included).\n\n" + table + "\n"
    )
    print(text)
    if args.write_results:
        results = ROOT / "benchmarks" / "RESULTS.md"
        current = results.read_text()
        if SECTION in current:
            head, _, rest = current.partition(SECTION)
            tail = rest.split("\n## ", 1)
            current = head + text + (("\n## " + tail[1]) if len(tail) > 1 else "")
        else:
            current = current.rstrip("\n") + "\n\n" + text
        results.write_text(current)


if __name__ == "__main__":
    main()
