"""The operations every job kind shares, written once: Describe, List, Stop, Delete, and the
common part of Create (the ARN, the tags, the answer).

A kind's service subclasses `JobService`, declares its `kind` and writes only `create` (and any
operation of its own); `operations()` names the handlers after the kind's resource noun, so the
operation registry needs no line per kind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from emulator.aws import arns
from emulator.aws.errors import ValidationException
from emulator.services.jobs.engine import Job, JobEngine, JobRecord, Outcome
from emulator.services.jobs.kind import JobKind
from emulator.services.listing import list_response
from emulator.state.hosting_records import ModelRecord

if TYPE_CHECKING:  # the context names the jobs package's events: a runtime import would loop
    from emulator.services.context import ServiceContext


class DescribedRecord(JobRecord[Any], Protocol):
    def describe(self) -> dict[str, Any]: ...

    def summary(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=DescribedRecord)
S = TypeVar("S")

OperationHandler = Callable[[Any, dict[str, Any]], dict[str, Any]]
"""A job service's method taking the validated request, unbound (the registry binds it to the
region's instance)."""


class Peers(Protocol):
    """What a job kind may need from the rest of its region's control plane, late-bound (the
    region's SageMakerService)."""

    def model(self, name: str) -> ModelRecord:
        """The model of that name; ValidationException when there is none."""
        ...

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """An operation called as a client would (wire-form parameters and answer)."""
        ...

    def job_service(self, store_kind: str) -> JobService[Any, Any]: ...


class JobService(Generic[R, S]):
    """One region's service of one job kind; built as `Kind(context, peers)`."""

    kind: ClassVar[JobKind[Any]]
    """Set by each kind's service, as is `record_type`."""
    record_type: type[R]

    def __init__(self, context: ServiceContext, peers: Peers | None = None) -> None:
        self._context = context
        self.engine: JobEngine[R, Any] = JobEngine(
            self.kind, context.store, self.record_type, context.events, self.end
        )

    def end(self, record: R, outcome: Outcome[Any], at: datetime) -> None:
        """The kind's own fields of a job that ends (end times...), set in the same stored step."""

    def interrupted(self, record: R, outcome: Outcome[Any], at: datetime) -> None:
        """The kind's own fields of a job found cut short when the emulator starts again."""

    @classmethod
    def operations(cls) -> dict[str, OperationHandler]:
        """The operations this kind answers, by model name."""
        noun = cls.kind.resource
        found: dict[str, OperationHandler] = {
            f"Create{noun}": cls.create,
            f"Describe{noun}": cls.describe,
            f"List{noun}s": cls.list,
            f"Stop{noun}": cls.stop,
        }
        if cls.kind.delete_not_found is not None:
            found[f"Delete{noun}"] = cls.delete
        return found

    # --- lifecycle of the service ---------------------------------------------------------------

    def start(self) -> None:
        """Load the stored jobs; a job that was running when the emulator died is now Failed (or
        Stopped, if its Stop had been accepted)."""
        self.engine.recover(self.interrupted)

    def close(self) -> None:
        self.engine.close()

    def exists(self, arn: str) -> bool:
        return self.engine.exists(arn)

    # --- operations -----------------------------------------------------------------------------

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def arn(self, name: str) -> str:
        return arns.arn(self._context.region, self.kind.store_kind, name)

    def submit(
        self, record: R, work: Callable[[Job[R]], Outcome[Any]], request: dict[str, Any]
    ) -> dict[str, Any]:
        """Store a new job with the Create request's tags, start its run; Create's answer."""
        self.engine.submit(
            record,
            work,
            before_store=lambda: self._context.tags.set_initial(
                record.arn, request.get("Tags", [])
            ),
        )
        return {self.kind.arn_member: record.arn}

    def describe(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.engine.view(request[self.kind.name_member], self.record_type.describe)

    def list(self, request: dict[str, Any]) -> dict[str, Any]:
        return list_response(
            self.engine.views(self.record_type.summary),
            request,
            name_key=self.kind.name_member,
            status_key=self.kind.status_member,
            operation=self.kind.list_operation,
        )

    def stop(self, request: dict[str, Any]) -> dict[str, Any]:
        """Stopping now, and the run is told; only a job InProgress can be stopped."""
        name = request[self.kind.name_member]
        with self.engine.lock:
            record = self.engine.find(name)
            if record is None:
                raise self.kind.stop_not_found(name)
            if record.status == self.kind.stopping and self.kind.stop_while_stopping_is_accepted:
                return {}
            if record.status != self.kind.in_progress:
                raise ValidationException(
                    f"The request was rejected because the {self.kind.noun} is in status "
                    f"{record.status}."
                )
            self.engine.request_stop(name, self.showing_stopping)
        return {}

    def showing_stopping(self, record: R) -> None:
        """The kind's own fields of a job that is now Stopping (in the same stored step)."""

    def delete(self, request: dict[str, Any]) -> dict[str, Any]:
        """Forget a terminal job's record (what it wrote to S3 and the logs stays), as AWS
        documents: only Completed, Failed or Stopped jobs may be deleted, and the name is free
        again."""
        name = request[self.kind.name_member]
        if self.engine.find(name) is None:
            assert self.kind.delete_not_found is not None
            raise self.kind.delete_not_found(name)
        record = self.engine.delete(name)
        self._context.tags.forget(record.arn)
        self.deleted(record)
        return {}

    def deleted(self, record: R) -> None:
        """The kind's own clean-up of a deleted job (its files)."""
