"""adapters/aws/segment_members.py in moto: the members' index keeps each (segment, user)'s newest transition and
counts every change of membership exactly once, in whatever order and however often transitions arrive, in
transactions of at most 100 items, and without losing an entry that races an older exit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.segment_members import MAX_TRANSACTION_ITEMS, DynamoMemberIndex
from audience_sync.segments.membership import Transition, order_of
from localmode import moto_threadsafe
from tests.fakes.sync_fakes import FakeClock

HOUR = "2026-12-05T12"


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoMemberIndex]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    moto_threadsafe.install()  # a message's transactions are written at once, as DynamoDB takes them
    with mock_aws():
        clients.reset()
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="members",
            KeySchema=[{"AttributeName": "bucket", "KeyType": "HASH"}, {"AttributeName": "member", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "bucket", "AttributeType": "S"},
                {"AttributeName": "member", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.create_table(
            TableName="stats",
            KeySchema=[
                {"AttributeName": "segment_id", "KeyType": "HASH"},
                {"AttributeName": "bucket", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "segment_id", "AttributeType": "S"},
                {"AttributeName": "bucket", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoMemberIndex("members", "stats", FakeClock())
        clients.reset()


def t(n: int, entered: bool, order: int, segment: str = "gold", external_id: str | None = None) -> Transition:
    return Transition(segment, f"u#b:{n}", f"b{n}", external_id, entered, "2026-12-05T12:00:00.000Z", order_of(order))


def apply(index: DynamoMemberIndex, transitions: list[Transition], **kwargs: Any) -> list[Transition]:
    """As the membership function does: read, then apply what was read."""
    stored = index.lookup([(x.segment_id, x.braze_id) for x in transitions])
    return index.apply(transitions, HOUR, stored, **kwargs)


def counts(index: DynamoMemberIndex, segment: str = "gold") -> tuple[int, int, int]:
    found = index.counts(segment, 24)
    return found.size, found.entered, found.exited


def test_changes_count_once_whatever_the_order_and_the_repeats(index: DynamoMemberIndex) -> None:
    assert apply(index, [t(1, True, 1), t(2, True, 1)]) == [t(1, True, 1), t(2, True, 1)]
    assert apply(index, [t(1, True, 1)]) == []  # delivered again
    assert apply(index, [t(1, True, 3), t(1, False, 2)]) == []  # b1's exit overtaken by a newer entry: in, still
    assert apply(index, [t(2, False, 2)]) == [t(2, False, 2)]
    assert apply(index, [t(2, True, 1)]) == []  # older than what is held
    assert counts(index) == (1, 2, 1)
    assert index.counts("gold", 24).hours == [{"hour": HOUR, "entered": 2, "exited": 1}]
    members, _ = index.members("gold", 10, None)
    assert [m.braze_id for m in members] == ["b1"]


def test_an_entry_racing_an_older_exit_is_not_lost(index: DynamoMemberIndex) -> None:
    apply(index, [t(1, True, 1)])
    read_before = index.lookup([("gold", "b1")])  # the entry's function reads: a member (1)
    apply(index, [t(1, False, 2)])  # meanwhile another applies the exit (2)
    # the entry (3) was planned as "no change" from its stale read: refused, read again, applied as a change
    assert index.apply([t(1, True, 3)], HOUR, read_before) == [t(1, True, 3)]
    assert index.lookup([("gold", "b1")])[("gold", "b1")].member is True
    assert counts(index) == (1, 2, 1)


def test_hundreds_of_members_of_many_segments_go_in_transactions_of_at_most_100_items(
    index: DynamoMemberIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    real = clients.unchecked_dynamodb()

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def transact_write_items(self, **kwargs: Any) -> Any:
            sizes.append(len(kwargs["TransactItems"]))
            return real.transact_write_items(**kwargs)

    monkeypatch.setattr(clients, "unchecked_dynamodb", Counting)
    transitions = [t(n, True, 1, segment=f"s{n % 7}") for n in range(500)]
    assert len(apply(index, transitions)) == 500
    assert max(sizes) <= MAX_TRANSACTION_ITEMS and len(sizes) <= 7
    assert sum(counts(index, f"s{k}")[0] for k in range(7)) == 500
    assert counts(index, "s0") == (72, 72, 0)


def test_the_identifiers_sent_are_kept_until_the_removal_and_the_external_id_follows(index: DynamoMemberIndex) -> None:
    sent = {"x": "u1", "e": "hash"}
    apply(index, [t(1, True, 1)], sent={("gold", "b1"): sent})
    assert index.lookup([("gold", "b1")])[("gold", "b1")].sent == sent
    apply(index, [t(1, True, 1)], sent={("gold", "b1"): {**sent, "e": "again"}})  # a redelivery routed again
    assert index.lookup([("gold", "b1")])[("gold", "b1")].sent == {**sent, "e": "again"}
    apply(index, [t(1, True, 2, external_id="u1")])  # a newer transition, after an identify
    members, _ = index.members("gold", 10, None)
    assert [(m.braze_id, m.external_id) for m in members] == [("b1", "u1")]
    apply(index, [t(1, False, 3)], removed={("gold", "b1")})
    held = index.lookup([("gold", "b1")])[("gold", "b1")]
    assert (held.member, held.sent) == (False, None)


def _keys_of(transaction: list[dict[str, Any]]) -> set[tuple[str, str]]:
    keys = set()
    for item in transaction:
        ((_, action),) = item.items()
        key = action.get("Key") or {k: action["Item"][k] for k in ("segment_id", "bucket")}
        keys.add((action["TableName"], repr(sorted((k, v["S"]) for k, v in key.items()))))
    return keys


def test_no_two_transactions_of_a_message_touch_one_item(
    index: DynamoMemberIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB cancels a transaction touching an item another transaction holds: a counter item every transaction
    updated would make the concurrent ones (a message's, and forty messages' in a backfill) conflict on it."""
    transactions: list[list[dict[str, Any]]] = []
    real = clients.unchecked_dynamodb()

    class Recording:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def transact_write_items(self, **kwargs: Any) -> Any:
            transactions.append(kwargs["TransactItems"])
            return real.transact_write_items(**kwargs)

    monkeypatch.setattr(clients, "unchecked_dynamodb", Recording)
    assert len(apply(index, [t(n, True, 1, segment=f"s{n % 2}") for n in range(450)])) == 450
    assert len(transactions) >= 5
    seen: set[tuple[str, str]] = set()
    for transaction in transactions:
        keys = _keys_of(transaction)
        assert not keys & seen
        seen |= keys


