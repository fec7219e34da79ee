"""What one kind of job is: its operations' noun, its statuses and lifecycle, its messages.

A kind is declared once, with `declare`, from the few facts that differ between kinds; the rest
follows from the SageMaker naming every job kind shares (CreateTrainingJob / TrainingJobName /
TrainingJobStatus / TrainingJobArn, ARN resource `training-job`, statuses InProgress, Stopping,
Stopped, Failed, Completed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from emulator.aws.errors import AwsError
from emulator.state.lifecycle import InvalidTransition

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class JobKind(Generic[S]):
    """What one kind of job is: its store name, statuses, lifecycle and messages."""

    resource: str
    """The noun of its operations: `TrainingJob` (CreateTrainingJob, TrainingJobName...)."""
    store_kind: str
    """Records are stored under this kind, the ARN's resource type (`training-job`)."""
    noun: str
    """In messages: "training job"."""
    statuses: type[S]
    transitions: Mapping[S, frozenset[S]]
    in_progress: S
    stopping: S
    stopped: S
    failed: S
    completed: S
    restart_reason: str
    """FailureReason of a job that was running when the emulator stopped (found at start)."""
    shutdown_reason: str
    """FailureReason of a job cut short by the emulator's shutdown."""
    not_found: Callable[[str], AwsError]
    """The error Describe answers for a missing job (the real wording differs per kind)."""
    stop_not_found: Callable[[str], AwsError]
    """The error Stop answers for a missing job."""
    delete_not_found: Callable[[str], AwsError] | None
    """The error Delete answers for a missing job; None where the kind has no Delete operation."""
    stop_while_stopping_is_accepted: bool
    """Stop of a job already Stopping answers success (transform) rather than a
    ValidationException naming the status (training, tuning)."""

    @property
    def terminal(self) -> frozenset[S]:
        return frozenset({self.completed, self.failed, self.stopped})

    @property
    def name_member(self) -> str:
        return f"{self.resource}Name"

    @property
    def status_member(self) -> str:
        return f"{self.resource}Status"

    @property
    def arn_member(self) -> str:
        return f"{self.resource}Arn"

    @property
    def list_operation(self) -> str:
        return f"List{self.resource}s"

    def check(self, current: S, new: S) -> None:
        if current != new and new not in self.transitions[current]:
            raise InvalidTransition(f"{self.noun} cannot go from {current} to {new}")


def declare(
    resource: str,
    noun: str,
    statuses: type[S],
    transitions: Mapping[S, frozenset[S]],
    *,
    not_found: Callable[[str], AwsError],
    stop_not_found: Callable[[str], AwsError],
    delete_not_found: Callable[[str], AwsError] | None = None,
    stop_while_stopping_is_accepted: bool = False,
) -> JobKind[S]:
    """A kind from what differs between kinds; names, statuses and the restart and shutdown
    reasons follow the naming every job kind shares."""
    return JobKind(
        resource=resource,
        store_kind=re.sub(r"(?<!^)(?=[A-Z])", "-", resource).lower(),
        noun=noun,
        statuses=statuses,
        transitions=transitions,
        in_progress=statuses("InProgress"),
        stopping=statuses("Stopping"),
        stopped=statuses("Stopped"),
        failed=statuses("Failed"),
        completed=statuses("Completed"),
        restart_reason=(
            f"InternalServerError: The emulator stopped while this {noun} was running; the job "
            "was marked Failed when the emulator started again."
        ),
        shutdown_reason=(
            f"InternalServerError: The emulator was shut down while this {noun} was running."
        ),
        not_found=not_found,
        stop_not_found=stop_not_found,
        delete_not_found=delete_not_found,
        stop_while_stopping_is_accepted=stop_while_stopping_is_accepted,
    )
