"""Every AWS call a boto3 session's clients make, with its answer (a botocore event hook).

Register on a session before it creates clients (clients copy the session's event handlers).
`unimplemented()` lists the calls the emulator answered NotImplemented or with a 5xx: an SDK path
that reaches an operation nobody implemented fails the test that ran it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    status: int
    error_code: str | None


@dataclass
class CallRecorder:
    calls: list[Call] = field(default_factory=list)

    def attach(self, boto_session: Any) -> None:
        boto_session.events.register("after-call", self._after_call)

    def _after_call(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        error = parsed.get("Error", {}) if isinstance(parsed, dict) else {}
        self.calls.append(
            Call(
                service=model.service_model.service_name,
                operation=model.name,
                status=int(http_response.status_code),
                error_code=error.get("Code"),
            )
        )

    def operations(self, service: str) -> set[str]:
        return {c.operation for c in self.calls if c.service == service}

    def unimplemented(self) -> list[Call]:
        return [c for c in self.calls if c.status >= 500 or c.error_code == "NotImplemented"]
