"""Applies queued profile operations (the FIFO profile queue) in order, each exactly once (profiles/writer.py).

A batch is one unit: if it cannot be written (storage failing, or another writer winning every attempt), the
handler fails and SQS delivers the same messages again, in order; what was written already is not applied twice.
The events and purchases an action-based campaign listens to are published after the write; if that fails, the
batch is delivered again and they are published again (each with the same id: the campaigns take it once).
An unreadable message (not ours) is logged by id and dropped rather than block its group.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.campaigns.activities import tracked
from audience_sync.composition.writer import ProfileWriting
from audience_sync.observability import profile_metrics
from audience_sync.profiles import operations
from audience_sync.profiles.writer import Message
from audience_sync.settings import Settings

logger = Logger()
tracer = Tracer(patch_modules=["botocore"])  # AWS calls only: patching all would import requests


@cache
def services() -> ProfileWriting:
    return ProfileWriting(Settings.from_env())


# Built at init, not at the first event: a cold start pays for its clients once, in Lambda's init (decision 0026).
services().warm(("profile_writer", "activity_router", "cohort_store"))


def _messages(records: list[dict[str, Any]]) -> list[Message]:
    messages = []
    for record in records:
        try:
            ops = operations.read(record["body"])
        except (ValueError, KeyError, TypeError):
            logger.error("unreadable profile message dropped", extra={"message_id": record.get("messageId")})
            continue
        group = (record.get("attributes") or {}).get("MessageGroupId", "")
        messages.append(Message(record["messageId"], group, ops))
    return messages


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = services().profile_writer.write(_messages(event.get("Records", [])))
    if report.activities:  # events and purchases an active campaign listens to (campaigns/connector.py); first, so
        # that a failure here, which delivers the batch again, has counted nothing below yet
        services().activity_router.publish([tracked(a) for a in report.activities])
    if report.cohort_ignored:  # ids of a partner's cohort that named no user here, counted per cohort
        services().cohort_store.add_ignored(report.cohort_ignored)
    members = {cohort: n for cohort, n in report.cohort_members.items() if n}
    if members:  # each cohort's members joined less left
        services().cohort_store.add_members(members)
    profile_metrics.publish(report)
    profile_metrics.publish_cohorts(report.cohort_members)
    logger.info("profile batch written", extra={"records": len(event.get("Records", [])), "report": report.summary()})
    return {"batchItemFailures": []}
