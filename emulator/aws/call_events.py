"""What the call history keeps of a successful call: the resource it made or changed, and an
event in the shape of a CloudTrail record (eventName, eventSource, awsRegion, requestID,
requestParameters...).

Everything is read from botocore's service models, not retyped:
- which resource: SageMaker's `<Noun>Name` member of a `<Verb><Noun>...` operation (its ARN as
  the service writes it) or its `ResourceArn` (AddTags); S3's bucket and key, the operation
  matched from the model's HTTP bindings (method, path, query keys, required headers); Logs'
  `logGroupName`.
- the request without secrets: members of a `sensitive` shape are replaced by CloudTrail's own
  HIDDEN_DUE_TO_SECURITY_REASONS; only model members are kept, so no Authorization header,
  signature or security token is; S3 object bodies (streaming payloads) are never kept, and other
  XML payloads only as text, up to MAX_PAYLOAD_CHARS.

Reads (Describe*, List*, Get*...) are not events here, nor are CloudWatch Logs' PutLogEvents
(CloudTrail does not record it either: it is data, and frequent).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs

from botocore.model import OperationModel, Shape

from emulator.aws.arns import ACCOUNT_ID, PARTITION, arn
from emulator.aws.specs import SAGEMAKER, operation_model, service_model

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
MAX_PAYLOAD_CHARS = 4096
MAX_PARAMETERS_CHARS = 32 * 1024
"""A request larger than this (as JSON) is kept as its member names only."""

READ_PREFIXES = (
    "Describe",
    "List",
    "Get",
    "Search",
    "Query",
    "BatchDescribe",
    "BatchGet",
    "Head",
)
_LOGS_SKIPPED = frozenset({"PutLogEvents"})
_LOGS_READS = (*READ_PREFIXES, "Filter", "Test", "Start", "Stop")
"""CloudWatch Logs' reads, and its StartQuery/StopQuery (queries, not changes)."""
_VERB = re.compile(r"[A-Z][a-z]+")


@dataclass(frozen=True)
class CallEvent:
    resource: str
    """The ARN of the resource the call made or changed (S3: arn:aws:s3:::bucket[/key])."""
    event: dict[str, Any]


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


def _event(
    source: str,
    operation: str,
    region: str,
    request_id: str | None,
    parameters: dict[str, Any],
    resource: str,
) -> CallEvent:
    return CallEvent(
        resource,
        {
            "eventTime": time.time(),
            "eventSource": f"{source}.amazonaws.com",
            "eventName": operation,
            "awsRegion": region,
            "requestID": request_id or str(uuid.uuid4()),
            "recipientAccountId": ACCOUNT_ID,
            "requestParameters": _bounded(parameters),
            "resources": [{"ARN": resource}],
        },
    )


def _bounded(parameters: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(parameters, default=str)) <= MAX_PARAMETERS_CHARS:
        return parameters
    return {name: "(omitted: the request is too large to keep)" for name in parameters}


