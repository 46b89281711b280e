"""Helpers of the exactly-once retry tests, on top of the batcher tests' Harness.

Crashes are injected into warm "containers" (the in-process module instances LocalFunction reuses), so
the real handler runs and only the chosen collaborator misbehaves, a chosen number of times.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from queue import Empty
from types import ModuleType
from typing import Any

import boto3

from audience_sync.core.errors import StoreUnavailable
from tests.integration.batcher.batcher_support import Harness, email_member, email_user, sha256_email

__all__ = ["Crash", "Notifications", "RetryHarness", "email_member", "email_user"]


def aws_error(operation: str, code: str = "InternalServerError") -> StoreUnavailable:
    """What an adapter raises when AWS fails a call after boto3's own retries (adapters/aws/errors.py)."""
    return StoreUnavailable(operation, code)


class InjectedCrash(Exception):
    """Stands for the process dying (Lambda timeout, OOM, kill): nothing in the code under test catches it."""


class Crash:
    """Makes a collaborator's method raise `error` on its first `times` matching calls, before (or after) the
    real call. Install it on one object or on every warm container; `fired` counts the injected failures."""

    def __init__(
        self,
        error: Callable[[], BaseException],
        times: int = 1,
        after_real_call: bool = False,
        when: Callable[..., bool] | None = None,
    ) -> None:
        self.error = error
        self.times = times
        self.after_real_call = after_real_call
        self.when = when
        self.fired = 0
        self.calls = 0
        self._lock = threading.Lock()

    def install(self, owner: Any, method: str) -> None:
        real = getattr(owner, method)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls += 1
                fire = self.fired < self.times and (self.when is None or self.when(*args, **kwargs))
                if fire:
                    self.fired += 1
            if not fire:
                return real(*args, **kwargs)
            if self.after_real_call:
                real(*args, **kwargs)
            raise self.error()

        setattr(owner, method, wrapper)


class Notifications:
    """An SQS queue subscribed to IntegrationErrorsTopic: what an e-mail subscriber would receive."""

    def __init__(self, topic_arn: str) -> None:
        self.sqs = boto3.client("sqs")
        self.queue_url = self.sqs.create_queue(QueueName="integration-errors-probe")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        self.received: list[dict[str, Any]] = []  # SNS envelopes, oldest first

    def read(self) -> list[dict[str, Any]]:
        """Every notification so far: SNS envelopes ({"Subject", "Message", ...}), the body parsed as `body`."""
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return self.received
            for message in messages:
                envelope = json.loads(message["Body"])
                envelope["body"] = json.loads(envelope["Message"])
                self.received.append(envelope)
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def codes(self) -> list[str]:
        return [n["body"]["error"] for n in self.read()]


class RetryHarness(Harness):
    # ---- warm containers ---------------------------------------------------------------------
    def containers(self, function: str) -> list[ModuleType]:
        """The function's idle containers (one is started if none is warm); later invocations reuse them."""
        local = self.stack.stack.functions[function]
        modules: list[ModuleType] = []
        while True:
            try:
                modules.append(local._idle.get_nowait())
            except Empty:
                break
        if not modules:
            modules.append(local._load())
        for module in modules:
            local._idle.put(module)
        return modules

    def crash_batcher(self, crash: Crash, collaborator: str, method: str) -> Crash:
        """Install `crash` on `Batcher.<collaborator>.<method>` in every warm batcher container."""
        for module in self.containers("BatcherFunction"):
            crash.install(getattr(module.services().batcher, collaborator), method)
        return crash

    def crash_retry_function(self, crash: Crash, collaborator: str, method: str) -> Crash:
        """Install `crash` on `RetryAttempt.<collaborator>.<method>` in every warm retry container."""
        for module in self.containers("RetryFunction"):
            crash.install(getattr(self.retry_attempt(module), collaborator), method)
        return crash

    def retry_attempt(self, module: ModuleType) -> Any:
        """A retry container's RetryAttempt (built at the container's init)."""
        return module.services().retry_attempt

    # ---- SQS -------------------------------------------------------------------------------
    def redeliver(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Make in-flight messages visible again (their visibility timeout ended) and receive them."""
        for record in records:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
            )
        return self.drain()

    def queue_empty(self) -> bool:
        return sum(self.queue_counts().values()) == 0

    # ---- Step Functions ----------------------------------------------------------------------
    @staticmethod
    def requested_waits() -> list[tuple[str, float]]:
        """Every wait the ASL asked for, unscaled: ("wait", s) for Wait states, ("retry", s) for task retries."""
        from localmode import stepfunctions

        return list(stepfunctions.requested_waits)

    def execution_output(self, execution: dict[str, Any]) -> Any:
        described = boto3.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
        return json.loads(described["output"]) if described.get("output") else None

    def history_types(self, execution: dict[str, Any]) -> list[str]:
        sfn = boto3.client("stepfunctions")
        events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        return [e["type"] for e in events]

    def attempt_chain(self, first_batch_id: str) -> list[str]:
        """The ledger ids of an execution's attempts, in order: attempt n's entry names the batch of n + 1."""
        entries = {i["id"]: i["retry_keys"] for i in self.ledger_items("retry:")}
        chain: list[str] = []
        batch_id, attempt = first_batch_id, 1
        while f"retry:{batch_id}:{attempt}" in entries:
            chain.append(f"retry:{batch_id}:{attempt}")
            following = entries[chain[-1]]
            if not following:
                break
            (key,) = following
            batch_id, attempt = key.split("/")[-2], attempt + 1
        return chain

    def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.01)

    # ---- the invariant ---------------------------------------------------------------------
    def assert_counted_once(self, step_id: str, entered: int, synced: int, errored: int = 0) -> dict[str, int]:
        """Each user counted in exactly one outcome, nothing pending, nothing in flight."""
        metrics = self.metrics(step_id)
        assert metrics["entered"] == entered, metrics
        assert metrics["entered"] == metrics["synced"] + metrics["not_synced"] + metrics["errored"], metrics
        assert metrics["pending"] == 0, metrics
        assert (metrics["synced"], metrics["errored"]) == (synced, errored), metrics
        assert self.executions("RUNNING") == []
        assert self.queue_empty(), self.queue_counts()
        return metrics

    def errored_reasons(self, step_id: str) -> dict[str, int]:
        prefix = "errored_reason_"
        return {k[len(prefix) :]: int(v) for k, v in self.metrics_item(step_id).items() if k.startswith(prefix)}


def sorted_members(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(members, key=repr)


def expected_members(numbers: range | list[int]) -> list[dict[str, Any]]:
    return sorted_members([email_member(n) for n in numbers])


def user_data(numbers: range | list[int]) -> list[str]:
    """Strings that identify a user (what a notification must never carry)."""
    out: list[str] = []
    for n in numbers:
        user = email_user(n)
        out += [user["email"], sha256_email(user["email"]), json.dumps(user["external_id"])]
    return out
