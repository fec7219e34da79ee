"""The List* operations' common part: filters, sort and NextToken pagination over summaries.

Summaries are the wire dicts of the List responses (PascalCase keys), so the filters read the same
fields the client sees. Each operation's defaults come from its own documentation in the botocore
model ("The default is <code>Ascending</code>", "This value defaults to 10"), read once, so they
are derived rather than retyped and differ where the service's do (ListTrainingJobs sorts
Ascending by default, the hosting and transform lists Descending).

Pages are cut after filtering (a page never comes back empty with a NextToken), and a NextToken
names the last item returned (its sort value and name), not an offset: resources created or
deleted between two pages neither repeat nor hide the items that follow.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from emulator.aws.errors import ValidationException
from emulator.aws.specs import operation_model
from emulator.aws.wire import from_wire_timestamp

DEFAULT_MAX_RESULTS = 10
"""Where an operation's documentation states no MaxResults default (ListTrainingJobs, ListModels,
ListEndpointConfigs), the one the other SageMaker lists state."""

_DEFAULT_WORD = re.compile(r"default is <code>(\w+)</code>")
_DEFAULT_NUMBER = re.compile(r"(?:defaults to|default value is)\s*(?:<code>)?(\d+)")

LIST_OPERATION_BY_NAME_KEY = {
    "TrainingJobName": "ListTrainingJobs",
    "TransformJobName": "ListTransformJobs",
    "ModelName": "ListModels",
    "EndpointConfigName": "ListEndpointConfigs",
    "EndpointName": "ListEndpoints",
    "MonitoringScheduleName": "ListMonitoringSchedules",
}
"""The List operation whose summaries carry each name member (callers pass the name key)."""

STATUS_AFTER_PAGE = frozenset({"ListTrainingJobs"})
"""Operations whose documentation says MaxResults is applied first and StatusEquals to that page:
"the MaxResults number of training jobs are first retrieved ignoring the StatusEquals parameter
and then they are filtered by the StatusEquals parameter"."""


@dataclass(frozen=True)
class ListDefaults:
    sort_by: str
    sort_order: str
    max_results: int
    inclusive_after: frozenset[str]
    """Members documented as "greater than or equal to" (ListModels' CreationTimeAfter)."""


@cache
def list_defaults(operation: str) -> ListDefaults:
    """The defaults the operation's member documentation states."""
    members = operation_model(operation).input_shape.members

    def doc(member: str) -> str:
        shape = members.get(member)
        return (shape.documentation or "") if shape is not None else ""

    sort_by = _DEFAULT_WORD.search(doc("SortBy"))
    sort_order = _DEFAULT_WORD.search(doc("SortOrder"))
    max_results = _DEFAULT_NUMBER.search(doc("MaxResults"))
    inclusive = frozenset(m for m in members if "greater than or equal" in doc(m))
    return ListDefaults(
        sort_by=sort_by.group(1) if sort_by else "CreationTime",
        sort_order=sort_order.group(1) if sort_order else "Descending",
        max_results=int(max_results.group(1)) if max_results else DEFAULT_MAX_RESULTS,
        inclusive_after=inclusive,
    )


