"""The profile writer: Braze's semantics applied in order, exactly once, through redelivery, crashes and races."""

from __future__ import annotations

import contextvars
import json
from typing import Any

import pytest

from audience_sync.cohorts.requests import plan_changes
from audience_sync.profiles import requests
from audience_sync.profiles.ports import Item
from audience_sync.profiles.reader import fields_to_export
from audience_sync.profiles.writer import Message
from tests.fakes.profile_fakes import Crash
from tests.unit.profiles.profile_support import World, aliased, as_messages, deleted, identified, merged, tracked

T = "2026-12-05T10:00:00Z"


def test_an_unknown_external_id_becomes_a_profile_with_its_fields_attributes_events_and_purchases() -> None:
    world = World()
    world.write(
        tracked(
            attributes=[{"external_id": "u1", "first_name": "Ann", "email": "Ann@Example.com", "tier": "gold"}],
            events=[{"external_id": "u1", "name": "login", "time": T}],
            purchases=[
                {"external_id": "u1", "product_id": "p1", "currency": "usd", "price": 2, "time": T, "quantity": 3}
            ],
        )
    )
    user = world.user("u1")
    assert user is not None
    assert (user["external_id"], user["first_name"], user["email"]) == ("u1", "Ann", "Ann@Example.com")
    assert user["custom_attributes"] == {"tier": "gold"}
    assert user["custom_events"] == [
        {"name": "login", "first": "2026-12-05T10:00:00.000Z", "last": "2026-12-05T10:00:00.000Z", "count": 1}
    ]
    assert user["purchases"][0]["count"] == 3
    assert len(user["braze_id"]) == 24
    # The email now names the user too (a pointer to the profile).
    assert world.reader.home_of("m:ann@example.com") == "u#x:u1"


def test_update_only_objects_for_unknown_users_change_nothing() -> None:
    world = World()
    world.write(
        tracked(
            attributes=[
                {"external_id": "u1", "a": 1, "_update_existing_only": True},
                {"user_alias": {"alias_label": "l", "alias_name": "n"}, "a": 1},  # aliases are update-only by default
                {"braze_id": "0123456789abcdef01234567", "a": 1},  # a braze_id is never minted on request
            ],
            events=[{"user_alias": {"alias_label": "l", "alias_name": "n"}, "name": "e", "time": T}],
        )
    )
    assert world.store.items == {}
    assert world.writer.write([]).applied == 0


def test_operations_apply_in_order_within_and_across_batches() -> None:
    world = World()
    first = tracked(attributes=[{"external_id": "u1", "n": 5}, {"external_id": "u1", "n": {"inc": 2}}])
    second = tracked(attributes=[{"external_id": "u1", "n": {"inc": 10}}, {"external_id": "u1", "n": None}])
    third = tracked(attributes=[{"external_id": "u1", "n": {"inc": 1}}])
    world.write(first)
    assert world.user("u1")["custom_attributes"] == {"n": 7}  # type: ignore[index]
    world.write(second + third)
    assert world.user("u1")["custom_attributes"] == {"n": 1}  # type: ignore[index]


def test_a_redelivered_message_is_not_applied_again() -> None:
    world = World()
    batch = tracked(
        attributes=[{"external_id": "u1", "n": {"inc": 1}, "tags": {"add": ["a"]}}],
        events=[{"external_id": "u1", "name": "e", "time": T}],
    )
    world.write(batch)
    report = world.writer.write(batch)  # SQS delivers the same messages again
    assert (report.applied, report.skipped, report.data_points) == (0, 2, 0)
    user = world.user("u1")
    assert user is not None
    assert user["custom_attributes"] == {"n": 1, "tags": ["a"]}
    assert user["custom_events"][0]["count"] == 1


def test_a_redelivered_batch_with_a_new_message_applies_only_the_new_one() -> None:
    world = World()
    old = tracked(attributes=[{"external_id": "u1", "n": {"inc": 1}}])
    world.write(old)
    new = tracked(attributes=[{"external_id": "u1", "n": {"inc": 10}}])
    world.write(old + new)
    assert world.user("u1")["custom_attributes"] == {"n": 11}  # type: ignore[index]


