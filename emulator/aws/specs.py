"""The botocore service models: the single source of names, shapes and enums.

Loading a model costs a few hundred milliseconds, so each is loaded once per process.
"""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore.model import OperationModel, ServiceModel

SAGEMAKER = "sagemaker"
SAGEMAKER_RUNTIME = "sagemaker-runtime"


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def service_model(service_name: str) -> ServiceModel:
    model: ServiceModel = _session().get_service_model(service_name)
    return model


def sagemaker_model() -> ServiceModel:
    return service_model(SAGEMAKER)


def runtime_model() -> ServiceModel:
    return service_model(SAGEMAKER_RUNTIME)


@cache
def operation_names(service_name: str = SAGEMAKER) -> frozenset[str]:
    return frozenset(service_model(service_name).operation_names)


def operation_model(operation_name: str, service_name: str = SAGEMAKER) -> OperationModel:
    """The operation's model; KeyError-free callers check `operation_names` first."""
    model: OperationModel = service_model(service_name).operation_model(operation_name)
    return model


@cache
def target_prefix() -> str:
    """`SageMaker`: the X-Amz-Target prefix of the JSON 1.1 protocol."""
    prefix: str = sagemaker_model().metadata["targetPrefix"]
    return prefix


@cache
def error_codes(service_name: str = SAGEMAKER) -> frozenset[str]:
    """Error codes the model declares (shape names, or their `error.code` override)."""
    model = service_model(service_name)
    codes: set[str] = set()
    for shape_name in model.shape_names:
        shape = model.shape_for(shape_name)
        if shape.metadata.get("exception"):
            codes.add(shape.metadata.get("error", {}).get("code", shape_name))
    return frozenset(codes)


@cache
def enum_values(shape_name: str, service_name: str = SAGEMAKER) -> frozenset[str]:
    """The allowed values of a string enum shape (e.g. `TrainingJobStatus`)."""
    shape = service_model(service_name).shape_for(shape_name)
    return frozenset(shape.enum)
