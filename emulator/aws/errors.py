"""AWS-shaped errors.

Every error a client can see is one of these. The class name is the AWS error code (the
``__type`` of a JSON 1.1 error and the ``X-Amzn-ErrorType`` header); ``status`` is the HTTP status
the real service answers with.
"""

from __future__ import annotations


class AwsError(Exception):
    """Base class: an error the real service would return, with its code and HTTP status."""

    status: int = 400
    code: str = "InternalFailure"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # The AWS code is the class name unless a subclass says otherwise.
        if "code" not in cls.__dict__:
            cls.code = cls.__name__

    def to_wire(self) -> dict[str, str]:
        return {"__type": self.code, "message": self.message}


class ValidationException(AwsError):
    """Bad input, and (as the real service does) a Describe of a resource that does not exist."""


class SerializationException(AwsError):
    """A body that is not JSON, or a member of the wrong JSON type (the real service's code)."""


class RequestEntityTooLarge(SerializationException):
    """A control-plane body over the emulator's size limit, refused before it is read whole.

    HTTP 413 as AWS front ends answer; the code stays the protocol's SerializationException,
    since the SageMaker model declares no code for an oversized request.
    """

    status = 413
    code = "SerializationException"


class ResourceNotFound(AwsError):
    """SageMaker's code for some missing resources (e.g. StopTrainingJob on an unknown job)."""


class ResourceInUse(AwsError):
    """A name that is already taken (CreateTrainingJob with an existing name)."""


class ResourceLimitExceeded(AwsError):
    """An account quota reached (e.g. more parallel training jobs per tuning job than allowed)."""


class UnknownOperationException(AwsError):
    """An X-Amz-Target the SageMaker model does not define."""


class NotImplementedOperation(AwsError):
    """An operation the SageMaker model defines but this emulator does not implement."""

    status = 501
    code = "NotImplemented"


class InternalFailure(AwsError):
    status = 500


class ServiceUnavailable(AwsError):
    status = 503


# --- sagemaker-runtime (rest-json) errors -------------------------------------------------------


class ModelError(AwsError):
    """The container answered InvokeEndpoint with a 4xx/5xx: 424 with its status and message."""

    status = 424

    def __init__(
        self, message: str, original_status_code: int, original_message: str, log_stream_arn: str
    ) -> None:
        super().__init__(message)
        self.original_status_code = original_status_code
        self.original_message = original_message
        self.log_stream_arn = log_stream_arn

    def to_wire(self) -> dict[str, str]:
        wire = super().to_wire()
        wire.update(
            {
                "OriginalStatusCode": str(self.original_status_code),
                "OriginalMessage": self.original_message,
                "LogStreamArn": self.log_stream_arn,
            }
        )
        return wire


class ValidationError(AwsError):
    """sagemaker-runtime's code for bad input, including an unknown or not-InService endpoint."""


class ServiceUnavailableRuntime(AwsError):
    status = 503
    code = "ServiceUnavailable"
