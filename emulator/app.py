"""Composition root: settings -> stores, runtime, service -> one ASGI app on one port."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp

from emulator import console
from emulator.api import admin, control, runtime
from emulator.aws import specs
from emulator.aws.call_events import sagemaker_event
from emulator.aws.errors import UnknownOperationException
from emulator.config import Settings
from emulator.edge import EdgeRouter, Guard
from emulator.moto_bridge import MotoBridge, moto_app
from emulator.runtime.select import select_runtime
from emulator.services.dispatch import Dispatcher
from emulator.services.regions import RegionalServices
from emulator.storage.call_history import CallHistory
from emulator.storage.console_reads import ConsoleStoreReader
from emulator.storage.logs import RegionalLogs
from emulator.storage.metrics import RegionalMetrics
from emulator.storage.moto_internals import reset_all as reset_moto_backends
from emulator.storage.s3 import S3Store
from emulator.storage.sns import SnsPublisher

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> ASGIApp:
    data_dir = settings.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings.model_copy(update={"data_dir": data_dir})
    s3 = S3Store(data_dir / "s3", settings.region)
    logs = RegionalLogs(data_dir / "logs", settings.region)
    metrics = RegionalMetrics(data_dir / "metrics", settings.region)
    calls = CallHistory(data_dir / "calls" / "history.jsonl")
    if settings.seed_dir is not None:
        s3.seed_tree(settings.seed_dir.expanduser())
    container_runtime = select_runtime(settings)
    # Load the service models now, not on the first request (a few hundred milliseconds).
    specs.sagemaker_model()
    specs.runtime_model()
    regions = RegionalServices(
        data_dir,
        settings.region,
        container_runtime,
        s3,
        logs.get,
        SnsPublisher(),
        metrics_for=metrics.get,
        metrics_flush_seconds=settings.metrics_flush_seconds,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        regions.start()  # recovers stored state: failed-over jobs, endpoints serving again
        log.info(
            "sagemaker-emulator ready: runtime=%s data_dir=%s", container_runtime.name, data_dir
        )
        yield
        # Stop containers and background work before the stores they write to close.
        for name, closer in (
            ("services", regions.close),
            ("runtime", container_runtime.close),
            ("logs", logs.close),
            ("metrics", metrics.close),
        ):
            try:
                closer()
            except Exception:
                log.exception("error while closing the %s", name)

    api = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    api.include_router(admin.make_router(container_runtime.name, data_dir))
    dispatcher = Dispatcher(
        regions,
        on_success=lambda context, operation, params: calls.record(
            sagemaker_event(operation, params, context.region, context.request_id)
        ),
    )
    reads = ConsoleStoreReader(s3, logs, metrics, regions.flush_metrics, calls)
    api.include_router(console.make_router(dispatcher, reads))
    api.include_router(control.make_router(dispatcher))

    async def unknown_route(request: Request, exc: Exception) -> Response:
        response = control.error_response(
            UnknownOperationException(
                f"No SageMaker operation answers {request.method} {request.url.path}."
            )
        )
        response.status_code = getattr(exc, "status_code", 404)
        return response

    async def unexpected(request: Request, exc: Exception) -> Response:
        return control.internal_failure(f"{request.method} {request.url.path}")

    api.add_exception_handler(404, unknown_route)
    api.add_exception_handler(405, unknown_route)
    api.add_exception_handler(Exception, unexpected)

    return EdgeRouter(
        ours=api,
        moto=MotoBridge(
            moto_app(),
            s3,
            logs.get(settings.region),
            metrics.get(settings.region),
            before_metrics_request=regions.flush_metrics,
            calls=calls,
        ),
        runtime=runtime.RuntimeApp(regions),
        guard=Guard.from_settings(
            settings, s3, admin.make_reset(regions, s3, logs, _reset_moto_and(metrics, calls))
        ),
    )


def _reset_moto_and(metrics: RegionalMetrics, calls: CallHistory) -> Callable[[], None]:
    """moto's backends and, with them, the metrics kept on disk (CloudWatch is one of them) and
    the console's call history (the resources it is about are gone)."""

    def reset() -> None:
        with metrics.lock:
            reset_moto_backends()
            metrics.reset()
        calls.clear()

    return reset
