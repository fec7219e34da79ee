"""IAM's policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy), truthfully for an
emulator that does not enforce IAM: every action is `allowed` on every resource.

moto does not implement the simulator. Tools that check permissions before they act (the
SageMaker SDK, CDK, Terraform's data source) would otherwise fail against the emulator, which
would in fact let every call through. The answer has AWS's shape: one EvaluationResult per action
(whatever the number of resources), its per-resource decisions in ResourceSpecificResults when
resources are named, no matched statements (no policy decided anything), no missing context
values, and IsTruncated/Marker pagination over the results with MaxItems (default 100, at most
1000). SimulatePrincipalPolicy's PolicySourceArn must name a user, role or group that exists,
as in AWS (NoSuchEntity otherwise).
"""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

from emulator.aws.protocol_errors import Headers, render
from emulator.aws.service_models import xml_namespace
from emulator.storage.moto_internals import iam as moto_iam

OPERATIONS = frozenset({"SimulatePrincipalPolicy", "SimulateCustomPolicy"})
_DEFAULT_MAX_ITEMS = 100
_MAX_ITEMS = 1000
_ALLOWED = "allowed"

Answer = tuple[int, Headers, bytes]
Params = dict[str, list[str]]


def simulate(operation: str, params: Params) -> Answer:
    """The answer to one of OPERATIONS; `params`: the request's form fields (parse_qs)."""
    if operation == "SimulatePrincipalPolicy":
        source = _first(params, "PolicySourceArn")
        if source is None:
            return _error(400, "ValidationError", "PolicySourceArn is required.")
        if source not in moto_iam.iam_principal_arns():
            return _error(404, "NoSuchEntity", f"The entity {source} cannot be found.")
    else:
        policies = _members(params, "PolicyInputList")
        if not policies:
            return _error(400, "ValidationError", "PolicyInputList is required.")
        for policy in policies:
            if not _is_json_object(policy):
                return _error(400, "InvalidInput", "A policy document is not valid JSON.")
    actions = _members(params, "ActionNames")
    if not actions:
        return _error(400, "ValidationError", "ActionNames is required.")
    try:
        start, stop = _page(params, len(actions))
    except _Invalid as invalid:
        return _error(400, invalid.code, invalid.message)
    resources = _members(params, "ResourceArns")
    results = "".join(_result(action, resources) for action in actions[start:stop])
    truncated = stop < len(actions)
    marker = f"<Marker>{stop}</Marker>" if truncated else ""
    result = (
        f"<EvaluationResults>{results}</EvaluationResults>"
        f"<IsTruncated>{str(truncated).lower()}</IsTruncated>{marker}"
    )
    return _document(operation, result)


class _Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _page(params: Params, total: int) -> tuple[int, int]:
    """(first, past-last) index of the results on this page."""
    raw_max = _first(params, "MaxItems")
    raw_marker = _first(params, "Marker")
    try:
        max_items = _DEFAULT_MAX_ITEMS if raw_max is None else int(raw_max)
    except ValueError:
        raise _Invalid("ValidationError", f"MaxItems {raw_max!r} is not a number.") from None
    if not 1 <= max_items <= _MAX_ITEMS:
        message = (
            f"1 validation error detected: Value '{max_items}' at 'maxItems' failed to satisfy "
            f"constraint: Member must have value between 1 and {_MAX_ITEMS}"
        )
        raise _Invalid("ValidationError", message)
    start = 0
    if raw_marker is not None:
        if not raw_marker.isdigit() or not 0 < int(raw_marker) < total:
            raise _Invalid("InvalidInput", "The Marker is not one this simulation returned.")
        start = int(raw_marker)
    return start, min(total, start + max_items)


def _result(action: str, resources: list[str]) -> str:
    resource_name = resources[0] if len(resources) == 1 else "*"
    per_resource = "".join(
        "<member>"
        f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
        f"<EvalResourceDecision>{_ALLOWED}</EvalResourceDecision>"
        "<MatchedStatements/><MissingContextValues/>"
        "</member>"
        for resource in resources
    )
    specific = (
        f"<ResourceSpecificResults>{per_resource}</ResourceSpecificResults>" if resources else ""
    )
    return (
        "<member>"
        f"<EvalActionName>{escape(action)}</EvalActionName>"
        f"<EvalResourceName>{escape(resource_name)}</EvalResourceName>"
        f"<EvalDecision>{_ALLOWED}</EvalDecision>"
        f"<MatchedStatements/><MissingContextValues/>{specific}"
        "</member>"
    )


def _document(operation: str, result: str) -> Answer:
    request_id = str(uuid.uuid4())
    namespace = xml_namespace("iam") or ""
    body = (
        f'<{operation}Response xmlns="{namespace}">'
        f"<{operation}Result>{result}</{operation}Result>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    ).encode()
    headers: Headers = [
        (b"content-type", b"text/xml"),
        (b"x-amzn-requestid", request_id.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    return 200, headers, body


def _error(status: int, code: str, message: str) -> Answer:
    return render("iam", status, code, message, protocol="query")


def _first(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _members(params: Params, name: str) -> list[str]:
    """A query-protocol list (`Name.member.1`, `Name.member.2`...), in index order."""
    prefix = f"{name}.member."
    found = [
        (int(key[len(prefix) :]), values[0])
        for key, values in params.items()
        if key.startswith(prefix) and key[len(prefix) :].isdigit() and values
    ]
    return [value for _, value in sorted(found)]


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