def without_secrets(value: Any, shape: Shape | None) -> Any:
    """`value` (wire form) with every member of a sensitive shape hidden."""
    if shape is None:
        return value
    if shape.metadata.get("sensitive"):
        return HIDDEN
    if shape.type_name == "structure" and isinstance(value, Mapping):
        members = shape.members
        return {k: without_secrets(v, members.get(k)) for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [without_secrets(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, Mapping):
        return {k: without_secrets(v, shape.value) for k, v in value.items()}
    return value


# --- SageMaker ------------------------------------------------------------------------------------


def _kebab(noun: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", noun).lower()


@cache
def _sagemaker_noun(operation: str) -> str | None:
    """`StopTrainingJob` -> `TrainingJob`: the longest `<Noun>Name` input member whose noun
    starts the operation's name after its verb."""
    verb = _VERB.match(operation)
    if verb is None:
        return None
    rest = operation[verb.end() :]
    nouns = [
        m[: -len("Name")]
        for m in operation_model(operation).input_shape.members
        if m.endswith("Name") and rest.startswith(m[: -len("Name")]) and m != "Name"
    ]
    return max(nouns, key=len) if nouns else None


def sagemaker_event(
    operation: str, params: dict[str, Any], region: str, request_id: str | None
) -> CallEvent | None:
    """The event of a successful SageMaker call, or None for a read or a call on no resource."""
    if is_read(operation):
        return None
    resource = params.get("ResourceArn")
    if not isinstance(resource, str):
        noun = _sagemaker_noun(operation)
        name = params.get(f"{noun}Name") if noun else None
        if noun is None or not isinstance(name, str):
            return None
        resource = arn(region, _kebab(noun), name)
    shape = operation_model(operation).input_shape
    request = without_secrets(params, shape)
    return _event(SAGEMAKER, operation, region, request_id, request, resource)


# --- S3 -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _S3Route:
    operation: str
    method: str
    has_key: bool
    literal_query: tuple[tuple[str, str | None], ...]
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]
    deprecated: bool

    def matches(self, method: str, has_key: bool, query: dict[str, Any], headers: Any) -> bool:
        return (
            method == self.method
            and has_key == self.has_key
            and all(k in query and (v is None or query[k] == [v]) for k, v in self.literal_query)
            and all(k in query for k in self.required_query)
            and all(h in headers for h in self.required_headers)
        )

    @property
    def weight(self) -> tuple[int, bool]:
        found = len(self.literal_query) + len(self.required_query) + len(self.required_headers)
        return found, not self.deprecated


def _location_name(op: OperationModel, member: str) -> str:
    return str(op.input_shape.members[member].serialization.get("name", member))


@cache
def _s3_routes() -> tuple[_S3Route, ...]:
    model = service_model("s3")
    routes = []
    for name in model.operation_names:
        op = model.operation_model(name)
        method = op.http.get("method", "")
        if method not in ("PUT", "POST", "DELETE") or is_read(name) or name.startswith("Select"):
            continue
        path, _, query = op.http.get("requestUri", "").partition("?")
        if not path.startswith("/{Bucket}"):
            continue
        literal = []
        for part in filter(None, query.split("&")):
            key, has_value, value = part.partition("=")
            literal.append((key, value if has_value else None))
        shape = op.input_shape
        required = set(shape.required_members) if shape is not None else set()

        def located(
            where: str, required: set[str] = required, op: OperationModel = op
        ) -> tuple[str, ...]:
            members = op.input_shape.members if op.input_shape is not None else {}
            return tuple(
                _location_name(op, m).lower() if where == "header" else _location_name(op, m)
                for m in sorted(required)
                if members[m].serialization.get("location") == where
            )

        routes.append(
            _S3Route(
                name,
                method,
                "{Key+}" in path,
                tuple(literal),
                located("querystring"),
                located("header"),
                bool(op.deprecated),
            )
        )
    return tuple(routes)


def s3_operation(method: str, has_key: bool, query: dict[str, Any], headers: Any) -> str | None:
    """The S3 operation a mutating request is, from the model's HTTP bindings."""
    candidates = [r for r in _s3_routes() if r.matches(method, has_key, query, headers)]
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r.weight, r.operation)).operation


def s3_event(
    method: str,
    path: str,
    query_string: str,
    headers: Mapping[str, str],
    payload: Callable[[], bytes],
    region: str,
    request_id: str | None,
) -> CallEvent | None:
    """The event of a successful path-style S3 request (`/bucket[/key]`); `headers` by lower-case
        name; `payload` reads the start of its body (only for an XML payload: an object's body, a
    streaming payload, is never read)."""
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket:
        return None
    query = parse_qs(query_string, keep_blank_values=True)
    operation = s3_operation(method, bool(key), query, headers)
    if operation is None:
        return None
    op = service_model("s3").operation_model(operation)
    shape = op.input_shape
    request: dict[str, Any] = {"Bucket": bucket}
    if key:
        request["Key"] = key
    payload_member = shape.serialization.get("payload") if shape is not None else None
    for member, member_shape in shape.members.items() if shape is not None else ():
        where = member_shape.serialization.get("location")
        located = str(member_shape.serialization.get("name", member))
        value: Any = None
        if where == "header":
            value = headers.get(located.lower())
        elif where == "headers":
            prefix = located.lower()
            value = {h[len(prefix) :]: v for h, v in headers.items() if h.startswith(prefix)}
        elif where == "querystring" and located in query:
            values = query[located]
            value = values[0] if len(values) == 1 else values
        elif member == payload_member and member_shape.type_name == "structure":
            value = payload()[:MAX_PAYLOAD_CHARS].decode("utf-8", "replace")
        if value:
            request[member] = without_secrets(value, member_shape)
    return _event("s3", operation, region, request_id, request, s3_arn(bucket, key))


# --- CloudWatch Logs ------------------------------------------------------------------------------


def s3_arn(bucket: str, key: str = "") -> str:
    return f"arn:{PARTITION}:s3:::{bucket}" + (f"/{key}" if key else "")


def log_group_arn(region: str, group: str) -> str:
    return f"arn:{PARTITION}:logs:{region}:{ACCOUNT_ID}:log-group:{group}"


def logs_event(
    target: str, body: dict[str, Any], region: str, request_id: str | None
) -> CallEvent | None:
    """The event of a successful CloudWatch Logs call on a log group (by name or ARN)."""
    operation = target.rsplit(".", 1)[-1]
    if operation.startswith(_LOGS_READS) or operation in _LOGS_SKIPPED:
        return None
    group = body.get("logGroupName") or body.get("logGroupIdentifier")
    if not isinstance(group, str) or not group:
        return None
    if group.startswith("arn:"):
        resource = group.removesuffix(":*")
    else:
        resource = log_group_arn(region, group)
    model = service_model("logs")
    if operation not in model.operation_names:
        return None
    request = without_secrets(body, model.operation_model(operation).input_shape)
    return _event("logs", operation, region, request_id, request, resource)
