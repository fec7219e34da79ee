"""The List* operations' common part: filters, sort and NextToken pagination over summaries.

Summaries are the wire dicts of the List responses (PascalCase keys), so the filters read the same
fields the client sees. Defaults copy the real service: sort by CreationTime, Descending; 10 items
a page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from emulator.aws.errors import ValidationException
from emulator.aws.wire import from_wire_timestamp

DEFAULT_MAX_RESULTS = 10


def as_datetime(value: datetime | float | int | str) -> datetime:
    """A request timestamp as an aware UTC datetime. The control API hands the services parsed
    datetimes; a direct caller may still pass the wire form."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return from_wire_timestamp(value)


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


def _matches(
    summary: dict[str, Any], request: dict[str, Any], name_key: str, status_key: str | None
) -> bool:
    contains = request.get("NameContains")
    if contains and contains.lower() not in summary[name_key].lower():
        return False
    created = summary["CreationTime"]
    if "CreationTimeAfter" in request and not created > as_datetime(request["CreationTimeAfter"]):
        return False
    if "CreationTimeBefore" in request and not created < as_datetime(request["CreationTimeBefore"]):
        return False
    modified = summary.get("LastModifiedTime", created)
    if "LastModifiedTimeAfter" in request and not modified > as_datetime(
        request["LastModifiedTimeAfter"]
    ):
        return False
    if "LastModifiedTimeBefore" in request and not modified < as_datetime(
        request["LastModifiedTimeBefore"]
    ):
        return False
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
) -> tuple[list[dict[str, Any]], str | None]:
    """Filter, sort and page; returns (page, NextToken or None)."""
    kept = [s for s in summaries if _matches(s, request, name_key, status_key)]
    sort_by = request.get("SortBy", "CreationTime")
    sort_keys: dict[str, Callable[[dict[str, Any]], Any]] = {
        "Name": lambda s: s[name_key],
        "CreationTime": lambda s: s["CreationTime"],
    }
    if status_key is not None:
        sort_keys["Status"] = lambda s: s[status_key]
    key = sort_keys.get(sort_by, sort_keys["CreationTime"])
    # Ties keep a stable order by name, so pages never repeat or skip an item.
    kept.sort(key=lambda s: s[name_key])
    kept.sort(key=key, reverse=request.get("SortOrder", "Descending") == "Descending")
    return paginate(kept, request)
