"""botocore's service model for a SigV4 signing name, and the wire protocol a request speaks.

A request names its service only by the signing name of its credential scope (`iam`, `logs`,
`monitoring`...). Most signing names are also the name of botocore's service model; the others
(CloudWatch signs as `monitoring`) are found in the models' metadata. Some services accept several
protocols (CloudWatch: `smithy-rpc-v2-cbor`, `json`, `query`), and an answer must be in the one the
client spoke, which the request itself shows: a `smithy-protocol` header, an X-Amz-Target, or a
form-encoded `Action`.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import botocore.session

_HEAD_BYTES = 4096
"""A model file's metadata comes first; this much of it names the signing name and prefix."""
_METADATA_NAME = re.compile(r'"(signingName|endpointPrefix)"\s*:\s*"([^"]+)"')


@cache
def _session() -> Any:
    return botocore.session.get_session()


@cache
def _signing_names() -> dict[str, str]:
    """signing name (or endpoint prefix) -> service model name, for the models whose name differs.

    Reading every model whole takes seconds; the head of each file is enough for two names.
    """
    loader = _session().get_component("data_loader")
    found: dict[str, str] = {}
    for name in loader.list_available_services("service-2"):
        version = loader.determine_latest_version(name, "service-2")
        head = _model_head(loader.search_paths, name, version)
        names = dict(_METADATA_NAME.findall(head))
        key = names.get("signingName") or names.get("endpointPrefix")
        if key and key != name:
            found.setdefault(key, name)
    return found


def _model_head(search_paths: list[str], name: str, version: str) -> str:
    for root in search_paths:
        for suffix, opener in ((".json.gz", gzip.open), (".json", open)):
            path = os.path.join(root, name, version, "service-2" + suffix)
            if os.path.exists(path):
                with opener(path, "rb") as file:
                    data: bytes = file.read(_HEAD_BYTES)
                return data.decode("utf-8", "replace")
    return ""


@cache
def service_model(signing_name: str | None) -> Any | None:
    """botocore's ServiceModel of the service signing as `signing_name`; S3's for None (moto
    takes unsigned requests as S3's); None when no model knows the name."""
    name = signing_name or "s3"
    session = _session()
    for candidate in (name, _signing_names().get(name)):
        if candidate is None:
            continue
        try:
            return session.get_service_model(candidate)
        except Exception:  # no model of that name
            continue
    return None


def _model_protocols(model: Any) -> list[str]:
    listed = model.metadata.get("protocols")
    return [str(p) for p in listed] if listed else [str(model.protocol)]


def protocol_of(signing_name: str | None) -> str:
    """The protocol botocore speaks to the service: `json`, `rest-json`, `rest-xml`, `query`,
    `ec2`, `smithy-rpc-v2-cbor`. JSON, the common one, for a name no model knows."""
    model = service_model(signing_name)
    if model is None:
        return "json"
    return str(model.resolved_protocol)


def request_protocol(signing_name: str | None, headers: Mapping[str, str]) -> str:
    """The protocol of this request (`headers`: lower-case names), among those its service
    accepts: what the client will parse the answer with."""
    model = service_model(signing_name)
    accepted = _model_protocols(model) if model is not None else []
    if len(accepted) == 1:
        return accepted[0]
    if headers.get("smithy-protocol", "").lower() == "rpc-v2-cbor":
        spoken = "smithy-rpc-v2-cbor"
    elif "x-amz-target" in headers:
        spoken = "json"
    elif headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        spoken = "query"
    else:
        return protocol_of(signing_name)
    return spoken if spoken in accepted or not accepted else protocol_of(signing_name)


def xml_namespace(signing_name: str | None) -> str | None:
    """The service's XML namespace (query protocol errors carry it), from its model."""
    model = service_model(signing_name)
    namespace = None if model is None else model.metadata.get("xmlNamespace")
    return None if namespace is None else str(namespace)
