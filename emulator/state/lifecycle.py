"""Lifecycle tables: which status may follow which, for training, transform and tuning jobs and
endpoints.

The services move records only through `check_*` so an impossible move (a Completed job going back
to InProgress, a late worker overwriting a Stopped job) is caught where it happens.
"""

from __future__ import annotations

from emulator.state.records import (
    EndpointStatus,
    HyperParameterTuningJobStatus,
    TrainingJobStatus,
    TransformJobStatus,
)

_TJ = TrainingJobStatus
TRAINING_TRANSITIONS: dict[TrainingJobStatus, frozenset[TrainingJobStatus]] = {
    _TJ.IN_PROGRESS: frozenset({_TJ.COMPLETED, _TJ.FAILED, _TJ.STOPPING, _TJ.STOPPED}),
    _TJ.STOPPING: frozenset({_TJ.STOPPED, _TJ.FAILED}),
    _TJ.COMPLETED: frozenset(),
    _TJ.FAILED: frozenset(),
    _TJ.STOPPED: frozenset(),
}

_TF = TransformJobStatus
TRANSFORM_TRANSITIONS: dict[TransformJobStatus, frozenset[TransformJobStatus]] = {
    _TF.IN_PROGRESS: frozenset({_TF.COMPLETED, _TF.FAILED, _TF.STOPPING, _TF.STOPPED}),
    _TF.STOPPING: frozenset({_TF.STOPPED, _TF.FAILED}),
    _TF.COMPLETED: frozenset(),
    _TF.FAILED: frozenset(),
    _TF.STOPPED: frozenset(),
}

_HP = HyperParameterTuningJobStatus
TUNING_TRANSITIONS: dict[
    HyperParameterTuningJobStatus, frozenset[HyperParameterTuningJobStatus]
] = {
    _HP.IN_PROGRESS: frozenset({_HP.COMPLETED, _HP.FAILED, _HP.STOPPING, _HP.STOPPED}),
    _HP.STOPPING: frozenset({_HP.STOPPED, _HP.FAILED}),
    _HP.COMPLETED: frozenset(),
    _HP.FAILED: frozenset(),
    _HP.STOPPED: frozenset(),
}

_EP = EndpointStatus
ENDPOINT_TRANSITIONS: dict[EndpointStatus, frozenset[EndpointStatus]] = {
    _EP.CREATING: frozenset({_EP.IN_SERVICE, _EP.FAILED, _EP.DELETING}),
    # A failed update rolls back to the old config: the endpoint goes back to InService.
    _EP.UPDATING: frozenset({_EP.IN_SERVICE, _EP.FAILED, _EP.DELETING}),
    # Failed from InService: an endpoint brought back after a restart whose containers no
    # longer start.
    _EP.IN_SERVICE: frozenset({_EP.UPDATING, _EP.DELETING, _EP.CREATING, _EP.FAILED}),
    _EP.FAILED: frozenset({_EP.DELETING}),
    _EP.DELETING: frozenset(),
}


class InvalidTransition(Exception):
    """A status change the lifecycle does not allow (a bug, or a race the caller must handle)."""


def can_move_training(current: TrainingJobStatus, new: TrainingJobStatus) -> bool:
    return current == new or new in TRAINING_TRANSITIONS[current]


def check_training(current: TrainingJobStatus, new: TrainingJobStatus) -> None:
    if not can_move_training(current, new):
        raise InvalidTransition(f"training job cannot go from {current} to {new}")


def check_transform(current: TransformJobStatus, new: TransformJobStatus) -> None:
    if current != new and new not in TRANSFORM_TRANSITIONS[current]:
        raise InvalidTransition(f"transform job cannot go from {current} to {new}")


def check_endpoint(current: EndpointStatus, new: EndpointStatus) -> None:
    if current != new and new not in ENDPOINT_TRANSITIONS[current]:
        raise InvalidTransition(f"endpoint cannot go from {current} to {new}")
