"""adapters/aws/ledger_table.py and retry_store.py against hand-written boto3 clients: the contracts the batcher and
the retry function rely on (all-or-nothing record into buckets, duplicates reported not raised, idempotent
execution start)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.ledger_table import CONFLICT_ATTEMPTS
from audience_sync.adapters.aws.ledger_table import DynamoLedger as Ledger
from audience_sync.adapters.aws.metrics_table import CounterTables
from audience_sync.adapters.aws.retry_store import S3RetryStore as RetryStore
from audience_sync.core.errors import StoreUnavailable
from audience_sync.core.history import HISTORY_TTL_SECONDS
from audience_sync.core.metrics import StepDelta
from audience_sync.pipeline.ledger import (
    LEDGER_TTL_SECONDS,
    MAX_ENTRIES_PER_TRANSACTION,
    LedgerEntry,
    LedgerKey,
    digest,
)
from audience_sync.pipeline.retry_batch import RetryBatch
from tests.fakes.sync_fakes import AUD_A, T0, FakeClock, users

BATCH_ID = "0123456789abcdef" * 2


def aws_error(code: str = "ProvisionedThroughputExceededException", operation: str = "Op") -> ClientError:
    """What boto3 raises; the adapters turn it into StoreUnavailable."""
    return ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)


class FakeAws:
    """One object standing in for the dynamodb, s3 and stepfunctions clients; `fail` may raise per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: Callable[[str, dict[str, Any]], Exception | None] = lambda op, kwargs: None
        self.items: dict[str, dict[str, Any]] = {}  # ledger id -> item (wire format)
        self.objects: dict[str, bytes] = {}
        self.unprocessed_once: list[str] = []

    def _call(self, op: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((op, kwargs))
        error = self.fail(op, kwargs)
        if error is not None:
            raise error

    def ops(self, op: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == op]

    # dynamodb
    def transact_write_items(self, TransactItems: list[dict[str, Any]], ClientRequestToken: str) -> dict[str, Any]:
        self._call("transact_write_items", {"TransactItems": TransactItems, "ClientRequestToken": ClientRequestToken})
        return {}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self._call("batch_get_item", {"RequestItems": RequestItems})
        ((table, request),) = RequestItems.items()
        ids = [k["id"]["S"] for k in request["Keys"]]
        later = [i for i in ids if i in self.unprocessed_once]
        self.unprocessed_once = [i for i in self.unprocessed_once if i not in later]
        found = [self.items[i] for i in ids if i in self.items and i not in later]
        unprocessed = {table: {**request, "Keys": [{"id": {"S": i}} for i in later]}} if later else {}
        return {"Responses": {table: found}, "UnprocessedKeys": unprocessed}

    # s3
    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self._call("put_object", kwargs)
        self.objects[kwargs["Key"]] = kwargs["Body"]
        return {}

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self._call("get_object", kwargs)
        if kwargs["Key"] not in self.objects:
            raise aws_error("NoSuchKey", "GetObject")  # what S3 answers a role that may list the bucket
        return {"Body": io.BytesIO(self.objects[kwargs["Key"]])}

    def delete_object(self, **kwargs: Any) -> dict[str, Any]:
        self._call("delete_object", kwargs)
        self.objects.pop(kwargs["Key"], None)
        return {}

    # stepfunctions
    def start_execution(self, **kwargs: Any) -> dict[str, Any]:
        self._call("start_execution", kwargs)
        return {"executionArn": f"arn:execution:{kwargs['name']}"}


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> FakeAws:
    fake = FakeAws()

    def client(service: str) -> FakeAws:
        assert service in ("dynamodb", "s3", "stepfunctions")
        return fake

    monkeypatch.setattr(clients, "client", client)
    return fake


def entry(ledger_id: str, bucket: str = "b1", keys: list[str] | None = None, **counts: int) -> LedgerEntry:
    delta = StepDelta()
    for name, n in counts.items():
        delta.add(name, n)
    return LedgerEntry(ledger_id, bucket, delta, keys or [])


def canceled(*codes: str | None) -> ClientError:
    error = ClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "canceled"}}, "TransactWriteItems"
    )
    error.response["CancellationReasons"] = [{"Code": c} if c else {"Code": "None"} for c in codes]
    return error


