"""ARNs in the shape the real service writes them, under moto's account so S3/IAM/STS agree."""

from __future__ import annotations

from collections.abc import Collection

ACCOUNT_ID = "123456789012"
"""moto's default account: the one STS GetCallerIdentity answers and IAM roles live in."""

PARTITION = "aws"


def arn(region: str, resource_type: str, name: str, service: str = "sagemaker") -> str:
    """`arn(region, "training-job", "pca-1")` -> arn:aws:sagemaker:<region>:123456789012:training-job/pca-1.

    The real service lower-cases the resource name in SageMaker ARNs (e.g. an endpoint named
    `MyEndpoint` has ARN `.../endpoint/myendpoint`).
    """
    resource = name.lower() if service == "sagemaker" else name
    return f"arn:{PARTITION}:{service}:{region}:{ACCOUNT_ID}:{resource_type}/{resource}"


def name_taken(name: str, existing: Collection[str]) -> bool:
    """Whether a new SageMaker resource called `name` would be one that exists already.

    Names that differ only in case share one ARN (the ARN lower-cases the name), so to the real
    service they are the same resource: a second one would take over the first one's tags.
    """
    if name in existing:
        return True
    lowered = name.lower()
    return any(other.lower() == lowered for other in existing)


def log_stream_arn(region: str, group: str, stream: str) -> str:
    return f"arn:{PARTITION}:logs:{region}:{ACCOUNT_ID}:log-group:{group}:log-stream:{stream}"
