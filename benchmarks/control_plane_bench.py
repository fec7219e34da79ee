"""Control-plane benchmark: train and deploy times, InvokeEndpoint latency, throughput, overhead.

On the census county table (the segmentation notebook's data, 3218 x 34 after dropna, min-max
scaled, uploaded as the SDK's record_set would):

1. CreateTrainingJob -> Completed (PCA, 33 components) as seen by a client polling every 20 ms.
2. CreateEndpoint -> InService for that model, likewise.
3. One-record JSON InvokeEndpoint: p50/p99 latency through the emulator's port (raw keep-alive
   HTTP, and boto3), against the same request sent straight to a serving container of the same
   runtime (its /invocations), so the difference is the emulator's overhead.
4. Throughput of one-record requests with N concurrent keep-alive clients, through the emulator.

Usage: .venv/bin/python benchmarks/control_plane_bench.py [--runtime process|docker]
           [--repeats 3] [--requests 2000] [--concurrency 8] [--seconds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import statistics
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.runtime.base import ContainerRuntime, ContainerSpec  # noqa: E402
from emulator.runtime.images import algorithm_for_image, image_uri  # noqa: E402
from sdk.data import census_csv  # noqa: E402
from sdk.launcher import start_emulator  # noqa: E402
from sdk.session import boto_session  # noqa: E402

CENSUS = census_csv()
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
POLL_SECONDS = 0.02


def census_matrix() -> np.ndarray:
    """The notebook's preprocessing: dropna(), drop the id/name columns, min-max scale."""
    with CENSUS.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    keep = [i for i, column in enumerate(header) if column not in ("CensusId", "State", "County")]
    complete = [row for row in body if all(row[i] != "" for i in range(len(header)))]
    features = np.array([[float(row[i]) for i in keep] for row in complete], dtype=np.float64)
    low, high = features.min(axis=0), features.max(axis=0)
    scaled: np.ndarray = (features - low) / np.where(high > low, high - low, 1.0)
    return scaled.astype(np.float32)


def upload_record_set(s3: Any, bucket: str, matrix: np.ndarray) -> str:
    # encode_dense writes the same bytes as the SDK's write_numpy_to_dense_tensor.
    from algorithms.common.recordio import encode_dense

    prefix = f"sagemaker-record-sets/PCA-{uuid.uuid4().hex[:8]}/"
    s3.put_object(Bucket=bucket, Key=prefix + "matrix_0.pbr", Body=encode_dense(matrix))
    manifest = [{"prefix": f"s3://{bucket}/{prefix}"}, "matrix_0.pbr"]
    s3.put_object(Bucket=bucket, Key=prefix + ".amazon.manifest", Body=json.dumps(manifest))
    return f"s3://{bucket}/{prefix}.amazon.manifest"


