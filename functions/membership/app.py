"""Segment entries and exits (the membership queue) into the sync steps that follow segments, then the members'
index and the segments' counters (sources/segment/processor.py).

A transition arrives at least once and in any order; the index keeps each (segment, profile)'s newest and counts a
change of membership once (adapters/aws/segment_members.py). The records of a batch are processed at once, each on
a thread of its own (their time is DynamoDB's and SQS's, not the CPU's: a backfill's messages go ten at a time). A
record that fails is reported alone and delivered again; the others are not applied twice (they would not count
twice anyway).
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.adapters.aws.membership_queue import decode_message
from audience_sync.composition.memberships import Memberships
from audience_sync.observability import segment_metrics
from audience_sync.profiles.values import format_time
from audience_sync.segments.membership import Transition
from audience_sync.settings import Settings

logger = Logger()
tracer = Tracer(patch_modules=["botocore"])  # AWS calls only: patching all would import requests
MAX_THREADS = 10  # the event source mapping's BatchSize


@cache
def services() -> Memberships:
    return Memberships(Settings.from_env())


# Built at init, not at the first event: a cold start pays for its clients once, in Lambda's init (decision 0026).
services().warm(("membership_processor",))


@cache
def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="membership")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = services().membership_processor  # built at init, once, not by the threads at once
    now = dt.datetime.fromtimestamp(services().clock.now_ms() / 1000, dt.UTC)
    hour, at = now.strftime("%Y-%m-%dT%H"), format_time(now)

    def process(record: dict[str, Any]) -> list[Transition] | None:
        """The transitions that changed a membership; None if the record failed (it is delivered again)."""
        try:
            message = decode_message(record["body"])
        except (ValueError, KeyError, TypeError):
            logger.error("unreadable membership message dropped", extra={"message_id": record.get("messageId")})
            return []
        try:
            if isinstance(message, dict):  # a step's reconciliation, one shard
                processor.reconcile(message, record["messageId"], hour, at)
                return []
            return processor.process(message, record["messageId"], hour)
        except Exception:
            logger.exception("membership message failed", extra={"message_id": record.get("messageId")})
            return None

    records = event.get("Records", [])
    failures = []
    for record, changed in zip(records, _threads().map(process, records), strict=True):
        if changed is None:
            failures.append({"itemIdentifier": record["messageId"]})
        else:
            segment_metrics.publish(changed)
    return {"batchItemFailures": failures}
