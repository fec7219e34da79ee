"""moto's SNS: the topics clients created through the edge, and a publish to one (asynchronous
inference's notifications). See the package's notes (`__init__.py`).
"""

from __future__ import annotations

from typing import Any

from emulator.aws.arns import ACCOUNT_ID


def _sns_backend(region: str) -> Any:
    # Imported here: only asynchronous inference's notifications need SNS.
    from moto.sns.models import sns_backends

    return sns_backends[ACCOUNT_ID][region]


def sns_topic_exists(region: str, topic_arn: str) -> bool:
    return topic_arn in _sns_backend(region).topics


def sns_publish(region: str, topic_arn: str, message: str) -> None:
    """Publish to an existing topic: its subscribers (an SQS queue...) get the message. Raises
    moto's own errors (a message too long...)."""
    _sns_backend(region).publish(message, arn=topic_arn)
