"""The segment router: a step's own segment's entries and exits into the pipeline (entries with the profile's
identifiers, exits with the identifiers the entry was sent with), stale transitions dropped, every exit of the own
segment (which decided it) a removal, and message-derived ids so a redelivery counts once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from audience_sync.pipeline.ingest import IngestService
from audience_sync.pipeline.messages import QueuedMessage
from audience_sync.segments.membership import DELETED, WITHDRAWN, Transition, order_of
from audience_sync.segments.ports import MemberKey, StoredMember
from audience_sync.sources.profile_users import ProfileUser, complete, from_profile
from audience_sync.sources.segment.router import SegmentRouter, keys_to_read
from audience_sync.sources.webhook.models import WebhookUser
from tests.unit.pipeline import test_ingest as ingest_fakes


def step(**source: Any) -> dict[str, Any]:
    base = dict(ingest_fakes.ACTIVE_STEP["config"])  # type: ignore[call-overload]
    config = {**base, "source": {"type": "segment", "segment_id": "gold", **source}}
    return {**ingest_fakes.ACTIVE_STEP, "config": config}


@dataclass
class FakeProfiles:
    users: dict[str, ProfileUser] = field(default_factory=dict)

    def by_home(self, homes: Sequence[str]) -> dict[str, ProfileUser]:
        return {h: self.users[h] for h in homes if h in self.users}


def t(n: int, entered: bool, seq: int, segment: str = "step:s1", **flags: Any) -> Transition:
    return Transition(
        segment, f"u#x:u{n}", f"b{n}", f"u{n}", entered, "2026-12-05T12:00:00.000Z", order_of(seq), **flags
    )


def user(n: int) -> ProfileUser:
    return ProfileUser(external_id=f"u{n}", email=f"u{n}@example.com")


def router(item: dict[str, Any], profiles: FakeProfiles | None = None) -> tuple[SegmentRouter, ingest_fakes.FakeQueue]:
    queue = ingest_fakes.FakeQueue()
    ingest = IngestService(ingest_fakes.FakeStepRepository(item), queue, now_ms=lambda: 1_790_000_100_000)
    return SegmentRouter(
        ingest_fakes.FakeStepRepository(item),
        ingest,
        profiles or FakeProfiles({f"u#x:u{n}": user(n) for n in range(5)}),
    ), queue


def sent(n: int) -> dict[str, Any]:
    return {"x": f"u{n}", "e": f"hash-of-u{n}"}


def test_entries_enter_with_the_profiles_identifiers_and_are_kept_for_their_removal() -> None:
    route, queue = router(step())
    routed = route.route([t(1, True, 1), t(2, True, 1, baseline=True)], {}, "m-1")
    (message,) = queue.messages()
    assert [x["x"] for x in message.users] == ["u1"]  # a baseline entry only when the step backfills
    assert (message.target.action, message.target.leaving, message.entry) == (
        "add",
        False,
        {"entered": 1, "proceeded": 1},
    )
    assert message.users[0]["o"] == f"b1:{order_of(1)}"
    assert set(routed.sent) == {("step:s1", "b1")} and routed.sent[("step:s1", "b1")]["x"] == "u1"
    assert "o" not in routed.sent[("step:s1", "b1")]  # what is kept is what identifies the user, not the move
    backfilled, queue = router(step(backfill=True))
    backfilled.route([t(2, True, 1, baseline=True)], {}, "m-1")
    assert [x["x"] for m in queue.messages() for x in m.users] == ["u2"]


def test_a_redelivered_message_queues_the_same_chunk_ids_and_a_stale_transition_nothing() -> None:
    route, queue = router(step())
    route.route([t(1, True, 2)], {}, "m-1")
    route.route([t(1, True, 2)], {("step:s1", "b1"): StoredMember(order_of(2), True)}, "m-1")  # the same, again
    first, second = queue.messages()
    assert first.chunk_id == second.chunk_id and first.bucket == second.bucket
    stale: Mapping[MemberKey, StoredMember] = {("step:s1", "b1"): StoredMember(order_of(3), False)}
    assert route.route([t(1, True, 2)], stale, "m-2").entered == {}
    assert len(queue.messages()) == 2


@pytest.mark.parametrize("sync_exits", [True, False])
def test_an_exit_of_the_own_segment_removes_with_the_identifiers_sent(sync_exits: bool) -> None:
    """The own segment decided what an exit is (sticky without sync_exits: only consent and deletes leave it)."""
    held = {("step:s1", f"b{n}"): StoredMember(order_of(1), True, sent(n)) for n in (1, 2, 3)}
    route, queue = router(step(sync_exits=sync_exits))
    exits = [t(1, False, 2), t(2, False, 2, deleted=True), t(4, False, 2)]  # u4 was never sent: nothing to remove
    routed = route.route(exits, held, "m-1")
    (message,) = queue.messages()
    assert (message.target.action, message.target.leaving, message.entry) == ("remove", True, {"left": 2})
    # each with its move, so a newer move of the same member in the same batch supersedes it (pipeline/moves.py)
    assert message.users == [{**sent(n), "o": f"b{n}:{order_of(2)}"} for n in (1, 2)]
    assert routed.removed == {("step:s1", "b1"), ("step:s1", "b2")} and routed.left == {"s1": 2}
    assert keys_to_read(exits + exits[:1]) == [("step:s1", "b1"), ("step:s1", "b2"), ("step:s1", "b4")]


def test_a_draft_or_unknown_step_takes_nothing() -> None:
    route, queue = router({**step(), "status": "draft"})
    assert route.route([t(1, True, 1)], {}, "m-1").entered == {}
    assert queue.sent == []


def test_a_profile_becomes_a_user_and_a_thin_webhook_user_is_completed_from_it() -> None:
    doc = {
        "braze_id": "b1",
        "external_id": "u1",
        "fields": {"email": "u1@example.com", "first_name": "Ana", "last_name": "Ruiz", "country": "KR"},
        "custom": {
            "android_gaid": "gaid-1",
            "ad_tracking_enabled": True,
            "seen": {"$time": "2026-12-01T00:00:00.000Z"},
        },
    }
    profile = from_profile(doc)
    assert (profile.email, profile.first_name, profile.last_name, profile.android_gaid) == (
        "u1@example.com",
        "Ana",
        "Ruiz",
        "gaid-1",
    )
    assert profile.lookup("country") == "KR" and profile.lookup("seen") == "2026-12-01T00:00:00.000Z"

    class Profiles:
        def by_external_id(self, ids: Any) -> dict[str, ProfileUser]:
            return {i: profile for i in ids if i == "u1"}

    thin, full = WebhookUser(external_id="u1", attributes={"vip": True}), WebhookUser(external_id="u1", email="x@y.io")
    completed_thin, completed_full = complete([thin, full], Profiles())  # type: ignore[arg-type]
    assert (completed_thin.email, completed_thin.lookup("ad_tracking_enabled"), completed_thin.lookup("vip")) == (
        "u1@example.com",
        True,
        True,
    )
    assert completed_full == full  # it carries an identifier: sent as it came


def test_queued_messages_of_leaving_users_count_removed_not_synced() -> None:
    from audience_sync.core.metrics import public_metrics

    shown = public_metrics({"entered": 3, "synced": 2, "left": 2, "removed": 1, "errored": 1}, follows_segment=True)
    assert (shown["pending"], shown["left"], shown["removed"]) == (1, 2, 1)
    assert "left" not in public_metrics({"entered": 1})
    assert QueuedMessage.model_validate_json(
        '{"chunk_id": "c", "step_id": "s", "users": [], "entry": {"left": 1}, "first_enqueued_at": 1, '
        '"target": {"connection_id": "linkedin", "ad_account_id": "1", "audience_id": "2", "action": "remove", '
        '"leaving": true}}'
    ).target.leaving


@dataclass
class ManySteps:
    """Several steps: the router reads one by id, and lists them all for a deletion."""

    items: dict[str, dict[str, Any]]

    def get(self, step_id: str) -> dict[str, Any]:
        return {**self.items[step_id], "step_id": step_id}

    def list_all(self) -> list[dict[str, Any]]:
        return [self.get(step_id) for step_id in sorted(self.items)]


def test_a_deleted_user_leaves_every_launched_webhook_step_that_adds_with_its_match_fields_only() -> None:
    config = ingest_fakes.ACTIVE_STEP["config"]
    assert isinstance(config, dict)

    def webhook(**changes: Any) -> dict[str, Any]:
        return {**ingest_fakes.ACTIVE_STEP, "config": {**config, **changes.pop("config", {})}, **changes}

    steps = ManySteps(
        {
            "by-email": webhook(),
            "by-gaid": webhook(config={"match_fields": ["android_gaid"]}),
            "by-name": webhook(config={"match_fields": ["first_last_name"]}),  # the profile has no name
            "draft": webhook(status="draft"),
            "removing": webhook(config={"action": "remove"}),  # puts nobody in its audience
            "following": step(sync_exits=True),  # its own segment's exits tell it
        }
    )
    queue = ingest_fakes.FakeQueue()
    ingest = IngestService(steps, queue, now_ms=lambda: 1_790_000_100_000)
    route = SegmentRouter(steps, ingest, FakeProfiles())
    gone = replace(t(1, False, 3, segment=DELETED, deleted=True), identifiers={"x": "u1", "e": "h1", "g": "g1"})
    routed = route.route([gone], {}, "m-1")
    assert routed.left == {"by-email": 1, "by-gaid": 1}
    assert {m.step_id: (m.target.action, m.target.leaving, m.users) for m in queue.messages()} == {
        "by-email": ("remove", True, [{"x": "u1", "e": "h1"}]),
        "by-gaid": ("remove", True, [{"x": "u1", "g": "g1"}]),
    }
    assert keys_to_read([gone]) == [] and routed.removed == set()  # the members' index keeps no deletion


def test_a_withdrawal_removes_the_user_from_that_webhook_step_if_it_still_fails_its_filters_now() -> None:
    config = ingest_fakes.ACTIVE_STEP["config"]
    assert isinstance(config, dict)
    consent = [{"attribute": "ad_tracking_enabled", "op": "eq", "value": True}]
    steps = ManySteps(
        {
            "consenting": {**ingest_fakes.ACTIVE_STEP, "config": {**config, "entry_filters": consent}},
            "relaunched": {**ingest_fakes.ACTIVE_STEP, "config": config},  # no entry filters any more
        }
    )
    queue = ingest_fakes.FakeQueue()
    profiles = FakeProfiles(
        {
            "u#x:u1": ProfileUser("u1", email="u1@example.com", attributes={"ad_tracking_enabled": False}),
            "u#x:u2": ProfileUser("u2", email="u2@example.com", attributes={"ad_tracking_enabled": True}),  # back
        }
    )
    route = SegmentRouter(steps, IngestService(steps, queue, now_ms=lambda: 1_790_000_100_000), profiles)

    def notice(n: int, step_id: str) -> Transition:
        withdrawn = t(n, False, 2, segment=WITHDRAWN + step_id)
        return replace(withdrawn, identifiers={"x": f"u{n}", "e": f"h{n}"})

    routed = route.route([notice(1, "consenting"), notice(2, "consenting"), notice(1, "relaunched")], {}, "m-1")
    assert routed.left == {"consenting": 1}
    (message,) = queue.messages()
    assert (message.step_id, message.target.action, message.users) == ("consenting", "remove", [{"x": "u1", "e": "h1"}])
