"""Model Monitor operations, answered truthfully: this emulator runs no monitoring schedules.

The SDK reaches these on ordinary paths (`predictor.list_monitors()`, the endpoint clean-up that
lists an endpoint's schedules before deleting it), so they must answer as the real service does
for an account without schedules: an empty list, and ResourceNotFound (the error the service
model declares for these operations) for a schedule named directly. CreateMonitoringSchedule
stays unimplemented, so no schedule can ever exist here.
"""

from __future__ import annotations

from typing import Any

from emulator.aws import arns
from emulator.aws.errors import ResourceNotFound
from emulator.services.context import ServiceContext
from emulator.services.listing import list_response


class MonitoringService:
    def __init__(self, context: ServiceContext) -> None:
        self._region = context.region

    def _missing(self, name: str) -> ResourceNotFound:
        arn = arns.arn(self._region, "monitoring-schedule", name)
        return ResourceNotFound(f"Monitoring schedule {arn} does not exist.")

    def list_monitoring_schedules(self, request: dict[str, Any]) -> dict[str, Any]:
        # Through the common lister, so a forged NextToken is refused as on any other list.
        return list_response([], request, name_key="MonitoringScheduleName")

    def list_monitoring_executions(self, request: dict[str, Any]) -> dict[str, Any]:
        return list_response(
            [], request, name_key="MonitoringScheduleName", operation="ListMonitoringExecutions"
        )

    def describe_monitoring_schedule(self, request: dict[str, Any]) -> dict[str, Any]:
        raise self._missing(request["MonitoringScheduleName"])

    def delete_monitoring_schedule(self, request: dict[str, Any]) -> dict[str, Any]:
        raise self._missing(request["MonitoringScheduleName"])

    def stop_monitoring_schedule(self, request: dict[str, Any]) -> dict[str, Any]:
        raise self._missing(request["MonitoringScheduleName"])

    def start_monitoring_schedule(self, request: dict[str, Any]) -> dict[str, Any]:
        raise self._missing(request["MonitoringScheduleName"])
