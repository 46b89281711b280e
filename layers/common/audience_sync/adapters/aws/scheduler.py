"""The waits' one-time schedules on EventBridge Scheduler (campaigns/ports.py WaitScheduler, docs/decisions/0017).

Each is `at(<due time>)` in UTC, without a flexible window, deleted by Scheduler once it has run
(`ActionAfterCompletion: DELETE`), and puts its body (a `Due`: campaign, user, wait id; no event properties) on the
campaign activity queue. Scheduler retries a failed delivery for up to a day, then puts it on the queue's dead-letter
queue (alarmed: template.yaml CampaignActivityDeadLetterQueueAlarm). Creating one that exists (a
redelivered activity) and deleting one that is gone (it fired, or was deleted before) are not errors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import error_code, translated

RETRY_SECONDS = 86_400


def at_expression(due_ms: int) -> str:
    """`at(yyyy-mm-ddThh:mm:ss)`, rounded up to the second (a schedule is never early)."""
    seconds = -(-due_ms // 1000)
    return f"at({dt.datetime.fromtimestamp(seconds, dt.UTC):%Y-%m-%dT%H:%M:%S})"


class EventBridgeWaitScheduler:
    def __init__(self, group: str, queue_arn: str, role_arn: str, dead_letter_arn: str):
        clients.create_now("scheduler")  # at the container's init (decision 0026)
        self.group = group
        self.queue_arn = queue_arn
        self.role_arn = role_arn
        self.dead_letter_arn = dead_letter_arn

    @staticmethod
    def _client() -> Any:
        return clients.client("scheduler")

    @translated("scheduler.create")
    def schedule(self, name: str, due_ms: int, body: str) -> None:
        try:
            self._client().create_schedule(
                Name=name,
                GroupName=self.group,
                ScheduleExpression=at_expression(due_ms),
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": self.queue_arn,
                    "RoleArn": self.role_arn,
                    "Input": body,
                    "RetryPolicy": {"MaximumEventAgeInSeconds": RETRY_SECONDS, "MaximumRetryAttempts": 185},
                    # a due it could not deliver for a day is kept there, and alarmed on, not dropped
                    "DeadLetterConfig": {"Arn": self.dead_letter_arn},
                },
            )
        except ClientError as error:
            if error_code(error) != "ConflictException":
                raise

    @translated("scheduler.delete")
    def cancel(self, name: str) -> None:
        try:
            self._client().delete_schedule(Name=name, GroupName=self.group)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
