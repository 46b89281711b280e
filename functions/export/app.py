"""The export function (exports/runner.py): each message of the export queue is one job to run or go on with. A job
that fails on an AWS error is delivered again (a `bucket` export resumes after its last file; a `url` or `csv` export
starts over); one started too often is failed, its segment freed and the failure notified."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.adapters.aws.sqs_batch import SqsRecord, handle_each
from audience_sync.composition.export_runner import ExportRunning
from audience_sync.settings import Settings

logger = Logger()
tracer = Tracer(patch_modules=["botocore", "requests"])  # AWS, and the destinations' HTTP


@cache
def services() -> ExportRunning:
    return ExportRunning(Settings.from_env())


# Built at init, not at the first event: a cold start pays for its clients once, in Lambda's init (decision 0026).
services().warm(("export_runner",))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def run(record: SqsRecord) -> None:
        export_id = json.loads(record["body"])["export_id"]
        deadline_ms = services().clock.now_ms() + context.get_remaining_time_in_millis()
        outcome = services().export_runner.run(export_id, deadline_ms)
        logger.info("export job", extra={"export_id": export_id, "outcome": outcome})

    return handle_each(event.get("Records", []), run, logger, "export job failed")  # a failed job alone, again
