"""The console's JSON endpoints under /_emulator/ui/api/: what its pages poll, and its actions.

Reads are GETs through the validated operations (emulator.console.resources) and the stores'
read side (emulator.console.sources). The only writes (stop, delete, a test invocation) are POSTs
checked by emulator.console.csrf, then run through the same operations as an API call.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from emulator.aws.call_events import log_group_arn, s3_arn
from emulator.aws.errors import AwsError, ValidationException
from emulator.console import csrf, metrics, tuning
from emulator.console.context import ConsoleContext, NotFound
from emulator.console.logs import tail_training_job

MAX_INVOKE_BODY = 6 * 1024 * 1024
"""InvokeEndpoint's own payload limit."""


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"__type": code, "message": message}, status_code=status)


def make_api_router(console: ConsoleContext) -> APIRouter:
    router = APIRouter(prefix="/api")

    def guarded(call: Any) -> Any:
        try:
            return call()
        except AwsError as exc:
            return error(exc.status, exc.code, exc.message)
        except NotFound as exc:
            return error(404, "ResourceNotFound", str(exc))

    def list_kind(kind: str, q: str = "", region: str | None = None) -> Any:
        def run() -> dict[str, Any]:
            found = console.kind(kind)
            return {"kind": kind, "items": console.resources(region).listed(found, q)}

        return guarded(run)

    def describe_kind(kind: str, name: str, region: str | None = None) -> Any:
        def run() -> dict[str, Any]:
            found = console.kind(kind)
            resources = console.resources(region)
            described = resources.describe(found, name)
            arn = described[found.arn_key]
            return {
                "describe": described,
                "tags": resources.tags(arn),
                "calls": console.sources.calls(arn),
            }

        return guarded(run)

    def training_logs(name: str, cursor: str = "", region: str | None = None) -> Any:
        def run() -> dict[str, Any]:
            after = _cursor(cursor)
            resources = console.resources(region)
            # The status first: lines written before it said "ended" are all in this answer.
            job = resources.describe(console.kind("training-jobs"), name)
            tail = tail_training_job(console.sources, resources.region, name, after)
            return {**tail, "TrainingJobStatus": job["TrainingJobStatus"]}

        return guarded(run)

    def training_metrics(name: str, region: str | None = None) -> Any:
        def run() -> dict[str, Any]:
            resources = console.resources(region)
            job = resources.describe(console.kind("training-jobs"), name)
            return metrics.training_job(console.sources, resources.region, job)

        return guarded(run)

    def endpoint_metrics(name: str, region: str | None = None) -> Any:
        def run() -> dict[str, Any]:
            resources = console.resources(region)
            resources.describe(console.kind("endpoints"), name)  # an unknown name: 404
            return metrics.endpoint(console.sources, resources.region, name)

        return guarded(run)

    def tuning_children(name: str, region: str | None = None) -> Any:
        return guarded(lambda: tuning.children(console.resources(region), name))

    def buckets() -> Any:
        return {"buckets": console.sources.bucket_names()}

    def objects(bucket: str, prefix: str = "") -> Any:
        if bucket not in console.sources.bucket_names():
            return error(404, "NoSuchBucket", f"The bucket {bucket} does not exist.")
        listed = console.sources.list_objects(bucket, prefix)
        return {
            "bucket": bucket,
            "objects": [{"Key": k, "Size": s} for k, s in listed],
            "calls": console.sources.calls(s3_arn(bucket)),
        }

    def s3_object(bucket: str, key: str = "") -> Any:
        size = console.object_size(bucket, key)
        if size is None:
            return error(404, "NoSuchKey", f"s3://{bucket}/{key} does not exist.")
        calls = console.sources.calls(s3_arn(bucket, key))
        return {"bucket": bucket, "key": key, "Size": size, "calls": calls}

    def log_groups(region: str | None = None) -> Any:
        return guarded(lambda: {"groups": console.sources.log_group_names(console.region(region))})

    def log_streams(group: str, region: str | None = None) -> Any:
        def run() -> dict[str, Any]:
            where = console.region(region)
            return {
                "streams": console.sources.log_stream_names(where, group),
                "calls": console.sources.calls(log_group_arn(where, group)),
            }

        return guarded(run)

    def log_events(group: str, stream: str, start: int = 0, region: str | None = None) -> Any:
        def run() -> dict[str, Any]:
            events = console.sources.log_events(console.region(region), group, stream, start)
            return {
                "events": [{"timestamp": t, "message": m} for t, m in events],
                "next": start + len(events),
            }

        return guarded(run)

    def artifact(bucket: str, key: str) -> Response:
        try:
            body = console.sources.open_object(bucket, key)
        except KeyError:
            return error(404, "NoSuchKey", f"s3://{bucket}/{key} does not exist.")
        filename = key.rsplit("/", 1)[-1] or "object"
        return StreamingResponse(
            iter(lambda: body.read(1024 * 1024), b""),
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{_quoted(filename)}"'},
        )

    async def action(kind: str, name: str, verb: str, request: Request) -> Any:
        refused = csrf.refusal(request)
        if refused is not None:
            return error(403, "AccessDeniedException", refused)
        region = request.query_params.get("region")

        def run() -> dict[str, Any]:
            found = console.kind(kind)
            operation = found.stop_operation if verb == "stop" else found.delete_operation
            if verb not in ("stop", "delete") or operation is None:
                raise NotFound(f"The console cannot {verb[:16]} {kind}.")
            return {
                "operation": operation,
                "answer": console.act(region, operation, {found.name_key: name}),
            }

        return await console.in_thread(lambda: guarded(run))

    async def invoke(name: str, request: Request) -> Any:
        refused = csrf.refusal(request)
        if refused is not None:
            return error(403, "AccessDeniedException", refused)
        raw = await request.body()
        if len(raw) > 2 * MAX_INVOKE_BODY:
            return error(413, "ValidationError", "The test request is too large.")
        try:
            asked = json.loads(raw)
            body = str(asked["Body"]).encode()
            content_type = str(asked.get("ContentType") or "application/json")
            accept = asked.get("Accept")
        except (ValueError, KeyError, TypeError):
            return error(400, "SerializationException", 'Send {"Body": ..., "ContentType": ...}.')
        region = request.query_params.get("region")

        def run() -> dict[str, Any]:
            return console.invoke(region, name, body, content_type, accept)

        return await console.in_thread(lambda: guarded(run))

    router.add_api_route("/training-jobs/{name}/logs", training_logs, methods=["GET"])
    router.add_api_route("/training-jobs/{name}/metrics", training_metrics, methods=["GET"])
    router.add_api_route("/endpoints/{name}/metrics", endpoint_metrics, methods=["GET"])
    router.add_api_route("/endpoints/{name}/invocations", invoke, methods=["POST"])
    router.add_api_route("/tuning-jobs/{name}/children", tuning_children, methods=["GET"])
    router.add_api_route("/s3", buckets, methods=["GET"])
    router.add_api_route("/s3/{bucket}", objects, methods=["GET"])
    router.add_api_route("/s3/{bucket}/object", s3_object, methods=["GET"])
    router.add_api_route("/artifact", artifact, methods=["GET"])
    router.add_api_route("/logs/groups", log_groups, methods=["GET"])
    router.add_api_route("/logs/streams", log_streams, methods=["GET"])
    router.add_api_route("/logs/events", log_events, methods=["GET"])
    router.add_api_route("/{kind}", list_kind, methods=["GET"])
    router.add_api_route("/{kind}/{name}", describe_kind, methods=["GET"])
    router.add_api_route("/{kind}/{name}/{verb}", action, methods=["POST"])
    return router


def _cursor(text: str) -> dict[str, int]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise ValidationException("cursor: not the cursor a previous answer gave") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in value.items()
    ):
        raise ValidationException("cursor: not the cursor a previous answer gave")
    return value


def _quoted(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
