"""The segment sweep (segments/sweep.py): each sweep job (the sweep queue) reads its part of the profile table and
queues re-evaluations for the profiles whose membership disagrees; the hourly schedule starts a sweep of the
time-based segments. A job that fails is delivered again (its pages re-read; what they queue again is harmless)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.adapters.aws.sqs_batch import SqsRecord, handle_each
from audience_sync.composition.sweep import Sweeping
from audience_sync.segments.sweep import TIME_BASED
from audience_sync.settings import Settings

logger = Logger()
tracer = Tracer(patch_modules=["botocore"])  # AWS calls only: patching all would import requests


@cache
def services() -> Sweeping:
    return Sweeping(Settings.from_env())


# Built at init, not at the first event: a cold start pays for its clients once, in Lambda's init (decision 0026).
services().warm(("sweep",))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sweep = services().sweep
    if event.get("source") == "aws.events":  # the schedule: time passing may move users of time-based segments
        if sweep.start(TIME_BASED):
            logger.info("time-based segments sweep started")
        return {}

    def run(record: SqsRecord) -> None:
        report = sweep.run(json.loads(record["body"]), record["messageId"])
        logger.info("sweep job done", extra={"profiles": report.profiles, "queued": report.queued})

    return handle_each(event.get("Records", []), run, logger, "sweep job failed")
