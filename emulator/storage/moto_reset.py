"""Forget everything moto holds (S3, Logs, IAM, STS... in every region): moto's own reset, as its
`/moto-api/reset` route does it. Kept beside the stores: only they touch moto."""

from __future__ import annotations


def reset_moto_backends() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
