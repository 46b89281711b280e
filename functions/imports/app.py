"""The import function: the schedule's tick (every minute: the imports that are due are started, a run whose
function died is queued again; imports/schedule.py) and the runs on the import queue (imports/runner.py). A run that
fails on an AWS error is delivered again and goes on from its last recorded chunk."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.adapters.aws.sqs_batch import SqsRecord, handle_each
from audience_sync.composition.imports import ImportRunning
from audience_sync.settings import Settings

logger = Logger()
tracer = Tracer(patch_modules=["botocore"])  # AWS calls only: patching all would import requests


@cache
def services() -> ImportRunning:
    return ImportRunning(Settings.from_env())


# Built at init, not at the first event: a cold start pays for its clients once, in Lambda's init (decision 0026).
services().warm(("import_scheduler", "import_runner"))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("source") == "aws.events":  # the schedule
        started = services().import_scheduler.tick()
        if started:
            logger.info("import runs started", extra={"runs": started})
        return {}

    def run(record: SqsRecord) -> None:
        job = json.loads(record["body"])
        deadline_ms = services().clock.now_ms() + context.get_remaining_time_in_millis()
        outcome = services().import_runner.run(job["import_id"], job["run_id"], deadline_ms)
        logger.info("import run", extra={"import_id": job["import_id"], "run_id": job["run_id"], "outcome": outcome})

    return handle_each(event.get("Records", []), run, logger, "import run failed")  # a failed run alone, again
