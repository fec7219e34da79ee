"""moto's IAM: the principals clients created through the edge (the policy simulator checks
that a PolicySourceArn names one). See the package's notes (`__init__.py`).
"""

from __future__ import annotations

from typing import Any

from emulator.aws.arns import ACCOUNT_ID, PARTITION


def iam_principal_arns(account_id: str = ACCOUNT_ID) -> set[str]:
    """The ARNs of every user, role and group moto's IAM holds in `account_id`."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id][PARTITION]
    entities: list[Any] = [
        *backend.users.values(),
        *backend.roles.values(),
        *backend.groups.values(),
    ]
    return {str(entity.arn) for entity in entities}