def bucket_item(bucket: str, ids: list[str], keys: list[str] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": {"S": bucket}, "ids": {"SS": [digest(i) for i in ids]}}
    if keys:
        item["retry_keys"] = {"SS": keys}
    return item


TABLES = CounterTables(metrics="metrics", history="history")
LEDGER = Ledger("ledger", TABLES, FakeClock())


# ---- Ledger.record ---------------------------------------------------------------------------------
def test_record_adds_each_buckets_ids_and_the_summed_counters_in_one_transaction(fake_aws: FakeAws) -> None:
    e1 = entry("msg:a", "time#c#1", ["retry/s/k/1.json"], synced=2)
    e2 = entry("msg:b", "time#c#1", synced=1)
    e3 = entry("msg:c", "chunk#c", ["retry/s/k/1.json", "retry/s/j/1.json"], entered=1)
    assert LEDGER.record("step-1", [e1, e2, e3]) == set()
    (call,) = fake_aws.ops("transact_write_items")
    updates = [i["Update"] for i in call["TransactItems"]]
    shared, own, counters, minute = updates
    assert shared["TableName"] == own["TableName"] == "ledger"
    assert shared["Key"] == {"id": {"S": "time#c#1"}}
    assert shared["ExpressionAttributeValues"][":ids"] == {"SS": [digest("msg:a"), digest("msg:b")]}
    # neither id may be in the bucket already: the condition names each one
    assert shared["ConditionExpression"] == "NOT contains(#ids, :d0) AND NOT contains(#ids, :d1)"
    assert shared["ExpressionAttributeValues"][":d1"] == {"S": digest("msg:b")}
    assert shared["ExpressionAttributeValues"][":rk"] == {"SS": ["retry/s/k/1.json"]}
    assert shared["ExpressionAttributeValues"][":x"] == {"N": str(T0 // 1000 + LEDGER_TTL_SECONDS)}
    assert own["Key"] == {"id": {"S": "chunk#c"}}
    assert own["ExpressionAttributeValues"][":rk"] == {"SS": ["retry/s/j/1.json", "retry/s/k/1.json"]}
    assert counters["TableName"] == "metrics"
    assert counters["Key"] == {"step_id": {"S": "step-1"}}
    assert sorted(v["N"] for k, v in counters["ExpressionAttributeValues"].items() if k != ":now") == ["1", "3"]
    # the same increments, to the minute the transaction was written in, kept HISTORY_TTL_SECONDS
    assert minute["TableName"] == "history"
    assert minute["Key"] == {"series": {"S": "step-1"}, "minute": {"N": str(T0 // 60_000)}}
    assert minute["UpdateExpression"] == counters["UpdateExpression"].replace("updated_at = :now", "expires_at = :x")
    assert minute["ExpressionAttributeNames"] == counters["ExpressionAttributeNames"]
    increments = {k: v for k, v in minute["ExpressionAttributeValues"].items() if k != ":x"}
    assert increments == {k: v for k, v in counters["ExpressionAttributeValues"].items() if k != ":now"}
    assert minute["ExpressionAttributeValues"][":x"] == {"N": str(T0 // 60_000 * 60 + HISTORY_TTL_SECONDS)}


def test_ids_are_stored_as_short_digests() -> None:
    assert digest("msg:0123456789abcdef0123456789abcdef.0") == digest("msg:0123456789abcdef0123456789abcdef.0")
    assert len(digest("msg:x")) == 16
    assert digest("msg:x") != digest("msg:y")


def test_record_without_counts_or_retry_keys_writes_only_the_ids(fake_aws: FakeAws) -> None:
    LEDGER.record("step-1", [entry("msg:a")])
    (call,) = fake_aws.ops("transact_write_items")
    (item,) = call["TransactItems"]
    assert item["Update"]["UpdateExpression"] == "ADD #ids :ids SET #x = :x"
    assert ":rk" not in item["Update"]["ExpressionAttributeValues"]  # an empty set is not a DynamoDB value


def test_record_of_nothing_writes_nothing(fake_aws: FakeAws) -> None:
    assert LEDGER.record("step-1", []) == set()
    assert fake_aws.calls == []


def test_record_refuses_more_entries_than_a_transaction_holds_or_an_id_twice(fake_aws: FakeAws) -> None:
    with pytest.raises(ValueError, match=str(MAX_ENTRIES_PER_TRANSACTION)):
        LEDGER.record("step-1", [entry(f"msg:{i}") for i in range(MAX_ENTRIES_PER_TRANSACTION + 1)])
    with pytest.raises(ValueError, match="once"):
        LEDGER.record("step-1", [entry("msg:a"), entry("msg:a", "b2")])
    assert fake_aws.calls == []
    # the most entries, each in a bucket of its own, with the counters and their minute: DynamoDB's 100 items
    LEDGER.record("step-1", [entry(f"msg:{i}", f"b{i}", synced=1) for i in range(MAX_ENTRIES_PER_TRANSACTION)])
    (call,) = fake_aws.ops("transact_write_items")
    assert len(call["TransactItems"]) == 100


def test_record_reports_the_ids_the_conflicting_bucket_already_holds(fake_aws: FakeAws) -> None:
    fake_aws.fail = lambda op, kwargs: canceled(None, "ConditionalCheckFailed", None) if op.startswith("t") else None
    fake_aws.items["b2"] = bucket_item("b2", ["msg:c", "msg:other"])
    entries = [entry("msg:a", "b1", synced=1), entry("msg:b", "b2", synced=1), entry("msg:c", "b2", synced=1)]
    assert LEDGER.record("step-1", entries) == {"msg:c"}
    (read,) = fake_aws.ops("batch_get_item")
    assert read["RequestItems"]["ledger"]["ConsistentRead"] is True
    assert [k["id"]["S"] for k in read["RequestItems"]["ledger"]["Keys"]] == ["b2"]


@pytest.mark.parametrize(
    "error",
    [
        canceled(None, "TransactionConflict"),  # nothing was a duplicate: a real failure
        aws_error("ProvisionedThroughputExceededException", "TransactWriteItems"),
        aws_error("ValidationException", "TransactWriteItems"),
    ],
)
def test_record_raises_every_other_failure(fake_aws: FakeAws, error: ClientError) -> None:
    fake_aws.fail = lambda op, kwargs: error
    with pytest.raises(StoreUnavailable) as raised:
        LEDGER.record("step-1", [entry("msg:a", synced=1), entry("msg:b")])
    assert raised.value.operation == "ledger.record"
    assert raised.value.reason == error.response["Error"]["Code"]
    assert raised.value.__cause__ is error  # the original kept for the logs


def test_a_transaction_conflict_is_tried_again_with_a_new_token(fake_aws: FakeAws) -> None:
    outcomes = [canceled(None, "TransactionConflict"), canceled("TransactionConflict", None), None]
    fake_aws.fail = lambda op, kwargs: outcomes.pop(0) if op == "transact_write_items" else None
    clock = FakeClock()
    assert Ledger("ledger", TABLES, clock).record("step-1", [entry("msg:a", synced=1)]) == set()
    calls = fake_aws.ops("transact_write_items")
    assert len(calls) == 3
    assert len({c["ClientRequestToken"] for c in calls}) == 3  # botocore's own retries reuse one; ours do not
    assert len(clock.sleeps) == 2  # backed off in between


def test_conflicts_that_do_not_clear_are_raised(fake_aws: FakeAws) -> None:
    fake_aws.fail = lambda op, kwargs: canceled("TransactionConflict", None)
    with pytest.raises(StoreUnavailable):
        Ledger("ledger", TABLES, FakeClock()).record("step-1", [entry("msg:a", synced=1)])
    assert len(fake_aws.ops("transact_write_items")) == CONFLICT_ATTEMPTS


def test_a_conflict_on_the_counters_is_not_a_duplicate(fake_aws: FakeAws) -> None:
    # the last item is the counters update: its ConditionalCheckFailed (none is set) must not name an entry
    fake_aws.fail = lambda op, kwargs: canceled(None, "ConditionalCheckFailed")
    with pytest.raises(StoreUnavailable):
        LEDGER.record("step-1", [entry("msg:a", synced=1)])


def test_a_bucket_conflict_without_our_ids_is_raised(fake_aws: FakeAws) -> None:
    fake_aws.fail = lambda op, kwargs: canceled("ConditionalCheckFailed", None) if op.startswith("t") else None
    fake_aws.items["b1"] = bucket_item("b1", ["msg:someone-else"])
    with pytest.raises(StoreUnavailable):
        LEDGER.record("step-1", [entry("msg:a", synced=1)])


# ---- Ledger.recorded -------------------------------------------------------------------------------
def test_recorded_reads_each_bucket_once_consistently_and_returns_its_handed_off_keys(fake_aws: FakeAws) -> None:
    fake_aws.items["b1"] = bucket_item("b1", ["msg:a", "msg:b"], ["k1", "k2"])
    fake_aws.items["b2"] = bucket_item("b2", ["msg:c"])
    keys = [LedgerKey("msg:a", "b1"), LedgerKey("msg:b", "b1"), LedgerKey("msg:x", "b1"), LedgerKey("msg:c", "b2")]
    keys.append(LedgerKey("msg:d", "b3"))
    assert LEDGER.recorded(keys) == {"msg:a": ["k1", "k2"], "msg:b": ["k1", "k2"], "msg:c": []}
    (call,) = fake_aws.ops("batch_get_item")
    request = call["RequestItems"]["ledger"]
    assert request["ConsistentRead"] is True
    assert [k["id"]["S"] for k in request["Keys"]] == ["b1", "b2", "b3"]  # asked once each


def test_recorded_pages_by_100_buckets_and_follows_unprocessed_keys(fake_aws: FakeAws) -> None:
    keys = [LedgerKey(f"msg:{i}", f"b{i}") for i in range(250)]
    for key in keys[::7]:
        fake_aws.items[key.bucket] = bucket_item(key.bucket, [key.id])
    fake_aws.unprocessed_once = ["b0", "b140"]
    assert set(LEDGER.recorded(keys)) == {k.id for k in keys[::7]}
    sizes = [len(c["RequestItems"]["ledger"]["Keys"]) for c in fake_aws.ops("batch_get_item")]
    assert sorted(sizes) == [1, 1, 50, 100, 100]


# ---- RetryStore ------------------------------------------------------------------------------------
STORE = RetryStore("retry-bucket", lambda: "arn:sm")


def a_batch() -> RetryBatch:
    return RetryBatch(
        batch_id=BATCH_ID,
        attempt=1,
        step_id="step-1",
        target=AUD_A,
        users=users(2, "u"),
        reasons=["r", "r"],
        first_failed_at=T0,
    )


def test_put_get_delete_round_trip(fake_aws: FakeAws) -> None:
    batch = a_batch()
    key = STORE.put(batch)
    assert key == f"retry/step-1/{BATCH_ID}/1.json"
    (put,) = fake_aws.ops("put_object")
    assert put["Bucket"] == "retry-bucket"
    assert STORE.get(key) == batch
    STORE.delete(key)
    assert fake_aws.objects == {}


def test_find_tells_a_batch_that_is_gone_from_a_failure(fake_aws: FakeAws) -> None:
    batch = a_batch()
    key = STORE.put(batch)
    assert STORE.find(key) == batch
    STORE.delete(key)
    assert STORE.find(key) is None  # settled and deleted by its execution
    with pytest.raises(StoreUnavailable):
        STORE.get(key)  # a batch an attempt needs is not optional
    fake_aws.fail = lambda op, kwargs: aws_error("AccessDenied", "GetObject")
    with pytest.raises(StoreUnavailable):
        STORE.find(key)  # a refusal is not "gone"


def test_start_names_the_execution_after_the_batch(fake_aws: FakeAws) -> None:
    STORE.start(f"retry/step-1/{BATCH_ID}/1.json", 30)
    (call,) = fake_aws.ops("start_execution")
    assert call["stateMachineArn"] == "arn:sm"
    assert call["name"] == BATCH_ID
    assert json.loads(call["input"]) == {"key": f"retry/step-1/{BATCH_ID}/1.json", "attempt": 1, "wait_seconds": 30}


def test_a_later_attempts_batch_starts_its_execution_at_that_attempt(fake_aws: FakeAws) -> None:
    STORE.start(f"retry/step-1/{BATCH_ID}/3.json", 300, attempt=3)  # an attempt split by wait (retry_attempt.py)
    (call,) = fake_aws.ops("start_execution")
    assert json.loads(call["input"]) == {"key": f"retry/step-1/{BATCH_ID}/3.json", "attempt": 3, "wait_seconds": 300}


def test_start_of_an_execution_that_exists_is_done(fake_aws: FakeAws) -> None:
    fake_aws.fail = lambda op, kwargs: aws_error("ExecutionAlreadyExists", "StartExecution")
    STORE.start(f"retry/step-1/{BATCH_ID}/1.json", 30)


def test_start_raises_other_errors(fake_aws: FakeAws) -> None:
    fake_aws.fail = lambda op, kwargs: aws_error("ThrottlingException", "StartExecution")
    with pytest.raises(StoreUnavailable):
        STORE.start(f"retry/step-1/{BATCH_ID}/1.json", 30)
