"""Runs the operator CLI in-process against the moto stack, as an operator would against a deployed one: the stack
is found through CloudFormation outputs (published the way local mode publishes them)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import boto3

from audience_sync_cli.main import main

STACK_NAME = "audience-sync"  # samconfig.toml's default, which the CLI reads when no --stack-name is given


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self.runs: list[Run] = []

    def __call__(self, *argv: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), stdout=out, stderr=err, now=lambda: self.now, sleep=self.sleeps.append)
        run = Run(code, out.getvalue(), err.getvalue())
        self.runs.append(run)
        return run

    def ok(self, *argv: str) -> Run:
        run = self(*argv)
        assert run.code == 0, (run.code, run.out, run.err)
        assert run.err == ""
        return run

    def printed(self) -> str:
        """Everything any command printed in this test."""
        return "\n".join(r.out + r.err for r in self.runs)


def rows(text: str, header: str) -> list[list[str]]:
    """The rows of the table whose header line starts with `header`, split on runs of spaces."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    out: list[list[str]] = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        out.append(line.split())
    return out


# ---- the queues --------------------------------------------------------------------------------------------
def receive_all(queue_url: str) -> list[dict[str, Any]]:
    """Every visible message (left in flight: change their visibility to bring them back)."""
    sqs = boto3.client("sqs")
    messages: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        if not got:
            return messages
        messages += got


def bodies(queue_url: str) -> list[str]:
    """The bodies of every visible message; they stay on the queue (visible again afterwards)."""
    sqs = boto3.client("sqs")
    messages = receive_all(queue_url)
    for m in messages:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    return sorted(m["Body"] for m in messages)


def dead_letter(sync_queue_url: str, dlq_url: str) -> list[str]:
    """Move every message of SyncQueue to the DLQ, as SQS does after maxReceiveCount; returns their bodies."""
    sqs = boto3.client("sqs")
    moved = []
    for m in receive_all(sync_queue_url):
        sqs.send_message(QueueUrl=dlq_url, MessageBody=m["Body"])
        sqs.delete_message(QueueUrl=sync_queue_url, ReceiptHandle=m["ReceiptHandle"])
        moved.append(m["Body"])
    return sorted(moved)
