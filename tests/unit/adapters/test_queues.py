"""adapters/aws/queues.py: the ingest's publisher sends every body, resends the refused ones, and reports what it
could not queue as PublishFailed (503 queue_unavailable at the edge)."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.queues import SqsPublisher
from audience_sync.pipeline.ports import PublishFailed


# ---- SqsPublisher with a hand-written SQS client ---------------------------------------------------
class FakeSqs:
    """Refuses the entries whose body contains a marker, `refusals` times each."""

    def __init__(self, refuse: str | None = None, refusals: int = 0):
        self.refuse = refuse
        self.refusals = refusals
        self.calls: list[dict[str, Any]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append({"QueueUrl": QueueUrl, "Entries": Entries})
        failed = []
        if self.refuse and self.refusals:
            failed = [{"Id": e["Id"], "Code": "InternalError"} for e in Entries if self.refuse in e["MessageBody"]]
            if failed:
                self.refusals -= 1
        return {"Failed": failed, "Successful": []}


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> FakeSqs:
    fake = FakeSqs()

    def client(service: str) -> FakeSqs:
        assert service == "sqs"
        return fake

    monkeypatch.setattr(clients, "client", client)
    return fake


def test_send_has_no_delay_and_sends_every_body_with_the_correlation_id(sqs: FakeSqs) -> None:
    assert "delay_seconds" not in inspect.signature(SqsPublisher.send).parameters
    bodies = [json.dumps({"n": i}) for i in range(23)]
    SqsPublisher("https://sqs.test/q").send(bodies, correlation_id="corr-1")
    assert [len(c["Entries"]) for c in sqs.calls] == [10, 10, 3]  # SendMessageBatch takes 10 entries
    sent = [e for c in sqs.calls for e in c["Entries"]]
    assert [e["MessageBody"] for e in sent] == bodies
    assert all("DelaySeconds" not in e for e in sent)
    assert all(e["MessageAttributes"]["correlation_id"]["StringValue"] == "corr-1" for e in sent)
    assert {c["QueueUrl"] for c in sqs.calls} == {"https://sqs.test/q"}


def test_send_resends_only_the_refused_bodies(sqs: FakeSqs) -> None:
    sqs.refuse, sqs.refusals = "refuse-me", 2
    SqsPublisher("q").send(["a", "refuse-me", "b"])
    assert [[e["MessageBody"] for e in c["Entries"]] for c in sqs.calls] == [
        ["a", "refuse-me", "b"],
        ["refuse-me"],
        ["refuse-me"],
    ]
    assert all(c["Entries"][0]["MessageAttributes"] == {} for c in sqs.calls)


def test_send_gives_up_after_three_refusals(sqs: FakeSqs) -> None:
    sqs.refuse, sqs.refusals = "refuse-me", 3
    with pytest.raises(PublishFailed) as failed:
        SqsPublisher("q").send(["a", "refuse-me"])
    assert (failed.value.refused, failed.value.code) == (1, "queue_unavailable")
    assert len(sqs.calls) == 3


def test_an_sqs_failure_is_a_publish_failure(sqs: FakeSqs, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        raise EndpointConnectionError(endpoint_url=QueueUrl)

    monkeypatch.setattr(sqs, "send_message_batch", broken)
    with pytest.raises(PublishFailed) as failed:
        SqsPublisher("https://sqs.test/q").send(["a", "b"])
    assert failed.value.refused == 2  # nothing is known to be queued: the client sends the webhook again
