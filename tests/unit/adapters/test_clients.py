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


def _adapters() -> list[tuple[str, Any, set[str]]]:
    """Every adapter that calls AWS through a low-level client, built as its composition builds it, and the clients
    its constructor must create."""
    from audience_sync.adapters.aws.campaign_state import DynamoCampaignState
    from audience_sync.adapters.aws.export_objects import S3ObjectStore
    from audience_sync.adapters.aws.exports_table import DynamoExportJobs
    from audience_sync.adapters.aws.import_objects import S3ObjectSource
    from audience_sync.adapters.aws.kms import KmsTokenCipher
    from audience_sync.adapters.aws.ledger_table import DynamoLedger
    from audience_sync.adapters.aws.metrics_table import CounterTables
    from audience_sync.adapters.aws.profile_queue import SqsProfileQueue
    from audience_sync.adapters.aws.profiles_table import DynamoProfileStore
    from audience_sync.adapters.aws.queues import SqsPublisher, SqsQueueReader
    from audience_sync.adapters.aws.request_counter import DynamoRequestCounter
    from audience_sync.adapters.aws.retry_store import S3RetryStore
    from audience_sync.adapters.aws.scheduler import EventBridgeWaitScheduler
    from audience_sync.adapters.aws.sns import SnsNotifier
    from audience_sync.core.clock import SystemClock

    clock, counters = SystemClock(), CounterTables("metrics", "history")
    url = "https://sqs.us-east-1.amazonaws.com/1/q"
    return [
        ("campaign state", lambda: DynamoCampaignState("t", counters, clock), {"dynamodb"}),
        ("export objects", S3ObjectStore, {"s3", "s3 presigner"}),
        ("export jobs", lambda: DynamoExportJobs("t"), {"dynamodb"}),
        ("import objects", S3ObjectSource, {"s3"}),
        ("token cipher", lambda: KmsTokenCipher(lambda: "key"), {"kms"}),
        ("ledger", lambda: DynamoLedger("t", counters, clock), {"dynamodb"}),
        ("profile queue", lambda: SqsProfileQueue(url), {"sqs"}),
        ("profiles", lambda: DynamoProfileStore("t", clock), {"dynamodb"}),
        ("publisher", lambda: SqsPublisher(url), {"sqs"}),
        ("queue reader", lambda: SqsQueueReader(url), {"sqs"}),
        ("request counter", lambda: DynamoRequestCounter("t"), {"dynamodb"}),
        ("retry store", lambda: S3RetryStore("b", lambda: "arn"), {"s3", "stepfunctions"}),
        ("wait scheduler", lambda: EventBridgeWaitScheduler("g", "arn:q", "arn:r", "arn:d"), {"scheduler"}),
        ("notifier", lambda: SnsNotifier("arn:topic"), {"sns"}),
        ("move orders", lambda: segment_members.DynamoMoveOrders("t", clock), {"unchecked dynamodb"}),
        ("member index", lambda: segment_members.DynamoMemberIndex("t", "s", clock), {"unchecked dynamodb"}),
    ]


@pytest.mark.parametrize(("adapter", "build", "expected"), _adapters(), ids=[a[0] for a in _adapters()])
def test_an_adapter_creates_its_clients_when_it_is_built(
    monkeypatch: pytest.MonkeyPatch, adapter: str, build: Any, expected: set[str]
) -> None:
    """Decision 0026: a function builds its services at init, so the clients they call are created then, not at the
    first call of a first invocation."""
    created: set[str] = set()

    class Recorder:
        """Stands in for one of clients.py's cached factories: records what is created."""

        def __init__(self, name: str | None) -> None:
            self.name = name

        def __call__(self, *args: Any) -> object:
            if self.name != "table":  # a table's resource is created where it is built, as it always was
                created.add(self.name or args[0])
            return object()

        def cache_clear(self) -> None:  # clients.reset() after the test
            pass

    monkeypatch.setattr(clients, "_client", Recorder(None))
    monkeypatch.setattr(clients, "_unchecked_client", Recorder("unchecked dynamodb"))
    monkeypatch.setattr(clients, "_presigner", Recorder("s3 presigner"))
    monkeypatch.setattr(clients, "_table", Recorder("table"))

    build()

    assert created == expected, adapter
