"""boto3 clients and a `sagemaker.Session` pointed at a running emulator.

Everything here works without touching the process environment: an explicit endpoint, region and
dummy credentials. (`sdk.env` is the other way: it sets the environment so that unmodified code,
such as the classic notebooks, finds the emulator by itself.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import boto3
import boto3.session

DEFAULT_REGION = "us-east-1"

ACCOUNT_ID = "123456789012"
"""moto's default account, which the emulator uses for every ARN, so S3, IAM and STS agree."""

DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"  # not a secret: the emulator accepts any credentials

DEFAULT_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/SageMakerRole"
"""A role for code that must name one; the emulator does not enforce IAM."""


def client_region(environ: Mapping[str, str] | None = None) -> str:
    """The region a client here would use: what boto3 itself resolves (AWS_DEFAULT_REGION,
    AWS_REGION, the profile in ~/.aws/config), else us-east-1."""
    import botocore.session

    env = os.environ if environ is None else environ
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        if env.get(name):
            return env[name]
    if environ is not None:
        return DEFAULT_REGION  # an explicit environment: no profile files behind it
    region = botocore.session.Session().get_config_variable("region")
    return str(region) if region else DEFAULT_REGION


def default_bucket_name(region: str = DEFAULT_REGION) -> str:
    """The name the SDK itself gives its default bucket: `sagemaker-{region}-{account}`."""
    return f"sagemaker-{region}-{ACCOUNT_ID}"


def sdk_defaults(bucket: str) -> dict[str, Any]:
    """The SageMaker SDK defaults (its `config.yaml` schema) that keep it offline.

    `DefaultS3Bucket` spares `Session.default_bucket()` its STS call (it would otherwise derive
    `sagemaker-{region}-{account}` from `sts:GetCallerIdentity` on the real regional URL), and
    `TelemetryOptOut` stops the estimators from calling home on every `fit`/`deploy`.
    """
    return {
        "SchemaVersion": "1.0",
        "SageMaker": {
            "PythonSDK": {
                "Modules": {
                    "Session": {"DefaultS3Bucket": bucket},
                    "TelemetryOptOut": True,
                }
            }
        },
    }


def _is_aws_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


class EmulatorBotoSession(boto3.session.Session):  # type: ignore[misc]
    """A boto3 session whose clients and resources all talk to the emulator.

    The SageMaker SDK makes clients from its boto session by itself: `logs` in `fit(logs=True)`,
    `s3` in `record_set` and `default_bucket`, and `sts` with an explicit *regional AWS URL*. So an
    `endpoint_url` on the `sagemaker` client alone is not enough: every client this session makes
    defaults to the emulator, and an explicit `*.amazonaws.com` endpoint is redirected too, because
    nothing in an emulator session may reach AWS.
    """

    def __init__(self, endpoint_url: str, region_name: str = DEFAULT_REGION) -> None:
        super().__init__(
            aws_access_key_id=DUMMY_ACCESS_KEY_ID,
            aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
            region_name=region_name,
        )
        self.emulator_url = endpoint_url.rstrip("/")

    def _endpoint(self, endpoint_url: str | None) -> str:
        if endpoint_url is None or _is_aws_url(endpoint_url):
            return self.emulator_url
        return endpoint_url

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        kwargs["endpoint_url"] = self._endpoint(kwargs.get("endpoint_url"))
        return super().client(service_name, *args, **kwargs)

    def resource(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        kwargs["endpoint_url"] = self._endpoint(kwargs.get("endpoint_url"))
        return super().resource(service_name, *args, **kwargs)


def boto_session(endpoint_url: str, region: str = DEFAULT_REGION) -> EmulatorBotoSession:
    """A boto3 session bound to the emulator at `endpoint_url` (dummy credentials)."""
    return EmulatorBotoSession(endpoint_url, region)


def client(service_name: str, endpoint_url: str, region: str = DEFAULT_REGION) -> Any:
    """One boto3 client (`sagemaker`, `sagemaker-runtime`, `s3`, `logs`, ...) on the emulator."""
    return boto_session(endpoint_url, region).client(service_name)


def sagemaker_session(
    endpoint_url: str, region: str = DEFAULT_REGION, default_bucket: str | None = None
) -> Any:
    """A `sagemaker.Session` whose every call goes to the emulator.

    The SDK is imported here, not at module level: `sdk` must be usable where the SageMaker SDK is
    not installed. The default bucket is created on first use by the SDK itself
    (`Session.default_bucket()` creates a bucket that does not exist).
    """
    from sagemaker.session import Session

    bucket = default_bucket or default_bucket_name(region)
    session = boto_session(endpoint_url, region)
    return Session(
        boto_session=session,
        sagemaker_client=session.client("sagemaker"),
        sagemaker_runtime_client=session.client("sagemaker-runtime"),
        default_bucket=bucket,
        sagemaker_config=sdk_defaults(bucket),
    )
