"""ledger.py and retry_store.py against hand-written boto3 clients: the contracts the batcher and the retry
function rely on (all-or-nothing record, duplicates reported not raised, idempotent execution start)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from audience_sync import ledger as ledger_module
from audience_sync import retry_store as retry_store_module
from audience_sync.ledger import LEDGER_TTL_SECONDS, MAX_ENTRIES_PER_TRANSACTION, Ledger, LedgerEntry
from audience_sync.metrics import StepDelta
from audience_sync.retry_store import RetryBatch, RetryStore
from tests.unit.domain.sync_fakes import AUD_A, T0, FakeClock, aws_error, users

BATCH_ID = "0123456789abcdef" * 2


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
    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self._call("transact_write_items", {"TransactItems": TransactItems})
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

    monkeypatch.setattr(ledger_module.aws, "client", client)
    monkeypatch.setattr(retry_store_module.aws, "client", client)
    return fake


def entry(ledger_id: str, keys: list[str] | None = None, **counts: int) -> LedgerEntry:
    delta = StepDelta()
    for name, n in counts.items():
        delta.add(name, n)
    return LedgerEntry(ledger_id, delta, keys or [])


def canceled(*codes: str | None) -> ClientError:
    error = ClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "canceled"}}, "TransactWriteItems"
    )
    error.response["CancellationReasons"] = [{"Code": c} if c else {"Code": "None"} for c in codes]
    return error


LEDGER = Ledger("ledger", "metrics", FakeClock())


# ---- Ledger.record ---------------------------------------------------------------------------------
def test_record_writes_every_entry_and_the_summed_counters_in_one_transaction(fake_aws: FakeAws) -> None:
    e1 = entry("msg:a", ["retry/s/k/1.json"], synced=2)
    e2 = entry("msg:b", synced=1)
    assert LEDGER.record("step-1", [e1, e2]) == set()
    (call,) = fake_aws.ops("transact_write_items")
    puts = [i["Put"] for i in call["TransactItems"] if "Put" in i]
    assert [p["Item"]["id"] for p in puts] == [{"S": "msg:a"}, {"S": "msg:b"}]
    assert all(p["ConditionExpression"] == "attribute_not_exists(id)" for p in puts)
    assert all(p["TableName"] == "ledger" for p in puts)
    assert puts[0]["Item"]["retry_keys"] == {"L": [{"S": "retry/s/k/1.json"}]}
    assert puts[0]["Item"]["step_id"] == {"S": "step-1"}
    assert puts[0]["Item"]["expires_at"] == {"N": str(T0 // 1000 + LEDGER_TTL_SECONDS)}
    (update,) = [i["Update"] for i in call["TransactItems"] if "Update" in i]
    assert update["TableName"] == "metrics"
    assert update["Key"] == {"step_id": {"S": "step-1"}}
    assert {"N": "3"} in update["ExpressionAttributeValues"].values()


def test_record_without_counts_writes_no_counter_update(fake_aws: FakeAws) -> None:
    LEDGER.record("step-1", [entry("msg:a", ["k"])])
    (call,) = fake_aws.ops("transact_write_items")
    assert [next(iter(i)) for i in call["TransactItems"]] == ["Put"]


def test_record_of_nothing_writes_nothing(fake_aws: FakeAws) -> None:
    assert LEDGER.record("step-1", []) == set()
    assert fake_aws.calls == []


def test_record_refuses_more_than_99_entries(fake_aws: FakeAws) -> None:
    assert MAX_ENTRIES_PER_TRANSACTION == 99
    with pytest.raises(ValueError, match="99"):
        LEDGER.record("step-1", [entry(f"msg:{i}") for i in range(100)])
    assert fake_aws.calls == []


def test_record_reports_the_ids_already_recorded(fake_aws: FakeAws) -> None:
    fake_aws.fail = lambda op, kwargs: canceled(None, "ConditionalCheckFailed", None, None)
    entries = [entry("msg:a", synced=1), entry("msg:b", synced=1), entry("msg:c", synced=1)]
    assert LEDGER.record("step-1", entries) == {"msg:b"}


@pytest.mark.parametrize(
    "error",
    [
        canceled(None, None, "TransactionConflict"),  # nothing was a duplicate: a real failure
        aws_error("ProvisionedThroughputExceededException", "TransactWriteItems"),
        aws_error("ValidationException", "TransactWriteItems"),
    ],
)
def test_record_raises_every_other_failure(fake_aws: FakeAws, error: ClientError) -> None:
    fake_aws.fail = lambda op, kwargs: error
    with pytest.raises(ClientError):
        LEDGER.record("step-1", [entry("msg:a", synced=1), entry("msg:b")])


def test_a_conflict_on_the_counters_is_not_a_duplicate(fake_aws: FakeAws) -> None:
    # the last item is the counters update: its ConditionalCheckFailed (none is set) must not name an entry
    fake_aws.fail = lambda op, kwargs: canceled(None, "ConditionalCheckFailed")
    with pytest.raises(ClientError):
        LEDGER.record("step-1", [entry("msg:a", synced=1)])


# ---- Ledger.recorded -------------------------------------------------------------------------------
def test_recorded_reads_consistently_and_returns_the_handed_off_keys(fake_aws: FakeAws) -> None:
    fake_aws.items["msg:a"] = {"id": {"S": "msg:a"}, "retry_keys": {"L": [{"S": "k1"}, {"S": "k2"}]}}
    fake_aws.items["msg:b"] = {"id": {"S": "msg:b"}}
    assert LEDGER.recorded(["msg:a", "msg:b", "msg:c", "msg:a"]) == {"msg:a": ["k1", "k2"], "msg:b": []}
    (call,) = fake_aws.ops("batch_get_item")
    request = call["RequestItems"]["ledger"]
    assert request["ConsistentRead"] is True
    assert [k["id"]["S"] for k in request["Keys"]] == ["msg:a", "msg:b", "msg:c"]  # asked once each


def test_recorded_pages_by_100_and_follows_unprocessed_keys(fake_aws: FakeAws) -> None:
    ids = [f"msg:{i}" for i in range(250)]
    for i in ids[::7]:
        fake_aws.items[i] = {"id": {"S": i}, "retry_keys": {"L": []}}
    fake_aws.unprocessed_once = ["msg:0", "msg:140"]
    assert set(LEDGER.recorded(ids)) == set(ids[::7])
    sizes = [len(c["RequestItems"]["ledger"]["Keys"]) for c in fake_aws.ops("batch_get_item")]
    assert sorted(sizes) == [1, 1, 50, 100, 100]


# ---- RetryStore ------------------------------------------------------------------------------------
STORE = RetryStore("retry-bucket", "arn:sm")


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


def test_start_names_the_execution_after_the_batch(fake_aws: FakeAws) -> None:
    STORE.start(f"retry/step-1/{BATCH_ID}/1.json", 30)
    (call,) = fake_aws.ops("start_execution")
    assert call["stateMachineArn"] == "arn:sm"
    assert call["name"] == BATCH_ID
    assert json.loads(call["input"]) == {"key": f"retry/step-1/{BATCH_ID}/1.json", "attempt": 1, "wait_seconds": 30}


def test_start_of_an_execution_that_exists_is_done(fake_aws: FakeAws) -> None:
    fake_aws.fail = lambda op, kwargs: aws_error("ExecutionAlreadyExists", "StartExecution")
    STORE.start(f"retry/step-1/{BATCH_ID}/1.json", 30)


def test_start_raises_other_errors(fake_aws: FakeAws) -> None:
    fake_aws.fail = lambda op, kwargs: aws_error("ThrottlingException", "StartExecution")
    with pytest.raises(ClientError):
        STORE.start(f"retry/step-1/{BATCH_ID}/1.json", 30)
