"""Reads more of the sync queue from inside a batcher invocation (the top-up, batcher.py), in the shape of the
event source mapping's records, and deletes what was settled: the mapping only deletes its own records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from audience_sync.adapters.aws import clients as aws

logger = Logger(child=True)


class QueueReader(Protocol):
    def receive(self, max_messages: int) -> list[dict[str, Any]]: ...

    def delete(self, records: Sequence[dict[str, Any]]) -> None: ...


class SqsQueueReader:
    def __init__(self, queue_url: str):
        self.queue_url = queue_url

    def receive(self, max_messages: int) -> list[dict[str, Any]]:
        """Up to 10 visible messages, at once (no long poll: an empty queue means there is no backlog)."""
        response = aws.client("sqs").receive_message(
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

    def delete(self, records: Sequence[dict[str, Any]]) -> None:
        """Delete settled messages. A message left behind comes back after its visibility timeout, and the ledger
        then finds it settled, so a failure here costs a redelivery, never a double count."""
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)]
            result = aws.client("sqs").delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if result.get("Failed"):
                logger.warning("some settled messages could not be deleted", extra={"count": len(result["Failed"])})
