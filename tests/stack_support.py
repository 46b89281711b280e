"""The provisioned stack the integration tests drive: template.yaml in moto (in-process), LinkedIn = a sandbox."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# The stack's retry waits: 30 s -> 3 ms, 1 h -> 0.36 s, the 13 h horizon -> 4.7 s.
STACK_TIME_SCALE = 10_000.0


@dataclass
class StackFixture:
    stack: Any  # localmode.provision.Stack
    sandbox: Any  # tests/conftest.py's SandboxServer
    api_key: str

    def client(self) -> Any:
        """A werkzeug test client on the emulated API Gateway (routes, API key, gateway responses)."""
        from werkzeug.test import Client

        return Client(self.stack.gateway(self.api_key))

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        return self.stack.functions[function].invoke(event)


PARTNER_API_KEY = "test-partner-key"  # the stack fixture's partner API key (the cohort import)


@contextmanager
def provisioned_stack(sandbox_server: Any, overrides: dict[str, str] | None = None) -> Iterator[StackFixture]:
    """template.yaml provisioned in moto, the functions' environment exported, LinkedIn = the sandbox.
    `overrides` sets more template parameters (e.g. a short RetryHorizonSeconds). Restores the environment."""
    from moto import mock_aws

    from localmode.provision import MOTO_CONFIG, provision

    saved = dict(os.environ)
    with mock_aws(config=MOTO_CONFIG):
        provisioned = provision(
            overrides={
                "LinkedInApiUrl": f"{sandbox_server.url}/rest",
                "LinkedInOAuthUrl": f"{sandbox_server.url}/oauth/v2",
                "LinkedInClientId": "sandbox-client-id",
                "LinkedInClientSecret": "sandbox-client-secret",
                "OAuthRedirectUri": "http://127.0.0.1:3000/v1/connections/linkedin/callback",
                "FlushSeconds": "1",
                "PartnerApiKey": PARTNER_API_KEY,
                **(overrides or {}),
            },
            extra_env={
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "WEBHOOK_ALLOW_LOOPBACK": "true",  # campaigns send to the tests' receivers, on 127.0.0.1
                "CAMPAIGN_CACHE_SECONDS": "0",  # a campaign a test publishes listens at once
                # the tests drain the queues themselves, writes first: no writer holds an older filter
                "SEGMENT_CACHE_SECONDS": "0",
                "SWEEP_DELAY_SECONDS": "0",
            },
            time_scale=STACK_TIME_SCALE,
        )
        try:
            yield StackFixture(provisioned, sandbox_server, api_key="test-key")
        finally:
            provisioned.stop()
            os.environ.clear()
            os.environ.update(saved)


# ---- the sync queue, drained into the real batcher as the event source mapping would -------------------
def sqs_record(queue_url: str, body: str, message_id: str, receipt_handle: str = "handle", receives: int = 1) -> Any:
    """A Lambda SQS event record for a message of `queue_url`."""
    return {
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receives), "SentTimestamp": str(time.time_ns() // 1_000_000)},
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue_url.rsplit('/', 1)[-1]}",
        "awsRegion": "us-east-1",
    }


def drain_queue(stack: StackFixture) -> list[dict[str, Any]]:
    """Every visible message on SyncQueue as Lambda SQS records (they stay in flight until settled)."""
    import boto3

    sqs = boto3.client("sqs")
    queue_url = stack.stack.ref("SyncQueue")
    records: list[dict[str, Any]] = []
    while True:
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not received:
            return records
        records += [
            sqs_record(
                queue_url,
                m["Body"],
                m["MessageId"],
                m["ReceiptHandle"],
                int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            )
            for m in received
        ]


def invoke_batcher(stack: StackFixture, records: list[dict[str, Any]]) -> list[str]:
    """Run the real batcher; like the event source mapping, delete what it did not report failed."""
    import boto3

    sqs = boto3.client("sqs")
    result = stack.invoke("BatcherFunction", {"Records": records})
    failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    for r in records:
        if r["messageId"] not in failed and r["receiptHandle"] != "handle":
            sqs.delete_message(QueueUrl=stack.stack.ref("SyncQueue"), ReceiptHandle=r["receiptHandle"])
    return failed


def age_audience(stack: StackFixture, step_id: str, by_ms: int = 60_000) -> None:
    """A new segment makes the batcher wait 5 s for LinkedIn's propagation (the test sandbox has none): date the
    creation back so tests do not sleep. Call it before users are queued (messages copy the time)."""
    import boto3

    table = boto3.resource("dynamodb").Table(stack.stack.ref("StepsTable"))
    item = table.get_item(Key={"step_id": step_id})["Item"]
    if item.get("audience_created_at") is not None:
        table.update_item(
            Key={"step_id": step_id},
            UpdateExpression="SET audience_created_at = :c",
            ExpressionAttributeValues={":c": int(item["audience_created_at"]) - by_ms},
        )


def retry_executions(stack: StackFixture, status: str | None = None) -> list[dict[str, Any]]:
    import boto3

    kwargs: dict[str, Any] = {"stateMachineArn": stack.stack.ref("RetryStateMachine")}
    if status:
        kwargs["statusFilter"] = status
    executions: list[dict[str, Any]] = boto3.client("stepfunctions").list_executions(**kwargs)["executions"]
    return executions


def settle_retries(stack: StackFixture, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Wait until every retry execution has finished (the stack's TIME_SCALE makes 13 h take ~5 s)."""
    deadline = time.monotonic() + timeout
    while retry_executions(stack, "RUNNING"):
        assert time.monotonic() < deadline, "retry executions still running"
        time.sleep(0.02)
    return retry_executions(stack)
