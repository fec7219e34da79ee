"""Is a request a browser's cross-origin request, and is its origin one the user trusts?

Browsers send some cross-origin requests without a preflight (a form POST, a `text/plain` fetch),
so leaving CORS headers out is not enough: the server must refuse to act on them. `Origin` names
the page's origin on every cross-origin request except no-cors GET/HEAD (images, links); for
those `Sec-Fetch-Site` says cross-site (every current browser sends it).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(StrEnum):
    SAME = "same"
    """Not a cross-origin browser request: same origin, a navigation, or no browser at all."""
    TRUSTED = "trusted"
    """Cross-origin, from an origin the user configured."""
    FOREIGN = "foreign"


def normalize(origin: str) -> str:
    """`scheme://host:port`, lower-case, with the scheme's default port made explicit."""
    parts = urlsplit(origin.strip().lower())
    if not parts.scheme or not parts.hostname:
        return origin.strip().lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        return origin.strip().lower()
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


class OriginPolicy:
    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self._allowed = {normalize(o) for o in allowed if o.strip()}

    def classify(self, headers: dict[str, str], scheme: str = "http") -> Origin:
        """`headers` has lower-case names."""
        origin = headers.get("origin")
        if origin is not None:
            if normalize(origin) in self._allowed:
                return Origin.TRUSTED
            host = headers.get("host")
            if host and normalize(origin) == normalize(f"{scheme}://{host}"):
                return Origin.SAME
            return Origin.FOREIGN  # includes "null": sandboxed frames, file:// pages
        if headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
            return Origin.FOREIGN
        return Origin.SAME

    def is_allowed(self, origin: str) -> bool:
        return normalize(origin) in self._allowed