def as_datetime(value: datetime | float | int | str) -> datetime:
    """A request timestamp as an aware UTC datetime. The control API hands the services parsed
    datetimes; a direct caller may still pass the wire form."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return from_wire_timestamp(value)


# --- offset tokens (ListTags: tags have no sort key) ----------------------------------------------


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ValidationException("Invalid pagination token (NextToken).") from exc
    if not isinstance(offset, int) or offset < 0:
        raise ValidationException("Invalid pagination token (NextToken).")
    return offset


def paginate(
    items: list[dict[str, Any]], request: dict[str, Any], default_max: int = DEFAULT_MAX_RESULTS
) -> tuple[list[dict[str, Any]], str | None]:
    offset = decode_token(request["NextToken"]) if request.get("NextToken") else 0
    limit = int(request.get("MaxResults", default_max))
    page = items[offset : offset + limit]
    following = offset + limit
    return page, (encode_token(following) if following < len(items) else None)


# --- position tokens (sorted lists) ---------------------------------------------------------------


def _comparable(value: Any) -> Any:
    return value.timestamp() if isinstance(value, datetime) else value


def _encode_position(sort_value: Any, name: str) -> str:
    raw = json.dumps({"after": [_comparable(sort_value), name]})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_position(token: str) -> tuple[Any, str]:
    try:
        value, name = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ValidationException("Invalid pagination token (NextToken).") from exc
    if not isinstance(name, str) or not isinstance(value, str | int | float):
        raise ValidationException("Invalid pagination token (NextToken).")
    return value, name


def _matches(
    summary: dict[str, Any],
    request: dict[str, Any],
    name_key: str,
    defaults: ListDefaults,
) -> bool:
    contains = request.get("NameContains")
    if contains and contains.lower() not in summary[name_key].lower():
        return False
    created = summary["CreationTime"]
    modified = summary.get("LastModifiedTime", created)
    for member, value in (
        ("CreationTimeAfter", created),
        ("CreationTimeBefore", created),
        ("LastModifiedTimeAfter", modified),
        ("LastModifiedTimeBefore", modified),
    ):
        if member not in request:
            continue
        bound = as_datetime(request[member])
        if member.endswith("After"):
            kept = value >= bound if member in defaults.inclusive_after else value > bound
        else:
            kept = value < bound
        if not kept:
            return False
    # No job here keeps a warm pool or runs on a training plan: those filters match nothing.
    if "WarmPoolStatusEquals" in request and (
        summary.get("WarmPoolStatus", {}).get("Status") != request["WarmPoolStatusEquals"]
    ):
        return False
    return "TrainingPlanArnEquals" not in request or (
        summary.get("TrainingPlanArn") == request["TrainingPlanArnEquals"]
    )


def _status_matches(
    summary: dict[str, Any], request: dict[str, Any], status_key: str | None
) -> bool:
    return not (
        status_key is not None
        and "StatusEquals" in request
        and summary[status_key] != request["StatusEquals"]
    )


def list_summaries(
    summaries: list[dict[str, Any]],
    request: dict[str, Any],
    *,
    name_key: str,
    status_key: str | None = None,
    operation: str | None = None,
    extra_sort_keys: Mapping[str, Callable[[dict[str, Any]], Any]] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Filter, sort and page; returns (page, NextToken or None). `extra_sort_keys` adds an
    operation's own SortBy values (FinalObjectiveMetricValue)."""
    operation = operation or LIST_OPERATION_BY_NAME_KEY[name_key]
    defaults = list_defaults(operation)
    status_late = operation in STATUS_AFTER_PAGE
    kept = [
        s
        for s in summaries
        if _matches(s, request, name_key, defaults)
        and (status_late or _status_matches(s, request, status_key))
    ]
    sort_by = request.get("SortBy", defaults.sort_by)
    sort_keys: dict[str, Callable[[dict[str, Any]], Any]] = {
        "Name": lambda s: s[name_key],
        "CreationTime": lambda s: s["CreationTime"],
    }
    if status_key is not None:
        sort_keys["Status"] = lambda s: s[status_key]
    sort_keys.update(extra_sort_keys or {})
    key = sort_keys.get(sort_by, sort_keys["CreationTime"])
    descending = request.get("SortOrder", defaults.sort_order) == "Descending"
    # Ties are ordered by name (always ascending), so a position names one place in the order.
    kept.sort(key=lambda s: s[name_key])
    kept.sort(key=key, reverse=descending)
    start = 0
    if request.get("NextToken"):
        after_value, after_name = _decode_position(request["NextToken"])

        def follows(s: dict[str, Any]) -> bool:
            value = _comparable(key(s))
            if value == after_value:
                return bool(s[name_key] > after_name)
            return bool(value < after_value if descending else value > after_value)

        try:
            start = next(i for i, s in enumerate(kept) if follows(s))
        except StopIteration:
            start = len(kept)
        except TypeError as exc:  # a token made for another SortBy
            raise ValidationException("Invalid pagination token (NextToken).") from exc
    limit = int(request.get("MaxResults", defaults.max_results))
    window = kept[start : start + limit]
    token = None
    if start + limit < len(kept) and window:
        token = _encode_position(key(window[-1]), window[-1][name_key])
    if status_late:
        window = [s for s in window if _status_matches(s, request, status_key)]
    return window, token
