"""What the SDK 3 flows share: logging to stdout, small data in the default bucket, the result.

Runs in `.venv-v3` (SageMaker SDK 3.x), never in the dev venv: the SDK is imported inside the
functions that need it, so mypy (which sees the 2.x SDK) checks only this file's own code.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import boto3
import numpy as np

INSTANCE_TYPE = "ml.m5.large"


def log_to_stdout() -> None:
    """What a user does to see `train(logs=True)`: SDK 3 logs the job's lines at INFO."""
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s: %(message)s")
    # boto's endpoint discovery notes drown the job's own lines.
    logging.getLogger("botocore").setLevel(logging.WARNING)


def blobs(n: int = 300, d: int = 4, k: int = 3, seed: int = 0) -> np.ndarray:
    """Well separated gaussian blobs, float32 (n, d)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-20, 20, size=(k, d))
    labels = rng.integers(0, k, size=n)
    data = centres[labels] + rng.normal(scale=0.3, size=(n, d))
    return data.astype(np.float32)


def csv_body(matrix: np.ndarray) -> bytes:
    return "\n".join(",".join(repr(float(x)) for x in row) for row in matrix).encode() + b"\n"


def put(bucket: str, key: str, body: bytes) -> str:
    """One object in the emulator's S3 (the client finds it through AWS_ENDPOINT_URL)."""
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def get(uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body: bytes = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def default_bucket() -> str:
    from sagemaker.core.helper.session_helper import Session

    name: str = Session().default_bucket()
    return name


def hyperparameters(algorithm: str, feature_dim: int) -> dict[str, Any]:
    if algorithm == "kmeans":
        return {"k": 3, "feature_dim": feature_dim, "mini_batch_size": 100}
    return {"num_components": 2, "feature_dim": feature_dim, "mini_batch_size": 100}


RESULT_MARK = "SDK3-FLOW-RESULT "


def finish(result: dict[str, Any]) -> None:
    """The flow's result, on a line of its own after a mark (the test reads it).

    The mark, because the SDK's progress panel ends without a newline.
    """
    print(f"\n{RESULT_MARK}{json.dumps(result, default=str)}", flush=True)
