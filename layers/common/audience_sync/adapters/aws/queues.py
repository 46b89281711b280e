"""The sync queue (SQS): the ingest's publisher, and the batcher's reader for the top-up (pipeline/batcher.py), in
the shape of the event source mapping's records; it deletes what was settled (the mapping only deletes its own)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import translated
from audience_sync.core.errors import Unavailable
from audience_sync.pipeline.ports import PublishFailed

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import (
        DeleteMessageBatchRequestEntryTypeDef,
        MessageAttributeValueTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

logger = Logger(child=True)

_SEND_ATTEMPTS = 3
# SendMessageBatch takes 10 messages and 256 KiB in all.
_BATCH_MESSAGES = 10
_BATCH_BYTES = 250_000


class SqsPublisher:
    def __init__(self, queue_url: str, delay_seconds: int = 0):
        clients.create_now("sqs")  # at the container's init (decision 0026)
        self.queue_url = queue_url
        self.delay_seconds = delay_seconds  # SQS DelaySeconds of every message (0-900)

    def send(self, bodies: Sequence[str], correlation_id: str | None = None) -> None:
        """Send every body; raise PublishFailed if any is still refused after retries, or SQS fails."""
        pending = list(enumerate(bodies))
        attributes: dict[str, MessageAttributeValueTypeDef] = (
            {"correlation_id": {"DataType": "String", "StringValue": correlation_id}} if correlation_id else {}
        )
        for _ in range(_SEND_ATTEMPTS):
            if not pending:
                return
            failed: list[tuple[int, str]] = []
            for group in fits_one_call(pending):
                entries: list[SendMessageBatchRequestEntryTypeDef] = [
                    {"Id": str(i), "MessageBody": body, "MessageAttributes": attributes} for i, body in group
                ]
                if self.delay_seconds:
                    for entry in entries:
                        entry["DelaySeconds"] = self.delay_seconds
                try:
                    result = clients.sqs().send_message_batch(QueueUrl=self.queue_url, Entries=entries)
                except (ClientError, BotoCoreError) as exc:
                    raise PublishFailed(len(pending)) from exc
                failed_ids = {f["Id"] for f in result.get("Failed", [])}
                failed.extend((i, body) for i, body in group if str(i) in failed_ids)
            pending = failed
        if pending:
            raise PublishFailed(len(pending))


def fits_one_call(items: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """Groups of at most 10 messages and 256 KiB in total, the SendMessageBatch limits."""
    group: list[tuple[int, str]] = []
    size = 0
    for item in items:
        item_size = len(item[1].encode())
        if group and (len(group) == _BATCH_MESSAGES or size + item_size > _BATCH_BYTES):
            yield group
            group, size = [], 0
        group.append(item)
        size += item_size
    if group:
        yield group


class SqsQueueReader:
    def __init__(self, queue_url: str):
        clients.create_now("sqs")  # at the container's init (decision 0026)
        self.queue_url = queue_url

    @translated("sqs.receive")
    def receive(self, max_messages: int) -> list[dict[str, Any]]:
        """Up to 10 visible messages, at once (no long poll: an empty queue means there is no backlog)."""
        response = clients.sqs().receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            WaitTimeSeconds=0,
            AttributeNames=["ApproximateReceiveCount"],
        )
        return [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
            }
            for m in response.get("Messages", [])
        ]

    @translated("sqs.delete")
    def delete(self, records: Sequence[dict[str, Any]]) -> None:
        """Delete settled messages. A message left behind comes back after its visibility timeout, and the ledger
        then finds it settled, so a failure here costs a redelivery, never a double count."""
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)
            ]
            result = clients.sqs().delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if result.get("Failed"):
                logger.warning("some settled messages could not be deleted", extra={"count": len(result["Failed"])})


class SqsExportQueue:
    """Export jobs (exports/runner.py) on the export queue (SQS, standard): `{"export_id"}`."""

    def __init__(self, queue_url: str):
        self.publisher = SqsPublisher(queue_url)

    def enqueue(self, export_id: str) -> None:
        try:
            self.publisher.send([json.dumps({"export_id": export_id})])
        except PublishFailed:
            raise Unavailable("queue_unavailable", "the export could not be started; ask for it again") from None


class SqsImportQueue:
    """Import runs (imports/runner.py) on the import queue (SQS, standard): `{"import_id", "run_id"}`."""

    def __init__(self, queue_url: str):
        self.publisher = SqsPublisher(queue_url)

    def enqueue(self, import_id: str, run_id: str) -> None:
        try:
            self.publisher.send([json.dumps({"import_id": import_id, "run_id": run_id})])
        except PublishFailed:
            raise Unavailable("queue_unavailable", "the run could not be started; ask for it again") from None
