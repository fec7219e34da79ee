"""moto's S3 multipart uploads in progress, as the data dir stores them: what was given when the
upload was created, its parts so far (moto objects of `s3_versions`), and an upload put back.
See the package's notes (`__init__.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from moto.s3.models import FakeMultipart
from moto.utilities.utils import CaseInsensitiveDict

from emulator.aws.arns import ACCOUNT_ID
from emulator.storage.moto_internals.s3 import Bucket, Key

Upload: TypeAlias = Any
"""moto's FakeMultipart: a multipart upload in progress."""


def uploads(found: Bucket) -> dict[str, Upload]:
    """The bucket's multipart uploads in progress, by upload id."""
    return dict(found.multiparts)


@dataclass(frozen=True)
class UploadFacts:
    key: str
    metadata: dict[str, str]
    storage_class: str | None
    tags: dict[str, str]
    sse_encryption: str | None
    kms_key_id: str | None


def upload_facts(upload: Upload) -> UploadFacts:
    return UploadFacts(
        key=str(upload.key_name),
        metadata={str(k): str(v) for k, v in dict(upload.metadata or {}).items()},
        storage_class=upload.storage,
        tags=dict(upload.tags or {}),
        sse_encryption=upload.sse_encryption,
        kms_key_id=upload.kms_key_id,
    )


def upload_parts(upload: Upload) -> dict[int, Key]:
    """The parts uploaded so far, by part number."""
    return dict(upload.parts)


def restore_upload(
    found: Bucket, region: str, upload_id: str, facts: UploadFacts, parts: dict[int, Key]
) -> Upload:
    """Put a stored multipart upload (and its parts, from `make_version`) back into the bucket."""
    upload = FakeMultipart(
        facts.key,
        CaseInsensitiveDict(facts.metadata),
        account_id=ACCOUNT_ID,
        region_name=region,
        storage=facts.storage_class,
        tags=facts.tags,
        acl=None,
        sse_encryption=facts.sse_encryption,
        kms_key_id=facts.kms_key_id,
    )
    upload.id = upload_id
    upload.parts = dict(parts)
    upload.partlist = sorted(parts)
    found.multiparts[upload_id] = upload
    return upload


def drop_upload(found: Bucket, upload_id: str) -> None:
    if upload_id in found.multiparts:
        del found.multiparts[upload_id]
