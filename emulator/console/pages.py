"""The console's HTML pages (server-rendered with Jinja2) and its static files.

Pages carry no inline script: data for the scripts rides in data-* attributes, so the Content
Security Policy allows scripts from this origin only, and no page can be framed (the actions'
buttons cannot be clickjacked).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources as package_files
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from emulator.aws.call_events import log_group_arn, s3_arn
from emulator.aws.errors import AwsError
from emulator.console.context import ConsoleContext, NotFound
from emulator.console.resources import KINDS, Resources

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain"}
SPECIAL_PAGES = {
    "training-jobs": "training.html",
    "tuning-jobs": "tuning.html",
    "endpoints": "endpoint.html",
}


def _timestamp(value: Any) -> str:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else str(value)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("emulator.console", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ts"] = _timestamp
    env.filters["pretty"] = _pretty
    env.filters["q"] = lambda v: quote(str(v), safe="")
    env.globals["kinds"] = KINDS
    return env


def s3_location(uri: str) -> tuple[str, str] | None:
    if not uri.startswith("s3://"):
        return None
    bucket, _, key = uri[5:].partition("/")
    return (bucket, key) if bucket and key else None


def _endpoint_parts(resources: Resources, endpoint: dict[str, Any]) -> dict[str, Any]:
    """The endpoint's config and models; one deleted since (AWS allows it) shows as missing."""
    try:
        config = resources.describe(KINDS["endpoint-configs"], endpoint["EndpointConfigName"])
    except AwsError:
        return {"config": {"ProductionVariants": []}, "models": []}
    models = []
    for variant in config.get("ProductionVariants", []):
        try:
            models.append(resources.describe(KINDS["models"], variant["ModelName"]))
        except AwsError:
            continue
    return {"config": config, "models": models}


def make_page_router(console: ConsoleContext) -> APIRouter:
    router = APIRouter()
    env = environment()

    def render(template: str, request: Request, status: int = 200, **values: Any) -> HTMLResponse:
        region = request.query_params.get("region") or console.default_region
        page = env.get_template(template).render(
            base="/_emulator/ui", region=region, default_region=console.default_region, **values
        )
        return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)

    def failed(request: Request, status: int, message: str) -> HTMLResponse:
        return render("error.html", request, status, message=message)

    def guarded(request: Request, call: Any) -> HTMLResponse:
        try:
            result: HTMLResponse = call()
            return result
        except AwsError as exc:
            return failed(request, exc.status, f"{exc.code}: {exc.message}")
        except NotFound as exc:
            return failed(request, 404, str(exc))

    def index(request: Request) -> HTMLResponse:
        return listing("training-jobs", request, region=request.query_params.get("region"))

    def listing(
        kind: str,
        request: Request,
        q: str = "",
        region: str | None = None,
        token: str = "",
        all: bool = False,
    ) -> HTMLResponse:
        """A page of 100, newest first, as the List operation pages (NextToken); `all`: every
        item, through every page."""

        def run() -> HTMLResponse:
            found = console.kind(kind)
            resources = console.resources(region)
            following: str | None = None
            if all:
                items = resources.listed(found, q)
            else:
                items, following = resources.page(found, q, token)
            # Rows as plain strings: rendering 1,000 of them stays well under the page budget.
            where = f"?region={quote(resources.region, safe='')}"
            rows = [
                (
                    item[found.name_key],
                    f"{found.slug}/{quote(item[found.name_key], safe='')}{where}",
                    item.get(found.status_key, "") if found.status_key else "",
                    _timestamp(item.get("CreationTime")),
                )
                for item in items
            ]
            return render(
                "list.html", request, kind=found, rows=rows, q=q, token=token, following=following
            )

        return guarded(request, run)

    def detail(kind: str, name: str, request: Request, region: str | None = None) -> HTMLResponse:
        def run() -> HTMLResponse:
            found = console.kind(kind)
            resources = console.resources(region)
            described = resources.describe(found, name)
            extra: dict[str, Any] = {}
            if kind == "training-jobs":
                uri = described.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
                extra["artifact"] = s3_location(uri)
            if kind == "endpoints":
                extra.update(_endpoint_parts(resources, described))
            return render(
                SPECIAL_PAGES.get(kind, "detail.html"),
                request,
                kind=found,
                name=name,
                item=described,
                tags=resources.tags(described[found.arn_key]),
                calls=console.sources.calls(described[found.arn_key]),
                **extra,
            )

        return guarded(request, run)

    def buckets(request: Request) -> HTMLResponse:
        return render("buckets.html", request, buckets=console.sources.bucket_names())

    def objects(bucket: str, request: Request, prefix: str = "") -> HTMLResponse:
        if bucket not in console.sources.bucket_names():
            return failed(request, 404, f"NoSuchBucket: the bucket {bucket} does not exist.")
        listed = console.sources.list_objects(bucket, prefix)
        calls = console.sources.calls(s3_arn(bucket))
        return render(
            "objects.html", request, bucket=bucket, prefix=prefix, objects=listed, calls=calls
        )

    def s3_object(bucket: str, request: Request, key: str = "") -> HTMLResponse:
        size = console.object_size(bucket, key)
        if size is None:
            return failed(request, 404, f"NoSuchKey: s3://{bucket}/{key} does not exist.")
        calls = console.sources.calls(s3_arn(bucket, key))
        return render("object.html", request, bucket=bucket, key=key, size=size, calls=calls)

    def log_groups(request: Request, region: str | None = None) -> HTMLResponse:
        return guarded(
            request,
            lambda: render(
                "log_groups.html",
                request,
                groups=console.sources.log_group_names(console.region(region)),
            ),
        )

    def log_group(request: Request, group: str, region: str | None = None) -> HTMLResponse:
        def run() -> HTMLResponse:
            where = console.region(region)
            streams = console.sources.log_stream_names(where, group)
            calls = console.sources.calls(log_group_arn(where, group))
            return render("log_streams.html", request, group=group, streams=streams, calls=calls)

        return guarded(request, run)

    def log_stream(request: Request, group: str, stream: str) -> HTMLResponse:
        return render("log_stream.html", request, group=group, stream=stream)

    def static(path: str) -> Response:
        suffix = "." + path.rsplit(".", 1)[-1] if "." in path else ""
        media_type = STATIC_TYPES.get(suffix)
        parts = path.split("/")
        if media_type is None or any(p in ("", ".", "..") for p in parts):
            return Response(status_code=404)
        found = package_files.files("emulator.console").joinpath("static", *parts)
        if not found.is_file():
            return Response(status_code=404)
        headers = {**SECURITY_HEADERS, "Cache-Control": "max-age=3600"}
        return Response(found.read_bytes(), media_type=media_type, headers=headers)

    router.add_api_route("/", index, methods=["GET"])
    router.add_api_route("/static/{path:path}", static, methods=["GET"])
    router.add_api_route("/s3", buckets, methods=["GET"])
    router.add_api_route("/s3/{bucket}", objects, methods=["GET"])
    router.add_api_route("/s3/{bucket}/object", s3_object, methods=["GET"])
    router.add_api_route("/logs", log_groups, methods=["GET"])
    router.add_api_route("/logs/group", log_group, methods=["GET"])
    router.add_api_route("/logs/stream", log_stream, methods=["GET"])
    router.add_api_route("/{kind}", listing, methods=["GET"])
    router.add_api_route("/{kind}/{name}", detail, methods=["GET"])
    return router
