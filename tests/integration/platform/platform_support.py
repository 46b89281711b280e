"""Drives the Braze-compatible API through the emulated API Gateway, and the profile queue into the real writer as
Lambda's event source mapping would (FIFO: a message group's messages in order, one batch at a time)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from tests.integration.api.api_helpers import Reply
from tests.stack_support import StackFixture, sqs_record


@dataclass
class Platform:
    stack: StackFixture

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        response = self.stack.client().open(path, method=method, data=data, headers=headers or {})
        return Reply(response.status_code, response.get_data(as_text=True), response.headers)

    def new_key(self, *permissions: str, **extra: Any) -> str:
        body = {"name": "test", "permissions": list(permissions), **extra}
        reply = self.request("POST", "/v1/rest-api-keys", body, {"x-api-key": self.stack.api_key})
        assert reply.status == 201, reply.text
        return str(reply.json["key"])

    def braze(self, path: str, body: Any, key: str) -> Reply:
        return self.request("POST", path, body, {"Authorization": f"Bearer {key}"})

    def queued(self) -> list[dict[str, Any]]:
        """Every visible profile-queue message as SQS records (they stay in flight until written)."""
        sqs = boto3.client("sqs")
        url = self.stack.stack.ref("ProfileQueue")
        records: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
            if not got:
                return records
            for message in got:
                record = sqs_record(url, message["Body"], message["MessageId"], message["ReceiptHandle"])
                record["attributes"]["MessageGroupId"] = message["Attributes"]["MessageGroupId"]
                records.append(record)

    def write(self, records: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Run the real profile writer on the queued writes, then delete them as the event source mapping does."""
        records = self.queued() if records is None else records
        for start in range(0, len(records), 10):
            self.stack.invoke("ProfileWriterFunction", {"Records": records[start : start + 10]})
        sqs = boto3.client("sqs")
        for record in records:
            sqs.delete_message(QueueUrl=self.stack.stack.ref("ProfileQueue"), ReceiptHandle=record["receiptHandle"])
        return records

    def drain(self, queue: str, function: str) -> int:
        """Run `function` on every message of a standard `queue` until it stays empty, as its event source mapping
        would (records that failed stay, and fail the test); the number of messages handled."""
        sqs = boto3.client("sqs")
        url = self.stack.stack.ref(queue)
        handled = 0
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
            if not got:
                return handled
            records = [sqs_record(url, m["Body"], m["MessageId"], m["ReceiptHandle"]) for m in got]
            answer = self.stack.invoke(function, {"Records": records}) or {}
            assert not answer.get("batchItemFailures"), answer
            for record in records:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
            handled += len(records)

    def settle(self) -> None:
        """Everything queued applied: profile writes, sweeps (which queue writes), memberships."""
        while self.write() or self.drain("SweepQueue", "SegmentSweepFunction"):
            pass
        self.drain("MembershipQueue", "MembershipFunction")

    def export(self, key: str, *external_ids: str) -> dict[str, Any]:
        reply = self.braze("/users/export/ids", {"external_ids": list(external_ids)}, key)
        assert reply.status == 201, reply.text
        body: dict[str, Any] = reply.json
        return body