def _busy_day() -> list[list[Message]]:
    """Every kind of write, across several users and identifiers."""
    return [
        tracked(
            attributes=[
                {"external_id": "u1", "first_name": "Ann", "email": "ann@example.com", "n": {"inc": 1}},
                {"external_id": "u2", "tags": ["a", "b"], "profile": {"city": "Seoul"}},
                {"email": "solo@example.com", "plan": "free"},
            ],
            events=[
                {"external_id": "u1", "name": "login", "time": T},
                {"external_id": "u2", "name": "login", "time": T},
            ],
            purchases=[{"external_id": "u2", "product_id": "p", "currency": "EUR", "price": 1, "time": T}],
        )
        + aliased({"alias_label": "cookie", "alias_name": "c1"})
        + tracked(attributes=[{"user_alias": {"alias_label": "cookie", "alias_name": "c1"}, "seen": True}]),
        identified("u3", "cookie", "c1")
        + tracked(
            attributes=[{"external_id": "u2", "n": {"inc": 5}, "profile": {"zip": "1"}, "_merge_objects": True}],
            events=[{"external_id": "u3", "name": "login", "time": T}],
        ),
        merged({"external_id": "u1"}, {"external_id": "u2"}) + deleted(external_ids=["u3"]),
        tracked(attributes=[{"external_id": "u3", "back": True}]),
    ]


def test_a_crash_after_any_write_then_redelivery_ends_as_one_clean_run() -> None:
    day = _busy_day()  # the same messages (ids) for every run, as SQS delivers them again
    world = World()
    world.write(*day)
    clean, total = world.store.snapshot(), world.store.writes
    assert total > 20
    for crash_at in range(1, total + 1):
        world = World()
        world.store.crash_after_writes = crash_at
        for batch in day:
            try:
                world.writer.write(batch)
            except Crash:
                world.writer.write(batch)  # SQS delivers the batch again
        assert world.store.snapshot() == clean, f"crash after write {crash_at}"


def test_the_busy_day_reads_back_as_braze_would_answer() -> None:
    world = World()
    world.write(*_busy_day())
    u1 = world.user("u1")
    assert u1 is not None
    # u2 was merged into u1: its attributes u1 lacked, its events added, its purchases moved; u2 is gone.
    assert u1["custom_attributes"] == {"n": 1, "tags": ["a", "b"], "profile": {"city": "Seoul", "zip": "1"}}
    assert u1["custom_events"] == [
        {"name": "login", "first": "2026-12-05T10:00:00.000Z", "last": "2026-12-05T10:00:00.000Z", "count": 2}
    ]
    assert u1["purchases"][0]["count"] == 1
    assert world.user("u2") is None
    # u3 (the identified cookie user) was deleted, then written again: a new profile with only the new attribute.
    u3 = world.user("u3")
    assert u3 is not None and u3["custom_attributes"] == {"back": True} and "user_aliases" not in u3
    assert world.user(alias=("cookie", "c1")) is None
    assert world.reader.home_of("m:solo@example.com") is not None


def test_a_write_that_loses_a_race_is_read_and_applied_again() -> None:
    world = World()
    world.write(tracked(attributes=[{"external_id": "u1", "n": 1}]))
    raced = {"done": False}

    def other_writer(item: Item) -> None:
        if item.sk == "p" and not raced["done"]:
            raced["done"] = True
            stored = world.store.items[item.key]
            stored.doc["custom"]["other"] = "x"
            stored.version += 1

    world.store.before_put = other_writer
    world.write(tracked(attributes=[{"external_id": "u1", "n": {"inc": 1}}]))
    assert world.user("u1")["custom_attributes"] == {"n": 2, "other": "x"}  # type: ignore[index]
    assert world.clock.sleeps  # it backed off before reading again


def test_an_alias_only_user_is_created_only_when_asked() -> None:
    world = World()
    alias = {"alias_label": "crm", "alias_name": "42"}
    world.write(tracked(attributes=[{"user_alias": alias, "a": 1}]))
    assert world.user(alias=("crm", "42")) is None
    world.write(tracked(attributes=[{"user_alias": alias, "a": 1, "_update_existing_only": False}]))
    user = world.user(alias=("crm", "42"))
    assert user is not None and "external_id" not in user
    assert user["user_aliases"] == [{"alias_name": "42", "alias_label": "crm"}]


def test_alias_new_adds_an_alias_to_an_existing_user_and_refuses_one_held_by_another() -> None:
    world = World()
    world.write(tracked(attributes=[{"external_id": "u1", "a": 1}, {"external_id": "u2", "a": 2}]))
    world.write(aliased({"external_id": "u1", "alias_label": "crm", "alias_name": "42"}))
    world.write(aliased({"external_id": "nobody", "alias_label": "crm", "alias_name": "43"}))
    report = world.writer.write(aliased({"external_id": "u2", "alias_label": "crm", "alias_name": "42"}))
    assert report.rejected == 1
    user = world.user(alias=("crm", "42"))
    assert user is not None and user["external_id"] == "u1"
    assert world.user(alias=("crm", "43")) is None


