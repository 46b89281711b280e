"""bench/meter.py: billable units from the requests botocore sends (SQS per 64 KiB, DynamoDB per item KB)."""

from __future__ import annotations

import pytest

from bench import meter


def test_sqs_bills_a_request_per_started_64_kib() -> None:
    body = {"Entries": [{"MessageBody": "x" * 40_000}, {"MessageBody": "y" * 40_000}]}
    assert meter._sqs_requests("SendMessageBatch", body, {}) == 2
    assert meter._sqs_requests("SendMessage", {"MessageBody": "x" * 10}, {}) == 1
    received = {"Messages": [{"Body": "z" * 30_000}] * 5}
    assert meter._sqs_requests("ReceiveMessage", {}, received) == 3
    assert meter._sqs_requests("ReceiveMessage", {}, {}) == 1  # an empty receive is still a request
    assert meter._sqs_requests("DeleteMessageBatch", {}, {}) == 1


def test_item_size_from_the_wire_format() -> None:
    item = {"id": {"S": "abc"}, "n": {"N": "12345"}, "ok": {"BOOL": True}, "ids": {"SS": ["aa", "bbb"]}}
    assert meter._wire_item_size(item) == (2 + 3) + (1 + 5) + (2 + 1) + (3 + 5)
    nested = {"m": {"M": {"k": {"S": "v"}}}, "l": {"L": [{"N": "1"}]}}
    assert meter._wire_item_size(nested) == (1 + 3 + 1 + 1 + 1) + (1 + 3 + 1 + 1)


def test_a_transaction_bills_each_item_twice_by_its_kb(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = {"small": 300, "big": 2500}
    monkeypatch.setattr(meter, "_stored_size", lambda table, key: sizes[key["id"]["S"]])
    body = {
        "TransactItems": [
            {"Update": {"TableName": "t", "Key": {"id": {"S": "small"}}}},
            {"Put": {"TableName": "t", "Key": {"id": {"S": "big"}}, "Item": {"id": {"S": "big"}}}},
        ]
    }
    assert meter._dynamodb_units("TransactWriteItems", body, {}) == {"dynamodb_wru": 2 * 1 + 2 * 3}
    assert meter._dynamodb_units("UpdateItem", {"TableName": "t", "Key": {"id": {"S": "big"}}}, {}) == {
        "dynamodb_wru": 3
    }


def test_reads_are_per_4_kb_and_half_when_eventually_consistent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meter, "_stored_size", lambda table, key: 5000)
    strong = {"TableName": "t", "Key": {"id": {"S": "a"}}, "ConsistentRead": True}
    assert meter._dynamodb_units("GetItem", strong, {}) == {"dynamodb_rru": 2.0}
    assert meter._dynamodb_units("GetItem", {**strong, "ConsistentRead": False}, {}) == {"dynamodb_rru": 1.0}
    batch = {"RequestItems": {"t": {"Keys": [{"id": {"S": "a"}}, {"id": {"S": "b"}}], "ConsistentRead": True}}}
    assert meter._dynamodb_units("BatchGetItem", batch, {}) == {"dynamodb_rru": 4.0}


def test_other_services_count_their_billed_calls() -> None:
    assert meter._units("kms", "Decrypt", {}, {}) == {"kms_requests": 1}
    assert meter._units("sns", "Publish", {}, {}) == {"sns_publishes": 1}
    assert meter._units("sns", "ListTopics", {}, {}) == {}
    assert meter._units("s3", "PutObject", {}, {}) == {"s3_put_requests": 1}
    assert meter._units("s3", "DeleteObject", {}, {}) == {}  # free


def test_an_exports_child_reports_its_own_peak_memory_not_its_parents() -> None:
    """ru_maxrss after an exec carries the parent's peak over; the benchmark process is large by then."""
    import subprocess
    import sys

    ballast = bytearray(300 * 1024 * 1024)  # this process: over 300 MB resident
    ballast[::4096] = b"x" * len(ballast[::4096])
    child = subprocess.run(
        [sys.executable, "-c", "from bench.exports import peak_rss_mb; print(peak_rss_mb())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert float(child.stdout) < 150
    del ballast
