"""AddTags, ListTags, DeleteTags: tags kept per resource ARN in the record store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from emulator.aws.errors import ValidationException
from emulator.services.listing import paginate
from emulator.state.store import RecordStore

_KIND = "tags"
MAX_TAGS = 50
"""The real service's limit of tags per resource."""


class TagService:
    def __init__(self, store: RecordStore, exists: Callable[[str], bool]) -> None:
        self._store = store
        self._exists = exists
        self._lock = threading.Lock()

    def _get(self, arn: str) -> dict[str, str]:
        stored = self._store.get_raw(_KIND, arn)
        return dict(stored) if isinstance(stored, dict) else {}

    def _check(self, arn: str) -> None:
        if not self._exists(arn):
            raise ValidationException(f'Resource "{arn}" does not exist.')

    def set_initial(self, arn: str, tags: list[dict[str, str]]) -> None:
        """Tags given in a Create* request."""
        self._validate(tags, {})
        if tags:
            self._store.put_raw(_KIND, arn, {t["Key"]: t.get("Value", "") for t in tags})

    def _validate(self, tags: list[dict[str, str]], current: dict[str, str]) -> None:
        keys = {t["Key"] for t in tags}
        if len(keys | set(current)) > MAX_TAGS:
            raise ValidationException(
                f"A resource can have at most {MAX_TAGS} tags; this request would make "
                f"{len(keys | set(current))}."
            )
        if any(k.lower().startswith("aws:") for k in keys):
            raise ValidationException('Tag keys starting with "aws:" are reserved for AWS.')

    def forget(self, arn: str) -> None:
        self._store.delete(_KIND, arn)

    def add_tags(self, request: dict[str, Any]) -> dict[str, Any]:
        arn = request["ResourceArn"]
        with self._lock:
            self._check(arn)
            current = self._get(arn)
            self._validate(request["Tags"], current)
            for tag in request["Tags"]:
                current[tag["Key"]] = tag.get("Value", "")
            self._store.put_raw(_KIND, arn, current)
        return {"Tags": [{"Key": k, "Value": v} for k, v in current.items()]}

    def list_tags(self, request: dict[str, Any]) -> dict[str, Any]:
        arn = request["ResourceArn"]
        self._check(arn)
        tags = [{"Key": k, "Value": v} for k, v in self._get(arn).items()]
        page, token = paginate(tags, request, default_max=50)
        response: dict[str, Any] = {"Tags": page}
        if token is not None:
            response["NextToken"] = token
        return response

    def delete_tags(self, request: dict[str, Any]) -> dict[str, Any]:
        arn = request["ResourceArn"]
        with self._lock:
            self._check(arn)
            current = self._get(arn)
            for key in request["TagKeys"]:
                current.pop(key, None)
            self._store.put_raw(_KIND, arn, current)
        return {}
