"""S3's CORS, per bucket, from the bucket's CORS configuration (PutBucketCors), as real S3 does.

moto's server answers every preflight and adds `Access-Control-Allow-Origin: *` everywhere; the
edge strips that and asks this module instead. A bucket without a configuration gets no CORS
headers and its preflights fail.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Headers = list[tuple[bytes, bytes]]

NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec."
)


@dataclass(frozen=True)
class Rule:
    methods: tuple[str, ...]
    origins: tuple[str, ...]
    headers: tuple[str, ...]
    expose: tuple[str, ...]
    max_age: str | None

    def allows(self, origin: str, method: str, request_headers: list[str]) -> bool:
        return (
            method.upper() in self.methods
            and any(_match(pattern, origin) for pattern in self.origins)
            and all(any(_match(p, h) for p in self.headers) for h in request_headers)
        )


def _match(pattern: str, value: str) -> bool:
    # S3 allows one `*` wildcard in AllowedOrigin / AllowedHeader; case-insensitive.
    return fnmatch.fnmatchcase(value.lower(), pattern.lower().replace("[", "[[]"))


def _strings(values: Any) -> tuple[str, ...]:
    if not values:
        return ()
    return tuple(str(v) for v in ([values] if isinstance(values, str) else values))


class BucketCors:
    def __init__(self, configured: Callable[[str], Sequence[Any]]) -> None:
        """`configured`: the rules of a bucket's configuration, as the S3 store reads them."""
        self._configured = configured

    def rules(self, bucket: str) -> list[Rule] | None:
        """The bucket's rules, or None when it has no CORS configuration (or does not exist)."""
        if not bucket:
            return None
        configured = list(self._configured(bucket))
        if not configured:
            return None
        return [
            Rule(
                methods=tuple(m.upper() for m in _strings(rule.allowed_methods)),
                origins=_strings(rule.allowed_origins),
                headers=_strings(rule.allowed_headers),
                expose=_strings(rule.exposed_headers),
                max_age=str(rule.max_age_seconds) if rule.max_age_seconds else None,
            )
            for rule in configured
        ]

    def match(
        self,
        bucket: str,
        origin: str,
        method: str,
        request_headers: Sequence[str] = (),
    ) -> Rule | None:
        for rule in self.rules(bucket) or []:
            if rule.allows(origin, method, list(request_headers)):
                return rule
        return None


def response_headers(
    rule: Rule, origin: str, method: str, request_headers: list[str] | None = None
) -> Headers:
    """The CORS headers real S3 adds when `rule` matched (preflight when request_headers given)."""
    allow_origin = "*" if "*" in rule.origins else origin
    headers: Headers = [
        (b"access-control-allow-origin", allow_origin.encode("latin-1")),
        (b"access-control-allow-methods", ", ".join(rule.methods).encode()),
        (b"vary", b"Origin, Access-Control-Request-Headers, Access-Control-Request-Method"),
    ]
    if allow_origin != "*":
        headers.append((b"access-control-allow-credentials", b"true"))
    if request_headers:
        headers.append((b"access-control-allow-headers", ", ".join(request_headers).encode()))
    if rule.expose:
        headers.append((b"access-control-expose-headers", ", ".join(rule.expose).encode()))
    if rule.max_age and request_headers is not None:
        headers.append((b"access-control-max-age", rule.max_age.encode()))
    return headers
