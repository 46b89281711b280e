"""Action-based campaigns (campaigns/connector.py): the campaign activity queue's activities (events, purchases,
interactions) trigger campaigns, end waits early (exceptions), and due waits send.

A batch is handled as one (its sends are planned together, a campaign's users in one message). If it fails, each
message is handled alone, and those that fail again are reported and delivered again (after 5 receives, the
dead-letter queue): each state change is conditional, so what was done is not done twice. An unreadable message
(not ours) is logged by id and dropped.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.campaigns.activities import Activity, Due, decode
from audience_sync.composition.campaigns import Campaigns
from audience_sync.core.metrics import campaign_counters_id
from audience_sync.observability.step_metrics import publish_counts
from audience_sync.settings import Settings

logger = Logger()
tracer = Tracer(patch_modules=["botocore"])  # AWS calls only: patching all would import requests


@cache
def services() -> Campaigns:
    return Campaigns(Settings.from_env())


# Built at init, not at the first event: a cold start pays for its clients once, in Lambda's init (decision 0026).
services().warm(("campaign_connector",))


def _order(message: Activity | Due) -> tuple[int, int]:
    return (0, message.time_ms) if isinstance(message, Activity) else (1, 0)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    messages: list[Activity | Due] = []
    readable = []
    for record in records:
        try:
            messages.append(decode(record["body"]))
        except (ValueError, KeyError, TypeError):
            logger.error("unreadable campaign activity dropped", extra={"message_id": record.get("messageId")})
            continue
        readable.append(record)
    connector = services().campaign_connector
    holder = context.aws_request_id  # this invocation: trying a failed batch's messages alone is not a copy of them
    try:
        results = [(readable, connector.handle(messages, holder=holder))]
    except Exception:
        # one message may be what fails: each alone, and only those that fail are delivered again
        logger.exception("campaign activities failed together; each is tried alone", extra={"records": len(readable)})
        results = []
        # in the order they happened (dues last): a user's later activity is judged after the earlier one
        for record, message in sorted(zip(readable, messages, strict=True), key=lambda pair: _order(pair[1])):
            try:
                results.append(([record], connector.handle([message], holder=holder)))
            except Exception:
                logger.exception("campaign activity failed; delivered again", extra={"message_id": record["messageId"]})
    done = {r["messageId"] for handled_records, _ in results for r in handled_records}
    for _, handled in results:
        for campaign_id, delta in handled.waits.items():
            publish_counts(campaign_counters_id(campaign_id), delta)
        logger.info("campaign activities handled", extra={"records": len(records), "handled": handled.summary()})
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in readable if r["messageId"] not in done]}
