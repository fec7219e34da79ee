"""Create-time check of a request's `Environment` maps against the runtime that will run them.

The process runtime runs algorithms as host subprocesses and refuses variables that steer the
loader or the interpreter (emulator.runtime.host_environment says which and why). Refusing at
Create time turns what would be a failed job later into a ValidationException now, naming the
variable. Under Docker every variable reaches the container, as on AWS.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from emulator.aws.errors import ValidationException
from emulator.runtime.base import ContainerRuntime
from emulator.runtime.host_environment import refused_variables


def check_environment(runtime: ContainerRuntime, request: dict[str, Any]) -> None:
    """Refuse the request when its runtime would refuse one of its Environment variables.

    Reads every place a Create request of a training job, model or transform job carries an
    Environment: the request's own, PrimaryContainer's and each of Containers'."""
    if runtime.name != "process":
        return
    for member, environment in _environments(request):
        for name, reason in refused_variables(environment):
            raise ValidationException(
                f"{member} variable {name} is not supported by the process runtime: {reason}, "
                "and the process runtime runs the algorithm on the host. Use the Docker "
                "runtime (sagemaker-emulator serve --runtime docker), which passes it to the "
                "container."
            )


def _environments(request: dict[str, Any]) -> Iterable[tuple[str, dict[str, str]]]:
    if isinstance(request.get("Environment"), dict):
        yield "Environment", request["Environment"]
    primary = request.get("PrimaryContainer")
    if isinstance(primary, dict) and isinstance(primary.get("Environment"), dict):
        yield "PrimaryContainer.Environment", primary["Environment"]
    for index, container in enumerate(request.get("Containers") or []):
        if isinstance(container, dict) and isinstance(container.get("Environment"), dict):
            yield f"Containers.{index + 1}.Environment", container["Environment"]
