"""localmode.moto_threadsafe: moto shared by threads behaves as atomically as DynamoDB and SQS do."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localmode import moto_threadsafe


@pytest.fixture
def aws() -> Iterator[None]:
    moto_threadsafe.install()
    with mock_aws():
        yield


def test_only_one_of_two_simultaneous_conditional_creates_wins(aws: None) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName="buckets",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    double_wins = 0
    for trial in range(200):
        wins: list[int] = []
        barrier = threading.Barrier(2)

        def create(key: str = str(trial), won: list[int] = wins, start: threading.Barrier = barrier) -> None:
            start.wait()
            try:
                client.put_item(
                    TableName="buckets", Item={"k": {"S": key}}, ConditionExpression="attribute_not_exists(k)"
                )
                won.append(1)
            except client.exceptions.ConditionalCheckFailedException:
                pass

        threads = [threading.Thread(target=create) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        double_wins += len(wins) > 1
    assert double_wins == 0


def test_concurrent_senders_and_receivers_lose_no_message(aws: None) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    sent = [f"m-{i}" for i in range(300)]
    received: list[str] = []
    lock = threading.Lock()
    done_sending = threading.Event()

    def send() -> None:
        for start in range(0, len(sent), 10):
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(sent[start : start + 10])]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        done_sending.set()

    def receive() -> None:
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 1.5 or not done_sending.is_set():
            messages: list[dict[str, Any]] = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if messages:
                idle_since = time.monotonic()
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                with lock:
                    received.append(message["Body"])

    threads = [threading.Thread(target=send)] + [threading.Thread(target=receive) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(received) == sorted(sent)  # each exactly once: none hidden by a half-finished receive


def test_a_long_poll_still_waits_for_a_message(aws: None) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    threading.Timer(0.3, lambda: sqs.send_message(QueueUrl=url, MessageBody="late")).start()
    started = time.monotonic()
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])
    assert [m["Body"] for m in messages] == ["late"]
    assert time.monotonic() - started < 1.5  # returned when the message came, not at the end of the poll
    started = time.monotonic()
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []
    assert time.monotonic() - started >= 0.9  # an empty long poll waits its full time


def test_a_fifo_groups_timed_out_messages_come_back_first_and_in_order(aws: None) -> None:
    from moto.sqs.models import sqs_backends

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "600"})["QueueUrl"]
    for n in range(15):
        sqs.send_message(QueueUrl=url, MessageBody=str(n), MessageGroupId="user", MessageDeduplicationId=str(n))
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5)["Messages"]
    assert [m["Body"] for m in first] == ["0", "1", "2", "3", "4"]
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []  # the group is busy
    for message in sqs_backends["123456789012"]["us-east-1"].get_queue("q.fifo")._messages[:5]:
        message.visible_at = 0  # their visibility timeout passed (without waiting 600 s)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in again] == [str(n) for n in range(10)]  # moto alone: "4" to "13"
    assert [m["Attributes"]["ApproximateReceiveCount"] for m in again[:5]] == ["2"] * 5


def test_a_receive_reads_the_clock_once_so_messages_turning_visible_meanwhile_keep_their_order(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sqs import models

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "600"})["QueueUrl"]
    for n in range(15):
        sqs.send_message(QueueUrl=url, MessageBody=str(n), MessageGroupId="user", MessageDeduplicationId=str(n))
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 10
    ticks = itertools.count(int(models.unix_time_millis()))
    monkeypatch.setattr(models, "unix_time_millis", lambda: float(next(ticks)))  # 1 ms on every read
    turning_visible = models.unix_time_millis() + 3  # a few reads from now: in the middle of the next receive
    for message in models.sqs_backends["123456789012"]["us-east-1"].get_queue("q.fifo")._messages[:10]:
        message.visible_at = turning_visible
    for _ in range(50):
        got = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
        if got:
            break
    assert got == [str(n) for n in range(10)]


def test_a_cancelled_transaction_puts_back_only_the_items_it_named_and_never_copies_a_table(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models.table import Table

    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "k", "AttributeType": "S"},
            {"AttributeName": "r", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(50):
        client.put_item(TableName="t", Item={"k": {"S": "a"}, "r": {"S": str(n)}, "v": {"N": "0"}})

    def no_copy(self: Any, memo: Any) -> Any:
        raise AssertionError("a whole table was copied")

    monkeypatch.setattr(Table, "__deepcopy__", no_copy, raising=False)
    bump = {
        "Update": {
            "TableName": "t",
            "Key": {"k": {"S": "a"}, "r": {"S": "1"}},
            "UpdateExpression": "ADD v :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    new = {"Put": {"TableName": "t", "Item": {"k": {"S": "a"}, "r": {"S": "new"}}}}
    refused = {
        "Update": {
            "TableName": "t",
            "Key": {"k": {"S": "a"}, "r": {"S": "2"}},
            "UpdateExpression": "SET v = :v",
            "ConditionExpression": "v = :nine",
            "ExpressionAttributeValues": {":v": {"N": "5"}, ":nine": {"N": "9"}},
        }
    }
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=[bump, new, refused])
    items = client.scan(TableName="t")["Items"]
    assert len(items) == 50 and all(i["v"] == {"N": "0"} for i in items)  # the bump undone, the put gone
    client.transact_write_items(TransactItems=[bump, new])
    got = client.get_item(TableName="t", Key={"k": {"S": "a"}, "r": {"S": "1"}})["Item"]
    assert got["v"] == {"N": "1"} and len(client.scan(TableName="t")["Items"]) == 51
