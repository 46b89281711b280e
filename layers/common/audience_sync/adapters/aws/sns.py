"""Integration errors to the SNS topic (observability/notifications.py says what they hold)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from audience_sync.adapters.aws import clients
from audience_sync.core.clock import now_ms
from audience_sync.observability.notifications import notification

logger = Logger(child=True)


class SnsNotifier:
    def __init__(self, topic_arn: str):
        clients.create_now("sns")  # at the container's init (decision 0026)
        self.topic_arn = topic_arn

    def notify(self, code: str, **details: Any) -> None:
        subject, message = notification(code, now_ms(), details)
        try:
            clients.sns().publish(TopicArn=self.topic_arn, Subject=subject, Message=message)
        except (ClientError, BotoCoreError):
            logger.exception("could not publish the integration error notification", extra={"error": code})
