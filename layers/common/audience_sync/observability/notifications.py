"""Integration errors published to the SNS topic (the deployment's equivalent of the seed's error e-mails).

A notification never carries user data: only step ids, error codes, counts and what to do about it.
Publishing is best effort: a failed notification is logged, and never fails or repeats a sync.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from audience_sync.adapters.aws import clients as aws
from audience_sync.core.clock import now_ms

logger = Logger(child=True)

ADVICE = {
    "invalid_token": "Reconnect LinkedIn (GET /v1/connections/linkedin/authorize); waiting users sync after that.",
    "ad_account_access": "Give the connected member a non-viewer role on the ad account, or pick another account.",
    "audience_not_found": "The audience was deleted in LinkedIn: choose another audience and relaunch the step.",
    "users_errored": "These users were retried until the retry horizon and are counted as errored.",
    "audience_expired": "LinkedIn expired the audience (unused for 90 days) and it cannot be targeted: relaunch the "
    "step with a new audience name. Users are still sent to it meanwhile.",
    "audience_failed": "LinkedIn could not process the audience and it cannot be targeted: relaunch the step with a "
    "new audience name. Users are still sent to it meanwhile.",
    "audience_error": "LinkedIn reports an error for the audience and it cannot be targeted: check it in Campaign "
    "Manager or relaunch the step with a new audience name. Users are still sent to it meanwhile.",
}


class Notifier:
    def __init__(self, topic_arn: str | None):
        self.topic_arn = topic_arn

    def notify(self, code: str, **details: Any) -> None:
        if not self.topic_arn:
            return
        message = {"error": code, "advice": ADVICE.get(code), "at": now_ms(), **details}
        subject = f"audience-sync: {code}" + (f" on step {details['step_id']}" if "step_id" in details else "")
        try:
            aws.client("sns").publish(
                TopicArn=self.topic_arn, Subject=subject[:100], Message=json.dumps(message, default=str)
            )
        except (ClientError, BotoCoreError):
            logger.exception("could not publish the integration error notification", extra={"error": code})
