"""The AWS clients' settings (adapters/aws/clients.py): every client with the same timeouts and retries; only the
unchecked DynamoDB client skips botocore's parameter check, and only the members' index uses it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
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


ADAPTERS = Path(clients.__file__).parent
# clients.py's factories, by the name the recorder below gives what each creates
_FACTORIES = {"unchecked_dynamodb": "unchecked dynamodb", "s3_presigner": "s3 presigner"}


def _called_after_init(module: str) -> set[str]:
    """The clients a module's adapters call outside their constructors (read from its source): what their
    constructors must have created. `segment_members._dynamodb` is the members' index's (unchecked, CHECKS_REQUESTS)."""
    called: set[str] = set()

    def visit(node: ast.AST, in_constructor: bool) -> None:
        if isinstance(node, ast.FunctionDef):
            if node.name == "_dynamodb":  # the accessor itself
                return
            in_constructor = in_constructor or node.name == "__init__"
        if isinstance(node, ast.Call) and not in_constructor:
            function = node.func
            if (
                isinstance(function, ast.Attribute)
                and isinstance(function.value, ast.Name)
                and function.value.id == "clients"
                and function.attr != "create_now"
            ):
                argument = node.args[0] if node.args else None
                if function.attr == "client" and isinstance(argument, ast.Constant):
                    called.add(str(argument.value))
                else:
                    called.add(_FACTORIES.get(function.attr, function.attr))
            if isinstance(function, ast.Name) and function.id == "_dynamodb":
                called.add("unchecked dynamodb")
        for child in ast.iter_child_nodes(node):
            visit(child, in_constructor)

    visit(ast.parse((ADAPTERS / f"{module}.py").read_text()), False)
    return called


def _adapters() -> list[tuple[str, Any]]:
    """Every adapter that calls AWS, by its module, built as its composition builds it."""
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
    from audience_sync.adapters.aws.rate_bucket import DynamoRateBuckets
    from audience_sync.adapters.aws.request_counter import DynamoRequestCounter
    from audience_sync.adapters.aws.retry_store import S3RetryStore
    from audience_sync.adapters.aws.scheduler import EventBridgeWaitScheduler
    from audience_sync.adapters.aws.signature_table import DynamoSignatureRegistry
    from audience_sync.adapters.aws.sns import SnsNotifier
    from audience_sync.core.clock import SystemClock

    clock, counters = SystemClock(), CounterTables("metrics", "history")
    url = "https://sqs.us-east-1.amazonaws.com/1/q"
    return [
        ("campaign_state", lambda: DynamoCampaignState("t", counters, clock)),
        ("export_objects", S3ObjectStore),
        ("exports_table", lambda: DynamoExportJobs("t")),
        ("import_objects", S3ObjectSource),
        ("kms", lambda: KmsTokenCipher(lambda: "key")),
        ("ledger_table", lambda: DynamoLedger("t", counters, clock)),
        ("profile_queue", lambda: SqsProfileQueue(url)),
        ("profiles_table", lambda: DynamoProfileStore("t", clock)),
        ("queues", lambda: SqsPublisher(url)),
        ("queues", lambda: SqsQueueReader(url)),
        ("rate_bucket", lambda: DynamoRateBuckets("t", clock, 10)),
        ("request_counter", lambda: DynamoRequestCounter("t")),
        ("retry_store", lambda: S3RetryStore("b", lambda: "arn")),
        ("scheduler", lambda: EventBridgeWaitScheduler("g", "arn:q", "arn:r", "arn:d")),
        ("signature_table", lambda: DynamoSignatureRegistry("t")),
        ("sns", lambda: SnsNotifier("arn:topic")),
        ("segment_members", lambda: segment_members.DynamoMoveOrders("t", clock)),
        ("segment_members", lambda: segment_members.DynamoMemberIndex("t", "s", clock)),
    ]


def test_every_module_whose_adapters_call_a_client_after_init_is_checked() -> None:
    calling = {p.stem for p in ADAPTERS.glob("*.py") if p.stem != "clients" and _called_after_init(p.stem)}
    assert calling <= {module for module, _ in _adapters()}


@pytest.mark.parametrize("module", sorted({module for module, _ in _adapters()}))
def test_an_adapter_creates_the_clients_it_calls_when_it_is_built(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Decision 0026: a function builds its services at init, so the clients they call are created then, not at the
    first call of a first invocation. A table is created where it is built, and never in a call."""
    created: set[str] = set()

    class Recorder:
        """Stands in for one of clients.py's cached factories: records what is created."""

        def __init__(self, name: str | None) -> None:
            self.name = name

        def __call__(self, *args: Any) -> object:
            created.add(self.name or args[0])
            return object()

        def cache_clear(self) -> None:  # clients.reset() after the test
            pass

    monkeypatch.setattr(clients, "_client", Recorder(None))
    monkeypatch.setattr(clients, "_unchecked_client", Recorder("unchecked dynamodb"))
    monkeypatch.setattr(clients, "_presigner", Recorder("s3 presigner"))
    monkeypatch.setattr(clients, "_table", Recorder("table"))

    for _, build in (adapter for adapter in _adapters() if adapter[0] == module):
        build()

    called = _called_after_init(module)
    assert "table" not in called, module
    assert called <= created, module


def test_every_table_shares_one_client_and_it_is_not_the_low_level_one() -> None:
    # each boto3 resource makes a client of its own; the resource's turns Python values into DynamoDB's typed JSON
    first, second = clients.table("first"), clients.table("second")
    assert first.meta.client is second.meta.client
    assert first.meta.client is not clients.dynamodb()
