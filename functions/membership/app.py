"""Segment entries and exits (the membership queue) into the sync steps that follow segments, then the members'
index and the segments' counters (sources/segment/router.py).

A transition arrives at least once and in any order; the index keeps each (segment, profile)'s newest and counts a
change of membership once (adapters/aws/segment_members.py). A batch that fails is delivered again; records that
failed alone are reported as such, so the others are not applied twice (they would not count twice anyway).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.adapters.aws.membership_queue import decode
from audience_sync.composition import Container
from audience_sync.observability import segment_metrics
from audience_sync.settings import Settings
from audience_sync.sources.segment.router import keys_to_read

logger = Logger()
tracer = Tracer()


@cache
def services() -> Container:
    return Container(Settings.from_env())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    svc = services()
    hour = dt.datetime.fromtimestamp(svc.clock.now_ms() / 1000, dt.UTC).strftime("%Y-%m-%dT%H")
    failures = []
    for record in event.get("Records", []):
        try:
            transitions = decode(record["body"])
        except (ValueError, KeyError, TypeError):
            logger.error("unreadable membership message dropped", extra={"message_id": record.get("messageId")})
            continue
        try:
            # the steps first, then the index: a crash between sends the steps the same chunks again (counted
            # once by the ledger), and the index still tells which transitions are current
            stored = svc.member_index.lookup(keys_to_read(transitions))
            routed = svc.segment_router.route(transitions, stored, record["messageId"])
            changed = svc.member_index.apply(transitions, hour, stored, routed.sent, routed.removed)
        except Exception:
            logger.exception("membership message failed", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        segment_metrics.publish(changed)
    return {"batchItemFailures": failures}