def test_the_counts_are_exact_before_and_after_they_are_folded_and_fold_once(index: DynamoMemberIndex) -> None:
    apply(index, [t(n, True, 1) for n in range(250)])
    apply(index, [t(n, False, 2) for n in range(40)])
    apply(index, [t(1000, True, 1, segment="other")])
    before = index.counts("gold", 24)
    assert (before.size, before.entered, before.exited) == (210, 250, 40)
    assert index.fold("gold") >= 2  # the pending counts items of its transactions
    assert index.fold("gold") == 0  # nothing left: folded once
    after = index.counts("gold", 24)
    assert after == before
    assert after.hours == [{"hour": HOUR, "entered": 250, "exited": 40}]
    apply(index, [t(1, True, 3)])  # pending again, on top of the folded totals
    assert counts(index) == (211, 251, 40)
    assert counts(index, "other") == (1, 1, 0)  # another segment's counts are its own


def test_a_fold_another_folder_beat_adds_nothing(index: DynamoMemberIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    apply(index, [t(n, True, 1) for n in range(10)])
    pending = index._pending("gold")  # what a second folder read before the first folded
    assert index.fold("gold") == 1
    monkeypatch.setattr(index, "_pending", lambda segment_id: pending)
    assert index.fold("gold") == 0  # its deletes' conditions fail: the transaction adds nothing
    assert counts(index) == (10, 10, 0)


def test_a_read_a_fold_overlaps_is_read_again_not_counted_twice(
    index: DynamoMemberIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partition is read in key order: pending items (d#) before `total`. A fold committing between the two
    would count its items twice; the reader sees `total`'s generation move and reads again."""
    apply(index, [t(n, True, 1) for n in range(5)])
    apply(index, [t(n, True, 1) for n in range(5, 8)])
    real = index.stats.query
    folds: list[int] = []

    def paged(**kwargs: Any) -> Any:
        if "#b" in kwargs.get("ExpressionAttributeNames", {}):  # the fold's own read of its pending items
            return real(**kwargs)
        page = real(**{**kwargs, "Limit": 1})  # one item a page: the fold lands between the d# items and total
        if not folds:
            folds.append(index.fold("gold"))
        return page

    monkeypatch.setattr(index.stats, "query", paged)
    assert counts(index) == (8, 8, 0)
    assert folds == [2]
