"""Instance type -> container limits (what DockerRuntime applies, capped to the host)."""

from __future__ import annotations

import pytest

from emulator.runtime.instance_types import GIB, container_limits, resources_for


@pytest.mark.parametrize(
    ("instance_type", "cpus", "gib"),
    [
        ("ml.m5.large", 2, 8),
        ("ml.m5.xlarge", 4, 16),
        ("ml.m5.4xlarge", 16, 64),
        ("ml.c5.2xlarge", 8, 16),
        ("ml.r5.large", 2, 16),
        ("ml.c4.xlarge", 4, 7.5),
        ("ml.c4.8xlarge", 36, 60),
        ("ml.t2.medium", 2, 4),
        ("ml.p3.2xlarge", 8, 61),
    ],
)
def test_published_sizes(instance_type: str, cpus: float, gib: float) -> None:
    assert resources_for(instance_type) == (cpus, int(gib * GIB))
    assert container_limits(instance_type) == {"cpus": cpus, "memory_bytes": int(gib * GIB)}


@pytest.mark.parametrize("instance_type", ["local", "local_gpu", "ml.zz9.large", "ml.m5.huge"])
def test_unknown_types_get_no_limits(instance_type: str) -> None:
    assert resources_for(instance_type) is None
    assert container_limits(instance_type) == {}
