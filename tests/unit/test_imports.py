"""The architecture's boundaries, enforced by walking every import (top-level and deferred).

api -> services -> state -> storage; services -> runtime.base, aws, and storage only through their
ports; only the runtime/docker_*.py modules import docker; only storage/moto_internals.py,
storage/moto_logs.py and storage/moto_cloudwatch.py import moto; algorithms imports neither emulator nor boto3; sdk never imports
emulator.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("emulator", "algorithms", "sdk")

# Every use of moto goes through one module, tested against the oldest and newest moto allowed.
MOTO_IMPORTERS = {
    "emulator.storage.moto_internals",
    "emulator.storage.moto_key_store",
    "emulator.storage.moto_logs",
    "emulator.storage.moto_cloudwatch",
}
DOCKER_IMPORTERS = {
    "emulator.runtime.docker_runtime",
    "emulator.runtime.docker_engine",
    "emulator.runtime.docker_network",
    "emulator.runtime.docker_archive",
    "emulator.runtime.docker_running",
    "emulator.runtime.docker_mounts",
}
HTTP_FRAMEWORKS = ("fastapi", "starlette", "uvicorn", "flask", "werkzeug")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = (
        module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    )
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def all_modules() -> dict[str, set[str]]:
    modules: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name.endswith("_pb2.py"):
                continue
            modules[module_name(path)] = imports_of(path)
    return modules


MODULES = all_modules()


def uses(imports: set[str], root: str) -> bool:
    return any(name == root or name.startswith(root + ".") for name in imports)


def offenders(
    scope: str, forbidden: str, allowed: frozenset[str] | set[str] = frozenset()
) -> list[str]:
    return sorted(
        name
        for name, imports in MODULES.items()
        if (name == scope or name.startswith(scope + "."))
        and name not in allowed
        and uses(imports, forbidden)
    )


def test_the_walk_sees_the_packages() -> None:
    assert "emulator.app" in MODULES
    assert uses(MODULES["emulator.app"], "emulator.edge")
    # Deferred imports count too (select_runtime imports the Docker runtime inside a function).
    assert uses(MODULES["emulator.runtime.select"], "emulator.runtime.docker_runtime")
    assert uses(MODULES["emulator.storage.moto_internals"], "moto.s3.models")
    # Deferred imports count too (the reset imports moto's admin backend inside a function).
    assert uses(MODULES["emulator.storage.moto_internals"], "moto.moto_api._internal.models")


@pytest.mark.parametrize("forbidden", ["emulator", "boto3", "botocore", "moto", "docker", "sdk"])
def test_algorithms_are_self_contained(forbidden: str) -> None:
    assert offenders("algorithms", forbidden) == []


def test_sdk_never_imports_the_emulator() -> None:
    assert offenders("sdk", "emulator") == []


def test_only_moto_internals_imports_moto() -> None:
    assert offenders("emulator", "moto", MOTO_IMPORTERS) == []


def test_only_the_docker_runtime_imports_docker() -> None:
    assert offenders("emulator", "docker", DOCKER_IMPORTERS) == []


@pytest.mark.parametrize(
    "layer",
    ["emulator.services", "emulator.state", "emulator.storage", "emulator.runtime", "emulator.aws"],
)
def test_lower_layers_do_not_reach_up(layer: str) -> None:
    for upper in (
        "emulator.api",
        "emulator.app",
        "emulator.edge",
        "emulator.edge_messages",
        "emulator.routing",
        "emulator.cli",
        "emulator.moto_bridge",
    ):
        assert offenders(layer, upper) == [], f"{layer} imports {upper}"


@pytest.mark.parametrize(
    "layer", ["emulator.services", "emulator.state", "emulator.storage", "emulator.runtime"]
)
def test_business_logic_knows_no_http_framework(layer: str) -> None:
    for framework in HTTP_FRAMEWORKS:
        assert offenders(layer, framework) == [], f"{layer} imports {framework}"


def test_state_does_not_use_services() -> None:
    assert offenders("emulator.state", "emulator.services") == []


def test_storage_uses_neither_services_nor_state() -> None:
    assert offenders("emulator.storage", "emulator.services") == []
    assert offenders("emulator.storage", "emulator.state") == []


def test_services_use_storage_only_through_their_ports() -> None:
    # emulator.app hands the stores in; the services see the Protocols of services/ports.py.
    assert offenders("emulator.services", "emulator.storage") == []
    assert offenders("emulator.api", "emulator.storage") == []


def test_runtime_does_not_use_services_or_state() -> None:
    assert offenders("emulator.runtime", "emulator.services") == []
    assert offenders("emulator.runtime", "emulator.state") == []


def test_services_use_runtime_only_through_its_protocol() -> None:
    # The composition root picks the implementation; the services see ContainerRuntime.
    for implementation in ("emulator.runtime.docker_runtime", "emulator.runtime.process_runtime"):
        assert offenders("emulator.services", implementation) == []