def test_identify_moves_an_alias_only_user_to_a_new_external_id_keeping_its_braze_id() -> None:
    world = World()
    world.write(aliased({"alias_label": "cookie", "alias_name": "c"}))
    world.write(
        tracked(
            attributes=[{"user_alias": {"alias_label": "cookie", "alias_name": "c"}, "color": "red"}],
            events=[{"user_alias": {"alias_label": "cookie", "alias_name": "c"}, "name": "view", "time": T}],
        )
    )
    before = world.user(alias=("cookie", "c"))
    world.write(identified("u9", "cookie", "c"))
    after = world.user("u9")
    assert before is not None and after is not None
    assert after["braze_id"] == before["braze_id"]
    assert after["custom_attributes"] == {"color": "red"}
    assert after["custom_events"][0]["count"] == 1
    assert world.user(alias=("cookie", "c"))["external_id"] == "u9"  # type: ignore[index]
    assert not [k for k in world.store.items if k[0].startswith("u#b:") and "braze_id" in world.store.items[k].doc]


@pytest.mark.parametrize(("behavior", "kept"), [("merge", {"a": 1, "b": 2}), ("none", {"a": 1})])
def test_identify_into_an_existing_user_merges_or_drops_the_alias_only_data(
    behavior: str, kept: dict[str, int]
) -> None:
    world = World()
    world.write(tracked(attributes=[{"external_id": "u1", "a": 1}]))
    world.write(
        tracked(
            attributes=[
                {"user_alias": {"alias_label": "l", "alias_name": "n"}, "a": 9, "b": 2, "_update_existing_only": False}
            ]
        )
    )
    world.write(identified("u1", "l", "n", behavior))
    user = world.user("u1")
    assert user is not None and user["custom_attributes"] == kept
    assert user["user_aliases"] == [{"alias_name": "n", "alias_label": "l"}]


def test_identify_leaves_users_apart_when_the_external_id_has_another_alias_of_the_label() -> None:
    world = World()
    world.write(tracked(attributes=[{"external_id": "u1", "a": 1}]))
    world.write(aliased({"external_id": "u1", "alias_label": "l", "alias_name": "first"}))
    world.write(
        tracked(
            attributes=[
                {"user_alias": {"alias_label": "l", "alias_name": "second"}, "b": 2, "_update_existing_only": False}
            ]
        )
    )
    report = world.writer.write(identified("u1", "l", "second"))
    assert report.rejected == 1
    assert world.user(alias=("l", "second"))["custom_attributes"] == {"b": 2}  # type: ignore[index]


def test_delete_removes_the_profile_its_summaries_and_every_pointer() -> None:
    world = World()
    world.write(
        tracked(
            attributes=[{"external_id": "u1", "email": "a@b.co", "phone": "+1 555 0100"}],
            events=[{"external_id": "u1", "name": "e", "time": T}],
        ),
        aliased({"external_id": "u1", "alias_label": "l", "alias_name": "n"}),
    )
    world.write(deleted(user_aliases=[{"alias_label": "l", "alias_name": "n"}]))
    assert world.store.items == {}


def test_a_profile_that_would_grow_past_dynamodbs_item_limit_refuses_only_that_object() -> None:
    world = World()
    big = {f"k{i}": "x" * 200 for i in range(400)}  # about 90 KB a nested object
    objects = [{"external_id": "u1", f"blob{j}": big} for j in range(5)] + [{"external_id": "u1", "small": 1}]
    report = world.writer.write(tracked(attributes=objects))
    assert report.rejected >= 1
    user = world.user("u1")
    assert user is not None and user["custom_attributes"]["small"] == 1
    assert len(user["custom_attributes"]) == 1 + 5 - report.rejected


def test_parallel_writes_end_as_the_sequential_run_and_a_lost_race_is_retried() -> None:
    day = _busy_day()
    sequential = World()
    sequential.write(*day)
    parallel = World(concurrency=4)
    raced: set[str] = set()

    def other_writer(item: Item) -> None:  # another writer beats every first write of a summary once
        if item.sk.startswith("e#") and item.pk not in raced:
            raced.add(item.pk)
            if item.key in parallel.store.items:
                parallel.store.items[item.key].version += 1

    parallel.store.before_put = other_writer
    parallel.write(*day)
    assert parallel.store.snapshot() == sequential.store.snapshot()
    assert raced


def test_parallel_writes_see_the_invocations_context() -> None:
    # local mode sets the function's environment (and chaos its armed crash) in context variables
    invocation: contextvars.ContextVar[str] = contextvars.ContextVar("invocation", default="none")
    parallel = World(concurrency=4)
    seen: list[str] = []
    parallel.store.before_put = lambda item: seen.append(invocation.get())
    invocation.set("this one")
    parallel.write(*_busy_day())
    assert seen and set(seen) == {"this one"}


