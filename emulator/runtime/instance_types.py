"""ml.* instance types -> the vCPUs and memory a container of that type gets.

The real service gives a training or serving container the whole instance. The emulator gives a
container the same limits, capped to what this host has (DockerRuntime applies the cap), so a
notebook asking for ml.c4.8xlarge still runs on a laptop. Figures are the published EC2 sizes.
"""

from __future__ import annotations

from typing import Final, TypedDict

GIB: Final = 1024**3

# family -> (vCPUs, GiB) of its `large` size; each size step doubles both ("xlarge" = 2x large,
# "2xlarge" = 4x large, ...). Where a family's memory per vCPU is not a power-of-two pattern the
# exact sizes are listed in _EXACT below.
_LARGE: Final[dict[str, tuple[int, float]]] = {
    "m4": (2, 8),
    "m5": (2, 8),
    "m5d": (2, 8),
    "m6i": (2, 8),
    "m7i": (2, 8),
    "c5": (2, 4),
    "c5d": (2, 4),
    "c6i": (2, 4),
    "c7i": (2, 4),
    "r5": (2, 16),
    "r5d": (2, 16),
    "r6i": (2, 16),
    "t3": (2, 8),
    "g4dn": (4, 16),
    "g5": (4, 16),
    "p3": (4, 61),
}

_EXACT: Final[dict[str, tuple[int, float]]] = {
    "ml.t2.medium": (2, 4),
    "ml.t2.large": (2, 8),
    "ml.t2.xlarge": (4, 16),
    "ml.t2.2xlarge": (8, 32),
    "ml.t3.medium": (2, 4),
    "ml.m5.large": (2, 8),
    "ml.c4.large": (2, 3.75),
    "ml.c4.xlarge": (4, 7.5),
    "ml.c4.2xlarge": (8, 15),
    "ml.c4.4xlarge": (16, 30),
    "ml.c4.8xlarge": (36, 60),
    "ml.m4.16xlarge": (64, 256),
    "ml.p2.xlarge": (4, 61),
    "ml.p2.8xlarge": (32, 488),
    "ml.p2.16xlarge": (64, 732),
    "ml.p3.2xlarge": (8, 61),
    "ml.p3.8xlarge": (32, 244),
    "ml.p3.16xlarge": (64, 488),
    "ml.g4dn.xlarge": (4, 16),
    "ml.g5.xlarge": (4, 16),
}

_SIZE_FACTORS: Final[dict[str, float]] = {
    "large": 1,
    "xlarge": 2,
    "2xlarge": 4,
    "4xlarge": 8,
    "8xlarge": 16,
    "9xlarge": 18,
    "12xlarge": 24,
    "16xlarge": 32,
    "18xlarge": 36,
    "24xlarge": 48,
}


def resources_for(instance_type: str) -> tuple[float, int] | None:
    """(vCPUs, memory bytes) of an ml.* instance type, or None for a type not in the table
    (local, local_gpu, or one we do not know): the container then runs without limits."""
    exact = _EXACT.get(instance_type)
    if exact is not None:
        return float(exact[0]), int(exact[1] * GIB)
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml":
        return None
    large = _LARGE.get(parts[1])
    factor = _SIZE_FACTORS.get(parts[2])
    if large is None or factor is None:
        return None
    return large[0] * factor, int(large[1] * factor * GIB)


class ContainerLimits(TypedDict, total=False):
    cpus: float
    memory_bytes: int


def container_limits(instance_type: str) -> ContainerLimits:
    """The ContainerSpec keyword arguments for an instance type (none for an unknown one)."""
    resources = resources_for(instance_type)
    if resources is None:
        return {}
    return {"cpus": resources[0], "memory_bytes": resources[1]}
