"""The job kinds this emulator runs: one line each.

A kind is a package with a spec module (the request, parsed once), a run module (its `KIND`
declaration and what a run does) and a service module (its Create, and any operation of its own);
its line here is all the rest of the control plane needs: each region builds one service per
kind, starts, closes and searches them, and the operation registry answers the kind's operations
(`JobService.operations`). Kinds built on others come after them (a tuning job's children are
training jobs): they are closed first.
"""

from __future__ import annotations

from typing import Any

from emulator.services.jobs import JobService
from emulator.services.training import TrainingService
from emulator.services.transform import TransformService
from emulator.services.tuning import TuningService

JOB_KINDS: tuple[type[JobService[Any, Any]], ...] = (
    TrainingService,
    TransformService,
    TuningService,
)