def test_an_export_naming_one_user_twice_lists_it_once_and_takes_fields_braze_has_and_we_do_not() -> None:
    world = World()
    world.write(tracked(attributes=[{"external_id": "u1", "a": 1}]))
    world.write(aliased({"external_id": "u1", "alias_label": "crm", "alias_name": "42"}))
    body = {
        "external_ids": ["u1"],
        "user_aliases": [{"alias_label": "crm", "alias_name": "42"}],
        "fields_to_export": ["external_id", "total_revenue", "devices"],
    }
    answer = world.reader.export(requests.export_identities(body), fields_to_export(body))
    assert answer["users"] == [{"external_id": "u1"}]


def test_an_export_by_braze_id_email_address_or_phone_finds_the_user() -> None:
    world = World()
    world.write(tracked(attributes=[{"external_id": "u1", "email": "Ann@Example.com", "phone": "+34 600 000 000"}]))
    braze_id = world.user("u1")["braze_id"]  # type: ignore[index]
    for body in ({"braze_id": braze_id}, {"email_address": "ann@example.com"}, {"phone": "+34 600 000 000"}):
        answer = world.reader.export(requests.export_identities(body), ["external_id"])
        assert answer["users"] == [{"external_id": "u1"}], body
    missing = world.reader.export(requests.export_identities({"email_address": "nobody@example.com"}), None)
    assert missing["users"] == [] and missing["invalid_user_ids"] == ["nobody@example.com"]


def _cohort(body: dict[str, Any]) -> list[Message]:
    return as_messages(plan_changes("segment", {"cohort_id": "aud", **body}).operations)


def _cohorts_of(world: World, external_id: str) -> list[str]:
    home = world.reader.home_of(f"x:{external_id}")
    assert home is not None
    return list(world.store.items[(home, "p")].doc.get("cohorts", []))


def test_cohort_changes_join_and_leave_known_users_once_and_count_the_unknown() -> None:
    world = World()
    world.write(tracked(attributes=[{"external_id": "u1", "a": 1}, {"external_id": "u2", "a": 2}]))
    joined = _cohort({"cohort_changes": [{"user_ids": ["u1", "u2", "ghost"]}]})
    report = world.writer.write(joined)
    assert report.cohort_ignored == {"segment:aud": 1} and report.applied == 2
    assert report.cohort_members == {"segment:aud": 2}
    again = world.writer.write(joined)  # delivered again: nothing applied twice, nor counted
    assert again.skipped == 2 and +again.cohort_members == {}
    left = world.writer.write(_cohort({"cohort_changes": [{"user_ids": ["u2"], "should_remove": True}]}))
    assert left.cohort_members == {"segment:aud": -1}
    puts = len(world.store.calls)
    assert world.writer.write(_cohort({"cohort_changes": [{"user_ids": ["u2"], "should_remove": True}]})).skipped == 1
    assert [c for c in world.store.calls[puts:] if c[0] == "put"] == []  # no change, no write
    assert _cohorts_of(world, "u1") == ["segment:aud"]
    assert _cohorts_of(world, "u2") == []
    assert world.user("ghost") is None  # never created
    moved = world.writer.write(merged({"external_id": "u2"}, {"external_id": "u1"}))
    assert _cohorts_of(world, "u2") == ["segment:aud"]  # memberships follow a merge
    assert +moved.cohort_members == {}  # the same member count: u1's membership is now u2's
    world.write(_cohort({"cohort_changes": [{"user_ids": ["u3"]}]}), tracked(attributes=[{"external_id": "u3"}]))
    gone = world.writer.write(deleted(external_ids=["u2"]))
    assert gone.cohort_members == {"segment:aud": -1}


def test_the_events_and_purchases_of_identified_users_are_reported_with_ids_stable_across_redeliveries() -> None:
    world = World()
    world.write(tracked(attributes=[{"external_id": "u1", "n": 1}]))
    batch = tracked(
        events=[
            {"external_id": "u1", "name": "signed_up", "time": T, "properties": {"plan": "gold"}},
            {
                "user_alias": {"alias_name": "a", "alias_label": "l"},
                "_update_existing_only": False,
                "name": "e",
                "time": T,
            },
        ],
        purchases=[{"external_id": "u1", "product_id": "sku", "currency": "USD", "price": 5, "time": T}],
    )
    first = world.writer.write(batch)
    assert [(a.kind, a.external_id, a.name, a.properties) for a in first.activities] == [
        ("event", "u1", "signed_up", {"plan": "gold"}),
        ("purchase", "u1", "sku", {}),
    ]  # the alias-only user has no external id: campaigns do not reach it
    again = world.writer.write(batch)  # redelivered after a crash before its activities were published
    assert again.skipped and [a.activity_id for a in again.activities] == [a.activity_id for a in first.activities]
    assert len({a.activity_id for a in first.activities}) == 2
    summary = json.dumps(first.summary())
    assert "signed_up" not in summary and "gold" not in summary and "u1" not in summary
    assert first.summary()["activities"] == 2
