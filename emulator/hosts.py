"""Which Host headers the server answers to: the defence against DNS rebinding.

A page on `evil.example` whose name is rebound to 127.0.0.1 reaches the emulator with
`Host: evil.example`. Browsers always send the name they resolved, so refusing names the server
does not know stops that, whatever the port. IP literals cannot be rebound, so the bound address,
the loopback addresses and, when bound to every interface, any address literal are fine.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARD = frozenset({"0.0.0.0", "::", ""})


def host_name(header: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower-cased."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostPolicy:
    def __init__(self, bound_host: str, extra_names: Iterable[str] = ()) -> None:
        bound = host_name(bound_host)
        self._any_address = bound in _WILDCARD
        self._names = set(LOOPBACK_NAMES) | {host_name(n) for n in extra_names if n.strip()}
        if not self._any_address:
            self._names.add(bound)

    def allows(self, header: str | None) -> bool:
        if header is None:
            return True  # HTTP/1.0 clients; no browser sends a request without Host
        name = host_name(header)
        if name in self._names:
            return True
        if _is_ip(name):
            return self._any_address or ipaddress.ip_address(name).is_loopback
        return bool(self.bucket_of(header))

    def bucket_of(self, header: str) -> str:
        """The bucket of a virtual-hosted S3 name (`<bucket>.localhost`, `<bucket>.<added
        name>`), or "" for any other name."""
        name = host_name(header)
        for known in self._names:
            if not _is_ip(known) and name.endswith("." + known):
                return name[: -len(known) - 1]
        return ""
