"""SigV4 signature verification against the access keys the user configured.

The expected signature is computed by botocore's own signers (SigV4Auth, S3SigV4Auth and their
query-string variants) from the request as received: the canonical request is built from the
method, the raw path and query, exactly the headers the client listed in SignedHeaders and the
payload hash, then signed with the secret of the access key in the credential scope. No crypto is
written here; only the parsing of what the client sent.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.auth import (
    HmacV1Auth,
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV4Auth,
    SigV4QueryAuth,
)
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class Failure(StrEnum):
    UNSIGNED = "unsigned"
    UNKNOWN_KEY = "unknown-key"
    BAD_SIGNATURE = "bad-signature"
    EXPIRED = "expired"


# The code and message each protocol family answers with (what the real services send).
_CODES: dict[str, dict[Failure, tuple[str, str]]] = {
    "json": {
        Failure.UNSIGNED: ("MissingAuthenticationTokenException", "Missing Authentication Token"),
        Failure.UNKNOWN_KEY: (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        Failure.BAD_SIGNATURE: (
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
        ),
        Failure.EXPIRED: ("InvalidSignatureException", "Signature expired."),
    },
    "rest-xml": {
        Failure.UNSIGNED: ("AccessDenied", "Access Denied"),
        Failure.UNKNOWN_KEY: (
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        Failure.BAD_SIGNATURE: (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        ),
        Failure.EXPIRED: ("AccessDenied", "Request has expired"),
    },
    "query": {
        Failure.UNSIGNED: ("MissingAuthenticationToken", "Request is missing Authentication Token"),
        Failure.UNKNOWN_KEY: (
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        ),
        Failure.BAD_SIGNATURE: (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
        ),
        Failure.EXPIRED: ("SignatureDoesNotMatch", "Signature expired."),
    },
}


def error_for(failure: Failure, protocol: str) -> tuple[str, str]:
    family = (
        "rest-xml"
        if protocol == "rest-xml"
        else "query"
        if protocol in ("query", "ec2")
        else "json"
    )
    return _CODES[family][failure]


@dataclass(frozen=True)
class SignedRequest:
    method: str
    raw_path: str
    query: str
    headers: list[tuple[str, str]]
    """Names lower-case, in the order received."""
    body: bytes | None
    """None when the edge did not read it (S3 sends the payload hash in a header)."""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


def parse_keys(spec: str) -> dict[str, str]:
    """`AKID:SECRET,AKID2:SECRET2` -> {AKID: SECRET, ...}."""
    keys: dict[str, str] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        key_id, sep, secret = item.partition(":")
        if not sep or not key_id.strip() or not secret:
            raise ValueError("access keys are given as ACCESS_KEY_ID:SECRET_ACCESS_KEY")
        keys[key_id.strip()] = secret
    return keys


class _Signed:
    """Mixin: sign exactly the headers the client listed (the server's side of SignedHeaders)."""

    signed: list[str]

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = HTTPHeaders()
        for name in self.signed:
            for value in request.headers.get_all(name) or []:
                chosen[name] = value
        return chosen


class _HeaderAuth(_Signed, SigV4Auth):  # type: ignore[misc]
    pass


class _S3HeaderAuth(_Signed, S3SigV4Auth):  # type: ignore[misc]
    pass


class _QueryAuth(_Signed, SigV4QueryAuth):  # type: ignore[misc]
    pass


class _S3QueryAuth(_Signed, S3SigV4QueryAuth):  # type: ignore[misc]
    pass


def _parse_authorization(value: str) -> dict[str, str] | None:
    if not value.startswith(ALGORITHM + " "):
        return None
    fields: dict[str, str] = {}
    for part in value[len(ALGORITHM) :].split(","):
        name, sep, field = part.strip().partition("=")
        if sep:
            fields[name.strip()] = field.strip()
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    return fields


def _query_pairs(query: str) -> list[tuple[str, str]]:
    return [
        (key, value) for key, _, value in (pair.partition("=") for pair in query.split("&") if pair)
    ]


def _unquote(value: str) -> str:
    return unquote(value)


class SignatureVerifier:
    def __init__(self, keys: Mapping[str, str], now: Any = None) -> None:
        self._keys = dict(keys)
        self._now = now or (lambda: datetime.now(UTC))

    @staticmethod
    def needs_body(request: SignedRequest) -> bool:
        """Whether verify() will need the body: a header-signed request without a payload hash
        header (everything but S3), or a browser-style S3 POST upload carrying a policy."""
        if request.header("authorization") is not None:
            return request.header("x-amz-content-sha256") is None
        content_type = request.header("content-type") or ""
        return request.method == "POST" and content_type.startswith("multipart/form-data")

    def verify(self, request: SignedRequest, service: str | None) -> Failure | None:
        authorization = request.header("authorization")
        if authorization is not None:
            return self._verify_header(request, authorization)
        pairs = _query_pairs(request.query)
        if any(key == "X-Amz-Signature" for key, _ in pairs):
            return self._verify_query(request, pairs)
        if any(key == "Signature" for key, _ in pairs) and service in (None, "s3"):
            # boto3 presigns S3 URLs with S3's older query signature unless told s3v4.
            return self._verify_query_v2(request, pairs)
        if self.needs_body(request) and service in (None, "s3"):
            return self._verify_post_policy(request)
        return Failure.UNSIGNED

    def _credentials(self, credential: str) -> tuple[Credentials, str, str, str] | Failure:
        parts = credential.split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            return Failure.BAD_SIGNATURE
        key_id, date, region, service = parts[:4]
        secret = self._keys.get(key_id)
        if secret is None:
            return Failure.UNKNOWN_KEY
        return Credentials(key_id, secret), date, region, service

    def _request(self, request: SignedRequest, query: str) -> AWSRequest:
        host = request.header("host") or "localhost"
        url = f"http://{host}{request.raw_path}" + (f"?{query}" if query else "")
        headers = HTTPHeaders()
        for name, value in request.headers:
            headers[name] = value
        prepared = AWSRequest(method=request.method, url=url, data=request.body or b"")
        prepared.headers = headers
        return prepared

    def _verify_header(self, request: SignedRequest, authorization: str) -> Failure | None:
        fields = _parse_authorization(authorization)
        if fields is None:
            return Failure.BAD_SIGNATURE
        found = self._credentials(fields["Credential"])
        if isinstance(found, Failure):
            return found
        credentials, date, region, service = found
        timestamp = request.header("x-amz-date")
        if timestamp is None or not timestamp.startswith(date):
            return Failure.BAD_SIGNATURE
        auth_class = _S3HeaderAuth if service == "s3" else _HeaderAuth
        auth = auth_class(credentials, service, region)
        auth.signed = [name.lower() for name in fields["SignedHeaders"].split(";") if name]
        if "host" not in auth.signed:
            return Failure.BAD_SIGNATURE  # SigV4 always signs Host
        prepared = self._request(request, request.query)
        prepared.context["timestamp"] = timestamp
        if service == "s3" and request.header("x-amz-content-sha256") is None:
            return Failure.BAD_SIGNATURE  # S3 requires the payload hash header
        expected = auth.signature(
            auth.string_to_sign(prepared, auth.canonical_request(prepared)), prepared
        )
        if not hmac.compare_digest(expected, fields["Signature"]):
            return Failure.BAD_SIGNATURE
        return None

    def _verify_query(self, request: SignedRequest, pairs: list[tuple[str, str]]) -> Failure | None:
        values = {key: _unquote(value) for key, value in pairs}
        if values.get("X-Amz-Algorithm") != ALGORITHM:
            return Failure.BAD_SIGNATURE
        found = self._credentials(values.get("X-Amz-Credential", ""))
        if isinstance(found, Failure):
            return found
        credentials, date, region, service = found
        timestamp = values.get("X-Amz-Date", "")
        try:
            signed_at = datetime.strptime(timestamp, _AMZ_DATE).replace(tzinfo=UTC)
            expires = int(values.get("X-Amz-Expires", "0"))
        except ValueError:
            return Failure.BAD_SIGNATURE
        auth_class = _S3QueryAuth if service == "s3" else _QueryAuth
        auth = auth_class(credentials, service, region)
        auth.signed = [n.lower() for n in values.get("X-Amz-SignedHeaders", "").split(";") if n]
        if "host" not in auth.signed or not timestamp.startswith(date):
            return Failure.BAD_SIGNATURE
        query = "&".join(f"{k}={v}" for k, v in pairs if k != "X-Amz-Signature")
        prepared = self._request(request, query)
        prepared.context["timestamp"] = timestamp
        expected = auth.signature(
            auth.string_to_sign(prepared, auth.canonical_request(prepared)), prepared
        )
        if not hmac.compare_digest(expected, values.get("X-Amz-Signature", "")):
            return Failure.BAD_SIGNATURE
        if self._now() > signed_at + timedelta(seconds=expires):
            return Failure.EXPIRED
        return None

    def _verify_query_v2(
        self, request: SignedRequest, pairs: list[tuple[str, str]]
    ) -> Failure | None:
        values = {key: _unquote(value) for key, value in pairs}
        secret = self._keys.get(values.get("AWSAccessKeyId", ""))
        if secret is None:
            return Failure.UNKNOWN_KEY
        expires = values.get("Expires", "")
        if not expires.isdigit():
            return Failure.BAD_SIGNATURE
        auth = _ExpiresV1Auth(Credentials(values["AWSAccessKeyId"], secret))
        auth.expires = expires
        headers = HTTPHeaders()
        for name, value in request.headers:
            if name in ("content-md5", "content-type") or name.startswith("x-amz-"):
                headers[name] = value
        split = urlsplit(f"http://localhost{request.raw_path}?{request.query}")
        expected = auth.get_signature(request.method, split, headers)
        if not hmac.compare_digest(expected, values.get("Signature", "")):
            return Failure.BAD_SIGNATURE
        if self._now().timestamp() > int(expires):
            return Failure.EXPIRED
        return None

    def _verify_post_policy(self, request: SignedRequest) -> Failure | None:
        """A browser-based S3 POST upload: the form's policy, signed like a string to sign."""
        fields = _form_fields(request.header("content-type") or "", request.body or b"")
        policy = fields.get("policy")
        if policy is not None and "signature" in fields:  # the older signature (boto3's default)
            secret = self._keys.get(fields.get("awsaccesskeyid", ""))
            if secret is None:
                return Failure.UNKNOWN_KEY
            signer = HmacV1Auth(Credentials(fields["awsaccesskeyid"], secret))
            if not hmac.compare_digest(signer.sign_string(policy), fields["signature"]):
                return Failure.BAD_SIGNATURE
            return _policy_expired(policy, self._now())
        if policy is None or "x-amz-signature" not in fields:
            return Failure.UNSIGNED
        if fields.get("x-amz-algorithm") != ALGORITHM:
            return Failure.BAD_SIGNATURE
        found = self._credentials(fields.get("x-amz-credential", ""))
        if isinstance(found, Failure):
            return found
        credentials, date, region, service = found
        timestamp = fields.get("x-amz-date", "")
        if not timestamp.startswith(date):
            return Failure.BAD_SIGNATURE
        auth = SigV4Auth(credentials, service, region)
        prepared = AWSRequest(method="POST", url="http://localhost/")
        prepared.context["timestamp"] = timestamp
        if not hmac.compare_digest(auth.signature(policy, prepared), fields["x-amz-signature"]):
            return Failure.BAD_SIGNATURE
        return _policy_expired(policy, self._now())


class _ExpiresV1Auth(HmacV1Auth):  # type: ignore[misc]
    """The older S3 query signature: the Expires value stands where the Date header would."""

    expires = ""

    def _get_date(self) -> str:
        return self.expires


def _policy_expired(policy: str, now: datetime) -> Failure | None:
    try:
        document = json.loads(base64.b64decode(policy))
        expiration = datetime.fromisoformat(document["expiration"].replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError, binascii.Error):
        return Failure.BAD_SIGNATURE
    return Failure.EXPIRED if now > expiration else None


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a multipart/form-data body (names lower-cased), the file left out."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            fields[name.lower()] = payload.decode("utf-8", "replace")
    return fields
