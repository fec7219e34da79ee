"""Which hosts train together, which one this is, and where the others are.

SageMaker tells every host of a training job about the cluster in
``/opt/ml/input/config/resourceconfig.json``: ``current_host`` (``algo-2``) and ``hosts``
(``["algo-1", "algo-2"]``). In Docker each host name resolves to its container on the job's
network. Outside a container (the emulator's process runtime) every host is a process on this
machine with its own loopback address, given by ``SAGEMAKER_EMULATOR_HOSTS``
(``algo-1=127.0.0.2,algo-2=127.0.0.3``); see docs/several-instances.md.

Ranks follow the host number, so ``algo-1`` is rank 0: the rendezvous point and the host that
writes the model.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from algorithms.common.failures import AlgorithmError

HOSTS_ENV = "SAGEMAKER_EMULATOR_HOSTS"
"""``name=address`` pairs separated by commas: where each host listens, when names don't resolve."""

DEFAULT_HOST = "algo-1"

_HOST_NUMBER = re.compile(r"(\d+)$")


def _host_order(name: str) -> tuple[int, str]:
    """``algo-2`` before ``algo-10``: by the trailing number, then by name."""
    match = _HOST_NUMBER.search(name)
    return (int(match.group(1)) if match else -1, name)


def parse_host_addresses(value: str) -> dict[str, str]:
    """``algo-1=127.0.0.2,algo-2=127.0.0.3`` -> ``{"algo-1": "127.0.0.2", ...}``."""
    addresses: dict[str, str] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, address = item.partition("=")
        if not sep or not name.strip() or not address.strip():
            raise AlgorithmError(f"{HOSTS_ENV} has a malformed entry {item!r} (want name=address)")
        addresses[name.strip()] = address.strip()
    return addresses


@dataclass(frozen=True)
class Cluster:
    """The hosts of one training job, in rank order, and this host's place among them."""

    current_host: str
    hosts: tuple[str, ...]
    addresses: Mapping[str, str]
    """Address to reach each host at: from ``SAGEMAKER_EMULATOR_HOSTS``, else its name."""
    addresses_given: bool
    """True when the addresses came from ``SAGEMAKER_EMULATOR_HOSTS`` (several hosts share
    this machine, so each listens on its own address only)."""
    network_interface: str = ""
    """``network_interface_name`` of resourceconfig.json (``eth0``): the job network's."""

    @classmethod
    def from_config(
        cls, resourceconfig: Mapping[str, object], environ: Mapping[str, str] | None = None
    ) -> Cluster:
        env = os.environ if environ is None else environ
        current = resourceconfig.get("current_host", DEFAULT_HOST)
        if not isinstance(current, str) or not current:
            raise AlgorithmError("resourceconfig.json: current_host must be a host name")
        listed = resourceconfig.get("hosts", [current])
        if not isinstance(listed, list) or not all(isinstance(h, str) and h for h in listed):
            raise AlgorithmError("resourceconfig.json: hosts must be a list of host names")
        hosts = tuple(sorted(set(listed), key=_host_order))
        if current not in hosts:
            raise AlgorithmError(
                f"resourceconfig.json: current_host {current!r} is not one of hosts {list(hosts)}"
            )
        raw = env.get(HOSTS_ENV, "")
        given = parse_host_addresses(raw) if raw.strip() else {}
        if given:
            missing = [h for h in hosts if h not in given]
            if missing:
                raise AlgorithmError(f"{HOSTS_ENV} gives no address for {', '.join(missing)}")
        addresses = {h: given.get(h, h) for h in hosts}
        interface = resourceconfig.get("network_interface_name", "")
        return cls(
            current,
            hosts,
            addresses,
            bool(given),
            interface if isinstance(interface, str) else "",
        )

    @property
    def size(self) -> int:
        return len(self.hosts)

    @property
    def rank(self) -> int:
        return self.hosts.index(self.current_host)

    @property
    def leader(self) -> str:
        return self.hosts[0]

    @property
    def is_leader(self) -> bool:
        return self.rank == 0

    def address(self, host: str) -> str:
        return self.addresses[host]
