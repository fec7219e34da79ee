"""SNS for the services: publish a notification to a topic of moto's in-process SNS backend.

The topics and subscriptions are the ones clients create through the edge (CreateTopic,
Subscribe...), so a notification reaches an SQS queue subscribed to the topic as it would on AWS.
"""

from __future__ import annotations

import logging
import threading

from emulator.aws.arns import ACCOUNT_ID
from emulator.storage.moto_internals import sns as moto

log = logging.getLogger(__name__)


_LOCK = threading.Lock()
"""Serialises the services' publishes, whatever their region (moto is not thread-safe)."""


class SnsPublisher:
    def publish(self, region: str, topic_arn: str, message: str) -> str | None:
        """Publish `message` to `topic_arn` in `region`; None on success, else why it failed
        (no such topic, a topic of another account or region, a refused message)."""
        parts = topic_arn.split(":")
        if len(parts) != 6 or parts[2] != "sns" or parts[3] != region or parts[4] != ACCOUNT_ID:
            return f"{topic_arn} is not an SNS topic of account {ACCOUNT_ID} in {region}"
        with _LOCK:
            if not moto.sns_topic_exists(region, topic_arn):
                return f"SNS topic {topic_arn} does not exist"
            try:
                moto.sns_publish(region, topic_arn, message)
            except Exception as exc:  # moto's own errors (a message too long...)
                log.warning("publishing to %s failed", topic_arn, exc_info=True)
                return f"publishing to {topic_arn} failed: {type(exc).__name__}: {exc}"
        return None
