"""Segment memberships kept by the profile writer: evaluated only for what a write changed, written with the change,
published after it, published again after a crash, and exits before a profile goes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from audience_sync.cohorts.requests import plan_changes
from audience_sync.core.users import hash_email
from audience_sync.profiles.reader import ProfileReader
from audience_sync.profiles.writer import ProfileWriter
from audience_sync.segments.membership import DELETED, WITHDRAWN, Transition
from audience_sync.segments.memberships import SegmentMemberships
from audience_sync.sources.profile_users import identifiers
from tests.fakes.profile_fakes import Crash, FakeProfileStore
from tests.fakes.segment_fakes import RecordingSink, SinkFailed, StaticSegments, segment
from tests.fakes.sync_fakes import FakeClock
from tests.unit.profiles.profile_support import NOW, as_messages, deleted, identified, merged, tracked

T = "2026-12-05T10:00:00Z"
GOLD = segment("gold", {"attribute": "plan", "op": "eq", "value": "gold"})
BUYERS = segment("buyers", {"custom_event": "order", "op": "more_than", "count": 1})
AUDIENCE = segment("audience", {"cohort": {"partner": "segment", "cohort_id": "aud_1"}, "op": "in"})


class World:
    def __init__(self, *segments: Any):
        self.store = FakeProfileStore()
        self.clock = FakeClock(int(NOW.timestamp() * 1000))
        self.source = StaticSegments(list(segments))
        self.sink = RecordingSink()
        memberships = SegmentMemberships(self.source, self.sink, identifiers)
        self.writer = ProfileWriter(self.store, self.clock, 25, 1, memberships)

    def write(self, *batches: Any) -> None:
        for batch in batches:
            self.writer.write(batch)

    def memberships(self, external_id: str) -> dict[str, str]:
        home = ProfileReader(self.store).home_of(f"x:{external_id}")
        assert home is not None
        return dict(self.store.items[(home, "p")].doc.get("segments", {}))

    def moves(self) -> list[tuple[str, str | None, bool]]:
        return [(t.segment_id, t.external_id, t.entered) for t in self.sink.published]


def test_an_attribute_write_moves_the_user_in_and_out_of_the_segments_that_read_it() -> None:
    world = World(GOLD, BUYERS)
    world.write(tracked(attributes=[{"external_id": "u1", "plan": "gold"}]))
    assert world.memberships("u1") == {"gold": "2026-12-05T12:00:00.000Z"}
    world.write(tracked(attributes=[{"external_id": "u1", "plan": "free"}]))
    assert world.memberships("u1") == {}
    assert world.moves() == [("gold", "u1", True), ("gold", "u1", False)]
    first, second = world.sink.published
    assert first.order < second.order  # a consumer keeps the newest
    assert first.home == second.home == "u#x:u1"


def test_only_the_segments_reading_what_changed_are_evaluated() -> None:
    world = World()
    world.write(tracked(attributes=[{"external_id": "u1", "plan": "free"}]))
    # defined after the user exists: a write that does not touch what it reads leaves it alone (the sweep's job)
    world.source.segments = [GOLD, segment("no_tier", {"attribute": "tier", "op": "not_exists"})]
    world.write(tracked(attributes=[{"external_id": "u1", "plan": "gold"}]))
    assert world.moves() == [("gold", "u1", True)]
    world.write(tracked(attributes=[{"external_id": "u1", "tier": None}]))  # unsetting what it reads: evaluated
    assert world.moves() == [("gold", "u1", True), ("no_tier", "u1", True)]


def test_events_and_cohorts_move_users_and_a_new_profile_is_evaluated_against_every_segment() -> None:
    never = segment("never_ordered", {"custom_event": "order", "op": "less_than", "count": 1})
    world = World(BUYERS, AUDIENCE, never)
    world.write(tracked(attributes=[{"external_id": "u1"}]))
    assert world.moves() == [("never_ordered", "u1", True)]
    order = {"external_id": "u1", "name": "order", "time": T}
    world.write(tracked(events=[order]))
    world.write(tracked(events=[order]))
    body = {"cohort_id": "aud_1", "cohort_changes": [{"user_ids": ["u1"]}]}
    world.write(as_messages(plan_changes("segment", body).operations))
    assert world.moves()[1:] == [("never_ordered", "u1", False), ("buyers", "u1", True), ("audience", "u1", True)]


def test_a_deleted_user_exits_every_segment_and_a_merged_away_one_moves_its_memberships() -> None:
    world = World(GOLD)
    world.write(tracked(attributes=[{"external_id": "u1", "plan": "gold"}, {"external_id": "u2", "plan": "gold"}]))
    world.write(merged({"external_id": "u1"}, {"external_id": "u2"}))
    assert sorted(world.moves()[2:]) == [("gold", "u2", False)]  # u1 was in already
    world.write(deleted(external_ids=["u1"]))
    assert world.moves()[3:] == [("gold", "u1", False)]
    assert world.sink.members() == {}


def test_a_deletion_tells_the_webhook_steps_the_users_identifiers_hashed_and_a_merge_does_not() -> None:
    world = World(GOLD)
    people = [{"external_id": f"u{n}", "email": f" U{n}@Example.com", "android_gaid": f"g-{n}"} for n in (1, 2)]
    world.write(tracked(attributes=[*people, {"external_id": "u3", "plan": "gold"}]))
    world.write(merged({"external_id": "u1"}, {"external_id": "u2"}))  # u2 merged into u1: not a person gone
    world.write(deleted(external_ids=["u1", "u3"]))
    gone = [t for t in world.sink.published if t.segment_id == DELETED]
    assert [(t.external_id, t.entered, t.deleted) for t in gone] == [("u1", False, True)]  # u3 has no identifier
    assert gone[0].identifiers == {"x": "u1", "e": hash_email("u1@example.com"), "g": "g-1"}
    assert Transition.from_json(gone[0].to_json()) == gone[0]  # as the membership queue carries it


def test_a_profile_that_stops_passing_a_webhook_steps_consent_is_told_to_that_step_once() -> None:
    consent = {"attribute": "ad_tracking_enabled", "op": "eq", "value": True}
    watch = replace(segment("consent:s1", consent), watch=True)
    world = World(watch)
    people = [
        {"external_id": "u1", "email": "u1@example.com", "ad_tracking_enabled": True},
        {"external_id": "u2", "email": "u2@example.com", "ad_tracking_enabled": False},  # new, without consent
    ]
    world.write(tracked(attributes=people))
    assert world.sink.published == []  # a watch has no members, and a new profile had no consent to withdraw
    world.write(
        tracked(attributes=[{"external_id": "u1", "ad_tracking_enabled": False}, {"external_id": "u2", "x": 1}])
    )
    world.write(tracked(attributes=[{"external_id": "u1", "ad_tracking_enabled": False}]))  # false again: no news
    world.write(tracked(attributes=[{"external_id": "u2", "ad_tracking_enabled": False}]))
    (notice,) = world.sink.published
    assert (notice.segment_id, notice.external_id, notice.entered) == (WITHDRAWN + "s1", "u1", False)
    assert notice.identifiers == {"x": "u1", "e": hash_email("u1@example.com")}
    assert world.memberships("u1") == {}  # not a membership


def test_consent_given_back_in_the_same_batch_is_no_withdrawal() -> None:
    consent = {"attribute": "ad_tracking_enabled", "op": "eq", "value": True}
    world = World(replace(segment("consent:s1", consent), watch=True))
    world.write(tracked(attributes=[{"external_id": "u1", "email": "u1@example.com", "ad_tracking_enabled": True}]))
    flip = [{"external_id": "u1", "ad_tracking_enabled": False}, {"external_id": "u1", "ad_tracking_enabled": True}]
    world.write(tracked(attributes=flip))
    assert world.sink.published == []


def test_a_withdrawal_the_queue_refused_is_told_when_the_batch_comes_again() -> None:
    consent = {"attribute": "ad_tracking_enabled", "op": "eq", "value": True}
    world = World(replace(segment("consent:s1", consent), watch=True))
    world.write(tracked(attributes=[{"external_id": "u1", "email": "u1@example.com", "ad_tracking_enabled": True}]))
    withdraw = tracked(attributes=[{"external_id": "u1", "ad_tracking_enabled": False}])
    world.sink.fail_next = True
    with pytest.raises(SinkFailed):
        world.writer.write(withdraw)  # the profile was written, the notice refused
    world.writer.write(withdraw)  # delivered again: the profile fails consent before and after, but it is owed
    assert [t.segment_id for t in world.sink.published] == [WITHDRAWN + "s1"]


def test_an_alias_only_user_identified_stays_the_same_member_under_its_new_key() -> None:
    world = World(GOLD)
    alias = {"alias_label": "cookie", "alias_name": "c1"}
    world.write(as_messages_of_alias(alias), tracked(attributes=[{"user_alias": alias, "plan": "gold"}]))
    (entry,) = world.sink.published
    assert (entry.entered, entry.external_id) == (True, None)
    world.write(identified("u9", "cookie", "c1"))
    assert world.sink.published == [entry]  # the same user (braze_id): neither an exit nor a new entry
    assert world.memberships("u9") == {"gold": "2026-12-05T12:00:00.000Z"}
    world.write(tracked(attributes=[{"external_id": "u9", "plan": "free"}]))
    (exit_,) = world.sink.published[1:]
    assert (exit_.entered, exit_.braze_id, exit_.home, exit_.order > entry.order) == (
        False,
        entry.braze_id,
        "u#x:u9",
        True,
    )


def as_messages_of_alias(alias: dict[str, str]) -> Any:
    from audience_sync.profiles import requests

    return as_messages(requests.plan_aliases({"user_aliases": [alias]}))


def _day() -> list[Any]:
    return [
        tracked(
            attributes=[{"external_id": "u1", "plan": "gold"}, {"external_id": "u2", "plan": "gold"}],
            events=[
                {"external_id": "u1", "name": "order", "time": T},
                {"external_id": "u1", "name": "order", "time": T},
            ],
        ),
        tracked(attributes=[{"external_id": "u2", "plan": "free"}, {"external_id": "u3", "plan": "gold"}]),
        merged({"external_id": "u1"}, {"external_id": "u3"}) + deleted(external_ids=["u2"]),
    ]


def test_a_crash_after_any_write_then_redelivery_publishes_what_a_clean_run_does() -> None:
    day = _day()
    world = World(GOLD, BUYERS)
    world.write(*day)
    clean, clean_members, total = world.store.snapshot(), world.sink.members(), world.store.writes
    assert clean_members == {"gold": {"u#x:u1"}, "buyers": {"u#x:u1"}}
    for crash_at in range(1, total + 1):
        world = World(GOLD, BUYERS)
        world.store.crash_after_writes = crash_at
        for batch in day:
            try:
                world.writer.write(batch)
            except Crash:
                world.writer.write(batch)  # SQS delivers the batch again
        assert world.store.snapshot() == clean, f"crash after write {crash_at}"
        assert world.sink.members() == clean_members, f"crash after write {crash_at}"


@pytest.mark.parametrize("batch", range(3))
def test_transitions_the_queue_refused_are_published_when_the_batch_comes_again(batch: int) -> None:
    day = _day()
    clean = World(GOLD, BUYERS)
    clean.write(*day)
    world = World(GOLD, BUYERS)
    for index, messages in enumerate(day):
        world.sink.fail_next = index == batch
        try:
            world.writer.write(messages)
        except SinkFailed:
            world.writer.write(messages)
    assert world.sink.members() == clean.sink.members()
    assert {(t.segment_id, t.home, t.order, t.entered) for t in world.sink.published} == {
        (t.segment_id, t.home, t.order, t.entered) for t in clean.sink.published
    }
