"""Models and endpoint configs: Create/Describe/List/Delete, and the snapshot of what a config
deploys (each variant with its model's container as it is now)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from emulator.aws import arns
from emulator.aws.errors import ValidationException
from emulator.runtime.base import ContainerRuntime
from emulator.services import model_data
from emulator.services.environment_policy import check_environment
from emulator.services.listing import list_response
from emulator.services.live import LEAST_OUTSTANDING_REQUESTS, RANDOM
from emulator.services.ports import ObjectStore
from emulator.services.staging import StagingError, parse_s3_uri
from emulator.services.tags import TagService
from emulator.state.hosting_records import EndpointConfigRecord, ModelRecord, VariantState
from emulator.state.records import now
from emulator.state.store import RecordStore

MODEL_KIND = "model"
CONFIG_KIND = "endpoint-config"

ROUTING_STRATEGIES = (LEAST_OUTSTANDING_REQUESTS, RANDOM)
"""The RoutingConfig strategies this emulator routes by (the model's enum names more)."""


@dataclass(frozen=True)
class Deployment:
    """What an endpoint config deploys: its variants and its AsyncInferenceConfig."""

    config_name: str
    variants: list[VariantState]
    async_config: dict[str, Any] | None


class HostingResources:
    def __init__(
        self,
        region: str,
        runtime: ContainerRuntime,
        s3: ObjectStore,
        store: RecordStore,
        tags: TagService,
    ) -> None:
        self._region = region
        self._runtime = runtime
        self._s3 = s3
        self._store = store
        self._tags = tags
        self._lock = threading.RLock()
        self._models: dict[str, ModelRecord] = {}
        self._configs: dict[str, EndpointConfigRecord] = {}

    def start(self) -> None:
        self._models = {m.name: m for m in self._store.load_all(MODEL_KIND, ModelRecord)}
        self._configs = {c.name: c for c in self._store.load_all(CONFIG_KIND, EndpointConfigRecord)}

    def exists(self, arn: str) -> bool:
        with self._lock:
            records: list[ModelRecord | EndpointConfigRecord] = [
                *self._models.values(),
                *self._configs.values(),
            ]
            return any(r.arn == arn for r in records)

    def _arn(self, resource_type: str, name: str) -> str:
        return arns.arn(self._region, resource_type, name)

    # --- models ---------------------------------------------------------------------------------

    def create_model(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["ModelName"]
        arn = self._arn("model", name)
        check_environment(self._runtime, request)
        containers = (
            [request["PrimaryContainer"]]
            if "PrimaryContainer" in request
            else list(request.get("Containers", []))
        )
        if not containers:
            raise ValidationException("Either PrimaryContainer or Containers must be specified.")
        if len(containers) > 1:
            raise ValidationException(
                "This emulator serves one container per model: inference pipelines (several "
                "Containers) are not supported."
            )
        container = containers[0]
        if not container.get("Image"):
            raise ValidationException("The container definition must name an Image.")
        model_data.check_container(container, self._object_exists)
        with self._lock:
            if arns.name_taken(name, self._models):
                raise ValidationException(f'Cannot create already existing model "{arn}".')
            self._tags.set_initial(arn, request.get("Tags", []))
            record = ModelRecord(
                name=name,
                arn=arn,
                request={k: v for k, v in request.items() if k != "Tags"},
                creation_time=now(),
            )
            self._store.put(MODEL_KIND, name, record)  # first: a refused write keeps nothing
            self._models[name] = record
        return {"ModelArn": arn}

    def _object_exists(self, url: str) -> bool:
        try:
            bucket, key = parse_s3_uri(url)
        except StagingError:
            return False
        return self._s3.head_bucket(bucket) and key in {
            k for k, _ in self._s3.list_keys(bucket, key)
        }

    def _model(self, name: str) -> ModelRecord:
        model = self._models.get(name)
        if model is None:
            raise ValidationException(f'Could not find model "{self._arn("model", name)}".')
        return model

    def model(self, name: str) -> ModelRecord:
        """The model named `name` (batch transform runs its container); ValidationException if
        there is none."""
        with self._lock:
            return self._model(name)

    def describe_model(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._model(request["ModelName"]).describe()

    def list_models(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            summaries = [m.summary() for m in self._models.values()]
        return list_response(summaries, request, name_key="ModelName")

    def delete_model(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            model = self._model(request["ModelName"])
            del self._models[model.name]
            self._store.delete(MODEL_KIND, model.name)
            self._tags.forget(model.arn)
        return {}

    # --- endpoint configs -----------------------------------------------------------------------

    def create_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["EndpointConfigName"]
        arn = self._arn("endpoint-config", name)
        variants = request["ProductionVariants"]
        variant_names = [v["VariantName"] for v in variants]
        if len(set(variant_names)) != len(variant_names):
            raise ValidationException("ProductionVariants must have unique VariantNames.")
        for variant in variants:
            strategy = variant.get("RoutingConfig", {}).get("RoutingStrategy")
            if strategy is not None and strategy not in ROUTING_STRATEGIES:
                raise ValidationException(
                    f"Production variant {variant['VariantName']}: this emulator routes by "
                    f"{' or '.join(ROUTING_STRATEGIES)}, not {strategy}."
                )
        with self._lock:
            if arns.name_taken(name, self._configs):
                raise ValidationException(
                    f'Cannot create already existing endpoint configuration "{arn}".'
                )
            for variant in variants:
                if not variant.get("ModelName"):
                    raise ValidationException(
                        f"Production variant {variant['VariantName']} names no ModelName."
                    )
                self._model(variant["ModelName"])
            self._tags.set_initial(arn, request.get("Tags", []))
            record = EndpointConfigRecord(
                name=name,
                arn=arn,
                request={k: v for k, v in request.items() if k != "Tags"},
                creation_time=now(),
            )
            self._store.put(CONFIG_KIND, name, record)  # first: a refused write keeps nothing
            self._configs[name] = record
        return {"EndpointConfigArn": arn}

    def _config(self, name: str) -> EndpointConfigRecord:
        config = self._configs.get(name)
        if config is None:
            raise ValidationException(
                f'Could not find endpoint configuration "{self._arn("endpoint-config", name)}".'
            )
        return config

    def describe_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._config(request["EndpointConfigName"]).describe()

    def list_endpoint_configs(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            summaries = [c.summary() for c in self._configs.values()]
        return list_response(summaries, request, name_key="EndpointConfigName")

    def delete_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            config = self._config(request["EndpointConfigName"])
            del self._configs[config.name]
            self._store.delete(CONFIG_KIND, config.name)
            self._tags.forget(config.arn)
        return {}

    # --- what a config deploys ------------------------------------------------------------------

    def deployment(self, config_name: str) -> Deployment:
        """The variants a config asks for, with their models' containers as they are now."""
        with self._lock:
            config = self._config(config_name)
            snapshot = []
            for variant in config.variants():
                model = self._model(variant["ModelName"])
                if "ServerlessConfig" in variant and model_data.uses_model_data_source(
                    model.containers()[0]
                ):
                    # AWS documents that ModelDataSource cannot be used with serverless endpoints.
                    raise ValidationException(
                        f"Production variant {variant['VariantName']} is serverless, and its "
                        f"model {model.name} uses ModelDataSource: serverless endpoints do not "
                        "support ModelDataSource. Use ModelDataUrl (a tar.gz archive) instead."
                    )
                snapshot.append(
                    VariantState(
                        variant_name=variant["VariantName"],
                        model_name=model.name,
                        container=dict(model.containers()[0]),
                        weight=float(variant.get("InitialVariantWeight", 1.0)),
                        instance_count=int(variant.get("InitialInstanceCount", 1)),
                        instance_type=str(variant.get("InstanceType", "")),
                        network_isolation=bool(model.request.get("EnableNetworkIsolation", False)),
                        volume_size_in_gb=variant.get("VolumeSizeInGB"),
                        routing_strategy=variant.get("RoutingConfig", {}).get("RoutingStrategy"),
                    )
                )
            return Deployment(config.name, snapshot, config.request.get("AsyncInferenceConfig"))
