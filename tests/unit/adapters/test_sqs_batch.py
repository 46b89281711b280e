"""The partial batch response: every record handled, the ones that raised named (and only them), in order."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from aws_lambda_powertools import Logger

from audience_sync.adapters.aws.sqs_batch import handle_each


def records(*bodies: str) -> list[dict[str, Any]]:
    return [{"messageId": f"m-{n}", "body": body} for n, body in enumerate(bodies)]


def test_a_failing_record_is_named_alone_and_the_others_are_still_handled() -> None:
    handled: list[str] = []
    stream = io.StringIO()
    logger = Logger(service="sqs-batch-test", logger_handler=logging.StreamHandler(stream))

    def handle(record: dict[str, Any]) -> None:
        if record["body"] == "bad":
            raise ValueError("unreadable job")
        handled.append(record["messageId"])

    answer = handle_each(records("ok", "bad", "ok", "bad"), handle, logger, "job failed")

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-3"}]}
    assert handled == ["m-0", "m-2"]
    logged = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(entry["message"], entry["message_id"]) for entry in logged] == [
        ("job failed", "m-1"),
        ("job failed", "m-3"),
    ]


def test_a_batch_that_all_succeeds_names_nothing() -> None:
    logger = Logger(service="sqs-batch-test", logger_handler=logging.StreamHandler(io.StringIO()))
    assert handle_each(records("a", "b"), lambda record: None, logger, "job failed") == {"batchItemFailures": []}
    assert handle_each([], lambda record: None, logger, "job failed") == {"batchItemFailures": []}
