"""SQS event source mappings and schedules from the template, as threads calling the local functions."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import boto3

from localmode.functions import LocalFunction

logger = logging.getLogger("localmode.events")
_MAX_INVOKE_PAYLOAD = 6 * 1024 * 1024


class SqsPoller(threading.Thread):
    """One concurrent batcher: long-polls, gathers up to BatchSize records or the batching window, invokes,
    then deletes what succeeded. Failed records stay invisible until their visibility timeout, as on AWS."""

    def __init__(
        self,
        function: LocalFunction,
        queue_url: str,
        queue_arn: str,
        batch_size: int,
        window: float,
        report_failures: bool,
        stop: threading.Event,
        name: str,
        redelivery_seconds: int | None = None,
    ):
        super().__init__(name=name, daemon=True)
        self.function = function
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.batch_size = batch_size
        self.window = window
        self.report_failures = report_failures
        self.stop = stop
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.invocations = 0
        # When set (TIME_SCALE > 1), failed records come back after this many seconds instead of the queue's
        # visibility timeout, which TIME_SCALE divides like every other wait.
        self.redelivery_seconds = redelivery_seconds

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                records = self._gather()
                if records:
                    self._invoke(records)
            except Exception:  # keep polling, like the managed poller does
                logger.exception("poller %s failed", self.name)
                self.stop.wait(1)

    def _gather(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        size = 0
        first_at: float | None = None
        while not self.stop.is_set():
            if first_at is None:
                wait = 1
            else:
                remaining = self.window - (time.monotonic() - first_at)
                if remaining <= 0:
                    break
                wait = min(1, int(remaining))  # whole seconds only: under 1 s left, poll and nap instead
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(records)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                if first_at is None:
                    return records
                if wait == 0:
                    self.stop.wait(min(0.1, remaining))
                continue
            records.extend(self._record(m) for m in messages)
            size += sum(len(m["Body"]) for m in messages)
            if first_at is None:
                first_at = time.monotonic()
            if len(records) >= self.batch_size or size >= _MAX_INVOKE_PAYLOAD:
                break
        return records

    def _record(self, message: Any) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "dataType": v.get("DataType")}
                for k, v in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": "us-east-1",
        }

    def _invoke(self, records: list[dict[str, Any]]) -> None:
        self.invocations += 1
        try:
            result = self.function.invoke({"Records": records}) or {}
        except Exception:
            logger.exception("%s failed; %d records return to the queue", self.function.logical_id, len(records))
            self._redeliver(records)
            return
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])} if self.report_failures else set()
        self._redeliver([r for r in records if r["messageId"] in failed])
        done = [r for r in records if r["messageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )

    def _redeliver(self, records: list[dict[str, Any]]) -> None:
        if self.redelivery_seconds is None or not records:
            return
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": self.redelivery_seconds}
                    for i, r in enumerate(chunk)
                ],
            )


_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


class Schedule(threading.Thread):
    """A `rate(...)` schedule, its period divided by TIME_SCALE."""

    def __init__(self, function: LocalFunction, period: float, stop: threading.Event, name: str):
        super().__init__(name=name, daemon=True)
        self.function = function
        self.period = period
        self.stop = stop

    def run(self) -> None:
        while not self.stop.wait(self.period):
            try:
                self.function.invoke({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
            except Exception:
                logger.exception("scheduled %s failed", self.function.logical_id)
