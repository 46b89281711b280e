"""The AWS clients' settings (adapters/aws/clients.py): every client with the same timeouts and retries; only the
unchecked DynamoDB client skips botocore's parameter check, and only the members' index uses it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ParamValidationError

from audience_sync.adapters.aws import clients, segment_members


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clients.reset()
    yield
    clients.reset()


class _Raw:
    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield b"{}"


def sent_requests(client: Any) -> list[Any]:
    """Answer every request of `client` with an empty 200 before it leaves; the requests that got that far."""
    sent: list[Any] = []

    def answer(request: Any, **kwargs: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, HTTPHeaders(), _Raw())

    client.meta.events.register("before-send.dynamodb.*", answer)
    return sent


def test_only_the_unchecked_client_sends_a_request_botocore_would_refuse() -> None:
    """A Limit of -1 is below DynamoDB's minimum of 1: botocore refuses it before sending; the unchecked client
    sends it, and DynamoDB refuses it itself (a ValidationException, nothing read or written)."""
    checked, unchecked = clients.dynamodb(), clients.unchecked_dynamodb()
    checked_sent, unchecked_sent = sent_requests(checked), sent_requests(unchecked)
    with pytest.raises(ParamValidationError):
        checked.scan(TableName="t", Limit=-1)
    unchecked.scan(TableName="t", Limit=-1)
    assert (len(checked_sent), len(unchecked_sent)) == (0, 1)


def test_the_unchecked_client_keeps_the_timeouts_and_retries() -> None:
    checked, unchecked = clients.dynamodb().meta.config, clients.unchecked_dynamodb().meta.config
    for setting in ("connect_timeout", "read_timeout", "retries", "max_pool_connections"):
        assert getattr(unchecked, setting) == getattr(checked, setting), setting


def test_the_members_index_sends_through_the_unchecked_client(monkeypatch: pytest.MonkeyPatch) -> None:
    assert segment_members._dynamodb() is clients.unchecked_dynamodb()
    monkeypatch.setattr(segment_members, "CHECKS_REQUESTS", True)  # what bench/sdk_cpu.py then counts
    assert segment_members._dynamodb() is clients.dynamodb()