def time_training(sm: Any, bucket: str, manifest: str, feature_dim: int) -> tuple[float, str]:
    name = f"pca-bench-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": image_uri("pca", REGION),
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
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output/"},
        ResourceConfig={"InstanceType": "ml.c4.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={
            "feature_dim": str(feature_dim),
            "num_components": "33",
            "mini_batch_size": "500",
            "subtract_mean": "True",
            "algorithm_mode": "regular",
        },
    )
    while True:
        d = sm.describe_training_job(TrainingJobName=name)
        if d["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(POLL_SECONDS)
    elapsed = time.perf_counter() - start
    if d["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"training failed: {d.get('FailureReason')}")
    return elapsed, d["ModelArtifacts"]["S3ModelArtifacts"]


def time_endpoint(sm: Any, model_data: str) -> tuple[float, str]:
    name = f"pca-bench-{uuid.uuid4().hex[:8]}"
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": image_uri("pca", REGION), "ModelDataUrl": model_data},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    start = time.perf_counter()
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while True:
        d = sm.describe_endpoint(EndpointName=name)
        if d["EndpointStatus"] != "Creating":
            break
        time.sleep(POLL_SECONDS)
    elapsed = time.perf_counter() - start
    if d["EndpointStatus"] != "InService":
        raise RuntimeError(f"endpoint failed: {d.get('FailureReason')}")
    return elapsed, name


class RawClient:
    """One keep-alive HTTP/1.1 connection, as a lean client would hold."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def post(self, path: str, body: bytes) -> bytes:
        self.conn.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        return data


def poster(host: str, port: int, path: str, body: bytes) -> Callable[[], Callable[[], bytes]]:
    """A factory of callables, one keep-alive connection each (one per worker thread)."""

    def make() -> Callable[[], bytes]:
        client = RawClient(host, port)
        return lambda: client.post(path, body)

    return make


def latencies(call: Any, count: int, warmup: int = 100) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples), q))


def throughput(make_call: Any, concurrency: int, seconds: float) -> float:
    stop = threading.Event()
    counts = [0] * concurrency
    errors: list[str] = []

    def worker(i: int) -> None:
        call = make_call()
        while not stop.is_set():
            try:
                call()
            except Exception as exc:
                errors.append(repr(exc))
                return
            counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # warm up
    base = sum(counts)
    start = time.perf_counter()
    time.sleep(seconds)
    done = sum(counts) - base
    elapsed = time.perf_counter() - start
    stop.set()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, first: {errors[0]}")
    return done / elapsed


def direct_container(runtime: ContainerRuntime, s3: Any, model_data: str, workdir: Path) -> Any:
    """A serving container of the same runtime, started by hand, for the baseline."""
    bucket, _, key = model_data[len("s3://") :].partition("/")
    opt_ml = workdir / "direct" / "opt_ml"
    (opt_ml / "model").mkdir(parents=True)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        tar.extractall(opt_ml / "model", filter="data")
    image = image_uri("pca", REGION)
    handle = runtime.start_serving(
        ContainerSpec(
            mode="serve",
            image=image,
            algorithm=algorithm_for_image(image),
            opt_ml=opt_ml,
            name="bench-direct",
        )
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            host, port = handle.url.removeprefix("http://").split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                conn.close()
                return handle
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("direct container did not pass /ping")


def make_runtime(name: str) -> ContainerRuntime:
    if name == "docker":
        from emulator.runtime.docker_runtime import DockerRuntime

        return DockerRuntime()
    from emulator.runtime.process_runtime import ProcessRuntime

    return ProcessRuntime()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=["process", "docker"], default="process")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    matrix = census_matrix()
    one_record = json.dumps({"instances": [{"features": matrix[0].tolist()}]}).encode()
    results: dict[str, Any] = {"runtime": args.runtime, "rows": matrix.shape[0]}
    with tempfile.TemporaryDirectory(prefix="cp-bench-") as tmp:
        workdir = Path(tmp)
        server = start_emulator(workdir / "data", runtime=args.runtime)
        runtime = make_runtime(args.runtime)
        try:
            session = boto_session(server.url, REGION)
            sm, s3, rt = (
                session.client("sagemaker"),
                session.client("s3"),
                session.client("sagemaker-runtime"),
            )
            bucket = f"bench-{uuid.uuid4().hex[:8]}"
            s3.create_bucket(Bucket=bucket)
            manifest = upload_record_set(s3, bucket, matrix)

            train_times, endpoint_times = [], []
            model_data = endpoint = ""
            for _ in range(args.repeats):
                seconds, model_data = time_training(sm, bucket, manifest, matrix.shape[1])
                train_times.append(seconds)
            for _ in range(args.repeats):
                seconds, endpoint = time_endpoint(sm, model_data)
                endpoint_times.append(seconds)
            results["train_to_completed_s"] = statistics.median(train_times)
            results["create_endpoint_to_inservice_s"] = statistics.median(endpoint_times)

            host, port = server.host, server.port
            path = f"/endpoints/{endpoint}/invocations"
            via = RawClient(host, port)
            via_ms = latencies(lambda: via.post(path, one_record), args.requests)

            def boto_call() -> None:
                rt.invoke_endpoint(
                    EndpointName=endpoint,
                    Body=one_record,
                    ContentType="application/json",
                    Accept="application/json",
                )["Body"].read()

            boto_ms = latencies(boto_call, args.requests // 2)

            handle = direct_container(runtime, s3, model_data, workdir)
            try:
                direct_host, direct_port = handle.url.removeprefix("http://").split(":")
                direct = RawClient(direct_host, int(direct_port))
                direct_ms = latencies(
                    lambda: direct.post("/invocations", one_record), args.requests
                )
                direct_rps = throughput(
                    poster(direct_host, int(direct_port), "/invocations", one_record),
                    args.concurrency,
                    args.seconds,
                )
            finally:
                handle.stop(5.0)
            via_rps = throughput(
                poster(host, port, path, one_record),
                args.concurrency,
                args.seconds,
            )
            results.update(
                {
                    "invoke_p50_ms": percentile(via_ms, 50),
                    "invoke_p99_ms": percentile(via_ms, 99),
                    "boto3_invoke_p50_ms": percentile(boto_ms, 50),
                    "boto3_invoke_p99_ms": percentile(boto_ms, 99),
                    "direct_p50_ms": percentile(direct_ms, 50),
                    "direct_p99_ms": percentile(direct_ms, 99),
                    "overhead_p50_ms": percentile(via_ms, 50) - percentile(direct_ms, 50),
                    "throughput_rps": via_rps,
                    "direct_throughput_rps": direct_rps,
                    "concurrency": args.concurrency,
                }
            )
        finally:
            runtime.close()
            server.stop()
    for key, value in results.items():
        print(f"{key:32s} {value:.3f}" if isinstance(value, float) else f"{key:32s} {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
