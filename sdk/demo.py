"""The census segmentation workflow against a running emulator, with plain boto3.

It is the classic notebook's story (PCA on the county table, then k-means on the top
components) told through the low-level API, so it runs in seconds and shows every call:

    python -m sdk.demo --endpoint-url http://127.0.0.1:8642 [--census PATH] [--keep]

The county table ships with the package (sdk/data), so it runs from any directory.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import boto3
import numpy as np

from sdk.data import census_csv

REGION = "us-east-1"
BUCKET = "sagemaker-emulator-demo"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
# The real ECR URIs of the built-in images; the emulator maps them to its own algorithms.
PCA_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"
KMEANS_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1"


def load_census(path: Path) -> tuple[list[str], np.ndarray]:
    """County names and the MinMax-scaled numeric columns, rows with a gap dropped (3218)."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    numeric = [i for i, name in enumerate(header) if name not in ("CensusId", "State", "County")]
    kept = [r for r in body if all(cell != "" for cell in r)]
    names = [f"{r[header.index('State')]}-{r[header.index('County')]}" for r in kept]
    x = np.array([[float(r[i]) for i in numeric] for r in kept], dtype=np.float64)
    lo, hi = x.min(axis=0), x.max(axis=0)
    return names, ((x - lo) / np.where(hi > lo, hi - lo, 1.0)).astype(np.float32)


def to_csv(x: np.ndarray) -> bytes:
    buf = io.StringIO()
    np.savetxt(buf, x, delimiter=",", fmt="%.8g")
    return buf.getvalue().encode()


class Demo:
    def __init__(self, endpoint_url: str) -> None:
        kw: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region_name": REGION,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        self.sm = boto3.client("sagemaker", **kw)
        self.rt = boto3.client("sagemaker-runtime", **kw)
        self.s3 = boto3.client("s3", **kw)
        self.logs = boto3.client("logs", **kw)
        self.stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())

    def train(self, algo: str, image: str, data: bytes, hyperparameters: dict[str, str]) -> str:
        job = f"{algo}-demo-{self.stamp}"
        key = f"census/{algo}/train.csv"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        started = time.monotonic()
        self.sm.create_training_job(
            TrainingJobName=job,
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            RoleArn=ROLE,
            InputDataConfig=[
                {
                    "ChannelName": "train",
                    "ContentType": "text/csv;label_size=0",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{BUCKET}/{key}",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output/"},
            ResourceConfig={
                "InstanceType": "ml.c4.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
            HyperParameters=hyperparameters,
        )
        self.sm.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=job, WaiterConfig={"Delay": 1, "MaxAttempts": 600}
        )
        desc = self.sm.describe_training_job(TrainingJobName=job)
        print(f"\n{job}: {desc['TrainingJobStatus']} in {time.monotonic() - started:.1f} s")
        for t in desc["SecondaryStatusTransitions"]:
            print(f"  {t['Status']:<12} {t.get('StatusMessage', '')}")
        for m in desc.get("FinalMetricDataList", []):
            print(f"  metric {m['MetricName']} = {m['Value']}")
        if desc["TrainingJobStatus"] != "Completed":
            raise SystemExit(f"training failed: {desc.get('FailureReason')}")
        self.print_log_tail(job)
        return job

    def print_log_tail(self, job: str, lines: int = 6) -> None:
        group = "/aws/sagemaker/TrainingJobs"
        streams = self.logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=job + "/")
        for stream in streams["logStreams"]:
            events = self.logs.get_log_events(
                logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
            )["events"]
            print(f"  CloudWatch {stream['logStreamName']} ({len(events)} lines), last {lines}:")
            for e in events[-lines:]:
                print(f"    | {e['message'][:110]}")

    def deploy(self, job: str, image: str) -> str:
        desc = self.sm.describe_training_job(TrainingJobName=job)
        name = job
        self.sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": image,
                "ModelDataUrl": desc["ModelArtifacts"]["S3ModelArtifacts"],
            },
        )
        self.sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.t2.medium",
                }
            ],
        )
        started = time.monotonic()
        self.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        self.sm.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
        )
        print(f"endpoint {name}: InService in {time.monotonic() - started:.1f} s")
        return name

    def predict(self, endpoint: str, x: np.ndarray) -> Any:
        response = self.rt.invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Accept="application/json", Body=to_csv(x)
        )
        return json.loads(response["Body"].read())

    def cleanup(self, endpoints: list[str]) -> None:
        for name in endpoints:
            self.sm.delete_endpoint(EndpointName=name)
            self.sm.delete_endpoint_config(EndpointConfigName=name)
            self.sm.delete_model(ModelName=name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--endpoint-url", default="http://127.0.0.1:8642")
    parser.add_argument(
        "--census", type=Path, default=None, help="the county table (default: the packaged copy)"
    )
    parser.add_argument("--keep", action="store_true", help="leave the endpoints running")
    args = parser.parse_args(argv)

    names, x = load_census(args.census or census_csv())
    print(f"census: {x.shape[0]} counties x {x.shape[1]} features (MinMax-scaled)")
    demo = Demo(args.endpoint_url)
    demo.s3.create_bucket(Bucket=BUCKET)

    d = x.shape[1]
    pca_job = demo.train(
        "pca",
        PCA_IMAGE,
        to_csv(x),
        {"feature_dim": str(d), "num_components": str(d - 1), "mini_batch_size": "500"},
    )
    pca_endpoint = demo.deploy(pca_job, PCA_IMAGE)
    projections = np.array(
        [p["projection"] for p in demo.predict(pca_endpoint, x)["projections"]], dtype=np.float32
    )
    # Components are stored smallest first (as the real algorithm does): the top 5 are the last 5.
    top5 = projections[:, -5:][:, ::-1]
    variance = projections.var(axis=0)
    print(f"top-5 components explain {variance[-5:].sum() / variance.sum():.1%} of the variance")

    kmeans_job = demo.train(
        "kmeans", KMEANS_IMAGE, to_csv(top5), {"feature_dim": "5", "k": "7", "force_dense": "True"}
    )
    kmeans_endpoint = demo.deploy(kmeans_job, KMEANS_IMAGE)
    predictions = demo.predict(kmeans_endpoint, top5)["predictions"]
    clusters = np.array([int(p["closest_cluster"]) for p in predictions])
    counts = np.bincount(clusters, minlength=7)
    print(f"k-means: cluster sizes {counts.tolist()} (total {counts.sum()})")
    for c in range(7):
        members = [names[i] for i in np.flatnonzero(clusters == c)[:3]]
        print(f"  cluster {c}: {', '.join(members)}, ...")
    if not args.keep:
        demo.cleanup([pca_endpoint, kmeans_endpoint])
    print("\ndemo done.")


if __name__ == "__main__":
    main()
