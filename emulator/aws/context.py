"""The request context: who is asking (account), where (region), and which request this is.

AWS keeps every SageMaker resource per account and region. A client names its region in the SigV4
credential scope it signs with (`Credential=AKID/20240101/us-west-2/sagemaker/aws4_request`, in the
Authorization header, or in `X-Amz-Credential` for presigned URLs), so the region of each request
comes from there, as moto's per-region backends take it. Requests that carry no scope (unsigned,
SigV2) get the server's default region (`--region`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from emulator.aws.arns import ACCOUNT_ID

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
"""The shape of an AWS region name (us-east-1, eu-west-2, us-gov-west-1, cn-north-1...)."""


@dataclass(frozen=True)
class CredentialScope:
    access_key: str
    date: str
    region: str
    service: str


def credential_scope(authorization: str | None, query_string: str = "") -> CredentialScope | None:
    """The SigV4 credential scope of a request, or None for an unsigned (or SigV2) request."""
    credential = None
    if authorization and "Credential=" in authorization:
        credential = authorization.split("Credential=", 1)[1].split(",", 1)[0].strip()
    elif "X-Amz-Credential" in query_string:
        values = parse_qs(query_string).get("X-Amz-Credential")
        credential = unquote(values[0]) if values else None
    if not credential:
        return None
    parts = credential.split("/")
    # AKID/date/region/service/aws4_request; an access key never contains "/".
    if len(parts) < 5:
        return None
    return CredentialScope(parts[0], parts[1], parts[2].lower(), parts[3].lower())


def is_region_name(region: str) -> bool:
    return _REGION.fullmatch(region) is not None


@dataclass(frozen=True)
class RequestContext:
    """What every operation receives besides its parameters."""

    region: str
    account: str = ACCOUNT_ID
    """moto's default account: the one STS GetCallerIdentity answers and IAM roles live in."""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def context_from_request(
    authorization: str | None, query_string: str, default_region: str
) -> RequestContext:
    """The context of an HTTP request: its signed region, else the server's default."""
    scope = credential_scope(authorization, query_string)
    region = default_region
    if scope is not None and is_region_name(scope.region):
        region = scope.region
    return RequestContext(region=region)
