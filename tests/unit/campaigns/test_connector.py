"""campaigns/connector.py and activities.py: the Campaign Connector's rules, scenario by scenario, with the campaign
state, the scheduler and the pipeline's queue in memory. Publish order, active only, property filters, the window,
re-eligibility, delays with exceptions only while waiting, a stop while users wait, the audience at send time,
interactions (ours and posted), and a redelivered activity that sends nothing twice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from audience_sync.campaigns.activities import Activity, Due, TriggerIndex, decode, encode, interaction
from audience_sync.campaigns.connector import CampaignConnector, InteractionService, dispatch_id, schedule_name
from audience_sync.campaigns.delivery import CampaignTriggers, campaign_metrics, load
from audience_sync.campaigns.exceptions import UserBusy
from audience_sync.campaigns.models import InteractionsRequest
from audience_sync.campaigns.routing import ActivityRouter, WebhookInteractions
from audience_sync.core.metrics import campaign_counters_id
from audience_sync.pipeline.ingest import Entrant
from audience_sync.pipeline.messages import QueuedMessage
from audience_sync.pipeline.ports import PublishFailed
from audience_sync.profiles.ports import Item
from tests.fakes.campaign_fakes import FakeCampaignState, FakeCampaignStore, FakeWaitScheduler
from tests.fakes.profile_fakes import FakeProfileStore
from tests.fakes.sync_fakes import FakeClock

PUBLISHED = "2026-12-06T10:00:00.000Z"
PUBLISHED_MS = 1_796_551_200_000  # PUBLISHED in epoch ms
AFTER = PUBLISHED_MS + 60_000
BODY = '{"user": "{{${user_id}}}", "plan": "{{event_properties.${plan}}}", "d": "{{campaign.${dispatch_id}}}"}'


def campaign(
    campaign_id: str = "follow",
    trigger: dict[str, Any] | None = None,
    status: str = "active",
    published_at: str = PUBLISHED,
    delivery_type: str = "action",
    **delivery: Any,
) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "name": campaign_id,
        "message": {"channel": "webhook", "url": "https://hooks.example.com/x", "body": BODY},
        "delivery": {"type": "api"}
        if delivery_type == "api"
        else {"type": "action", "trigger": trigger or {"custom_event": "signed_up"}, **delivery},
    }
    audience = delivery.pop("audience", None)
    if audience:
        definition["audience"] = {"segment_id": audience}
        definition["delivery"].pop("audience", None)
    control = delivery.pop("control_group_percent", None)
    if control:
        definition["control_group_percent"] = control
        definition["delivery"].pop("control_group_percent", None)
    return {"campaign_id": campaign_id, "status": status, "published_at": published_at, "definition": definition}


class Publisher:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, bodies: Sequence[str], correlation_id: str | None = None) -> None:
        self.bodies += bodies

    def messages(self) -> list[QueuedMessage]:
        return [QueuedMessage.model_validate_json(b) for b in self.bodies]

    def webhooks(self) -> list[Any]:
        return [u for m in self.messages() for u in m.users]


class NoSteps:
    def enter(self, step_id: str, users: Sequence[Entrant], correlation_id: str | None) -> dict[str, Any]:
        raise AssertionError("no audience_sync campaign here")


class World:
    """The connector with everything it talks to in memory."""

    def __init__(self, *campaigns: dict[str, Any], users: Sequence[str] = ("u1", "u2")):
        self.clock = FakeClock(AFTER)
        self.store = FakeCampaignStore({c["campaign_id"]: c for c in campaigns})
        self.profiles = FakeProfileStore()
        for external_id in users:
            self.profile(external_id)
        self.queue = Publisher()  # the sync queue
        self.activities = Publisher()  # the campaign activity queue
        self.state = FakeCampaignState(now=self.clock.now_ms)
        self.scheduler = FakeWaitScheduler()
        self.router = ActivityRouter(lambda: TriggerIndex(self.store.all()), self.activities, self.clock)
        self.triggers = CampaignTriggers(
            self.store, self.profiles, self.queue, NoSteps(), self.clock, enrolled=self.router.enrolled
        )
        self.connector = CampaignConnector(
            lambda: TriggerIndex(self.store.all(), load),
            self.state,
            self.scheduler,
            self.store,
            self.triggers,
            self.clock,
        )

    def profile(self, external_id: str, segments: dict[str, str] | None = None) -> None:
        doc = {"braze_id": "b-" + external_id, "external_id": external_id, "fields": {}, "custom": {}}
        doc["segments"] = segments or {}
        key = "u#x:" + external_id
        self.profiles.items[(key, "p")] = Item(key, "p", doc, 1)

    def event(self, name: str = "signed_up", user: str = "u1", at: int = AFTER, aid: str = "a1", **props: Any) -> Any:
        return self.connector.handle([Activity("custom_event", user, name, at, aid, props)])

    def fire(self) -> Any:
        """Every schedule fires: its body reaches the connector as the activity queue would deliver it."""
        dues = [decode(body) for _, body in self.scheduler.schedules.values()]
        self.scheduler.schedules.clear()
        return self.connector.handle(dues)

    def metrics(self, campaign_id: str = "follow") -> dict[str, int]:
        """The campaign's metrics as the API shows them once the pipeline counted the queued messages."""
        item = dict(self.state.counts.get(campaign_id, {}))
        for message in self.queue.messages():
            if message.step_id == campaign_counters_id(campaign_id):
                for name, n in message.entry.items():
                    item[name] = item.get(name, 0) + n
        return campaign_metrics(item)


# ---- triggers and the rules ---------------------------------------------------------------------------------------
def test_an_event_triggers_a_webhook_rendered_with_its_properties() -> None:
    world = World(campaign(trigger={"custom_event": "signed_up"}))
    world.event(plan="gold")
    (webhook,) = world.queue.webhooks()
    assert webhook["x"] == "u1" and webhook["d"] == dispatch_id("follow", "u1", "a1")
    assert json.loads(webhook["w"]["b"]) == {"user": "u1", "plan": "gold", "d": dispatch_id("follow", "u1", "a1")}
    assert world.metrics()["triggered"] == 1


def test_a_campaign_this_version_cannot_read_is_skipped_and_the_others_send() -> None:
    broken = campaign("broken")
    broken["definition"]["message"]["body"] = "{{ unclosed"  # saved by a version whose Liquid took it
    world = World(broken, campaign("follow"))
    world.event(plan="gold")
    (webhook,) = world.queue.webhooks()
    assert webhook["d"] == dispatch_id("follow", "u1", "a1")


def test_property_filters_all_hold_on_the_events_properties() -> None:
    trigger = {
        "custom_event": "purchase_intent",
        "property_filters": [
            {"property": "plan", "op": "eq", "value": "gold"},
            {"property": "seats", "op": "gt", "value": 2},
        ],
    }
    world = World(campaign(trigger=trigger))
    world.event("purchase_intent", aid="a1", plan="gold", seats=1)
    world.event("purchase_intent", aid="a2", plan="free", seats=5)
    world.event("purchase_intent", aid="a3")
    assert world.queue.webhooks() == []
    world.event("purchase_intent", aid="a4", plan="gold", seats=3)
    assert len(world.queue.webhooks()) == 1


def test_only_active_campaigns_and_only_what_happened_after_publishing_trigger() -> None:
    world = World(campaign("draft", status="draft"), campaign("stopped", status="stopped"), campaign("live"))
    world.event(at=PUBLISHED_MS - 1, aid="before")
    assert world.queue.webhooks() == []  # before live was published
    world.event(at=PUBLISHED_MS, aid="at")
    assert {m.step_id for m in world.queue.messages()} == {campaign_counters_id("live")}


def test_the_window_bounds_when_a_user_may_be_triggered() -> None:
    start, end = "2026-12-06T11:00:00Z", "2026-12-06T12:00:00Z"
    world = World(campaign(start_at=start, end_at=end), users=("u1", "u2", "u3"))
    world.event(user="u1", at=PUBLISHED_MS + 3_600_000 - 1, aid="early")
    world.event(user="u2", at=PUBLISHED_MS + 7_200_000, aid="late")  # end_at is not inside
    world.event(user="u3", at=PUBLISHED_MS + 3_600_000, aid="in")
    assert [w["x"] for w in world.queue.webhooks()] == ["u3"]


def test_purchases_by_product_or_any_product() -> None:
    world = World(campaign("one", trigger={"purchase": "sku-1"}), campaign("any", trigger={"purchase": "*"}))
    world.connector.handle([Activity("purchase", "u1", "sku-2", AFTER, "p1")])
    assert {m.step_id for m in world.queue.messages()} == {campaign_counters_id("any")}
    world.connector.handle([Activity("purchase", "u2", "sku-1", AFTER, "p2")])
    assert sorted(m.step_id for m in world.queue.messages()) == sorted(
        campaign_counters_id(c) for c in ("any", "one", "any")
    )


def test_a_user_is_triggered_once_unless_re_eligible() -> None:
    world = World(campaign("once"), campaign("daily", reeligible_after_seconds=86_400))
    world.event(aid="a1")
    world.event(aid="a2", at=AFTER + 1_000)
    world.event(aid="a3", at=AFTER + 86_400_000)
    sent = [m.step_id for m in world.queue.messages()]
    assert sent.count(campaign_counters_id("once")) == 1
    assert sent.count(campaign_counters_id("daily")) == 2


def test_copies_of_an_activity_send_once_in_one_batch_or_across_batches() -> None:
    world = World(campaign(reeligible_after_seconds=0), campaign("any", trigger={"purchase": "*"}))
    signed_up = Activity("custom_event", "u1", "signed_up", AFTER, "a1")
    world.connector.handle([signed_up, signed_up])
    world.connector.handle([signed_up])  # a copy delivered to another invocation meanwhile
    world.clock.sleep(600)
    world.connector.handle([signed_up])  # redelivered after it was acted on
    world.connector.handle([Activity("purchase", "u1", "*", AFTER, "p1")])  # a product named "*": found once
    sent = [m.step_id for m in world.queue.messages()]
    assert sent == [campaign_counters_id("follow"), campaign_counters_id("any")]
    assert world.metrics()["triggered"] == 1


def test_an_activity_redelivered_after_a_crash_before_it_was_acted_on_is_sent_and_counted_once() -> None:
    world = World(campaign())
    activity = Activity("custom_event", "u1", "signed_up", AFTER, "a1")
    real_finish = world.state.finish
    world.state.finish = lambda *args: (_ for _ in ()).throw(RuntimeError("crash"))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        world.connector.handle([activity])  # queued its send, crashed before marking the entry done
    world.state.finish = real_finish  # type: ignore[method-assign]
    world.clock.sleep(180)  # the queue's visibility timeout
    world.connector.handle([activity])
    first, again = world.queue.messages()
    assert first.chunk_id == again.chunk_id  # the same entry: the ledger settles the copy as a duplicate
    assert first.users == again.users


def test_unknown_users_and_users_outside_the_audience_are_not_triggered() -> None:
    world = World(campaign(audience="gold"), users=("inside", "outside"))
    world.profile("inside", segments={"gold": "2026-01-01T00:00:00.000Z"})
    world.event(user="nobody", aid="a0")
    world.event(user="outside", aid="a1")
    world.event(user="inside", aid="a2")
    assert [w["x"] for w in world.queue.webhooks()] == ["inside"]
    assert world.metrics()["triggered"] == 1


# ---- delays and exceptions ------------------------------------------------------------------------------------------
def delayed(**extra: Any) -> dict[str, Any]:
    return campaign(delay_seconds=3_600, exceptions=[{"custom_event": "purchased"}], **extra)


def test_a_delayed_send_waits_then_goes_when_due() -> None:
    world = World(delayed())
    world.event(plan="gold")
    assert world.queue.webhooks() == []
    ((due_ms, _body),) = world.scheduler.schedules.values()
    assert due_ms == AFTER + 3_600_000
    assert list(world.scheduler.schedules) == [schedule_name(dispatch_id("follow", "u1", "a1"))]
    assert world.metrics()["scheduled"] == 1 and world.metrics()["triggered"] == 1
    world.fire()
    (webhook,) = world.queue.webhooks()
    assert json.loads(webhook["w"]["b"])["plan"] == "gold"  # the triggering event's properties, kept while waiting
    metrics = world.metrics()
    assert metrics["scheduled"] == 0 and metrics["triggered"] == 1  # triggered when the wait started, once
    assert world.state.waits == {}


def test_an_exception_while_waiting_cancels_the_send() -> None:
    world = World(delayed())
    world.event()
    (name,) = world.scheduler.schedules
    world.event("purchased", aid="x1", at=AFTER + 10)
    assert world.scheduler.cancelled == [name]
    world.connector.handle([Due("follow", "u1", dispatch_id("follow", "u1", "a1"))])  # a schedule that fired anyway
    assert world.queue.webhooks() == []
    metrics = world.metrics()
    assert metrics["exception_cancelled"] == 1 and metrics["scheduled"] == 0


def test_an_exception_before_the_wait_changes_nothing() -> None:
    world = World(delayed())
    world.event("purchased", aid="x0", at=AFTER - 10)  # no wait yet
    world.event()
    world.event("purchased", aid="x1", at=AFTER - 5)  # arrives late, but happened before the trigger
    world.fire()
    assert len(world.queue.webhooks()) == 1
    assert world.metrics()["exception_cancelled"] == 0


def test_a_user_waiting_is_not_entered_again() -> None:
    world = World(delayed(reeligible_after_seconds=0))
    world.event(aid="a1")
    world.event(aid="a2", at=AFTER + 1)
    assert len(world.scheduler.schedules) == 1
    world.fire()
    assert len(world.queue.webhooks()) == 1


def test_a_campaign_stopped_while_users_wait_sends_them_nothing() -> None:
    world = World(delayed())
    world.event()
    world.store.items["follow"]["status"] = "stopped"
    waiting = dict(world.state.counts["follow"])
    assert campaign_metrics(waiting, "stopped")["scheduled"] == 0  # nobody is waiting to be sent any more
    assert campaign_metrics(waiting, "active")["scheduled"] == 1
    world.fire()
    assert world.queue.webhooks() == []
    assert world.metrics()["scheduled"] == 0


def test_the_audience_is_checked_again_when_the_wait_ends() -> None:
    world = World(delayed(audience="gold"))
    world.profile("u1", segments={"gold": "2026-01-01T00:00:00.000Z"})
    world.event()
    world.profile("u1", segments={})  # left the segment while waiting
    world.fire()
    assert world.queue.webhooks() == []
    assert world.metrics()["aborted"] == 1 and world.metrics()["triggered"] == 1


def test_copies_of_a_due_send_once() -> None:
    world = World(delayed())
    world.event()
    due = Due("follow", "u1", dispatch_id("follow", "u1", "a1"))
    world.connector.handle([due, due])
    world.connector.handle([due])
    assert len(world.queue.webhooks()) == 1


def test_an_exception_handled_before_the_trigger_it_followed_still_cancels_the_wait() -> None:
    world = World(delayed())
    trigger = Activity("custom_event", "u1", "signed_up", AFTER, "a1")
    exception = Activity("custom_event", "u1", "purchased", AFTER + 10, "x1")
    world.connector.handle([exception])  # the queue keeps no order
    world.connector.handle([trigger])
    assert world.scheduler.schedules == {}
    assert world.metrics()["exception_cancelled"] == 1 and world.metrics()["scheduled"] == 0
    other = World(delayed())  # in one batch too
    other.connector.handle([exception, trigger])
    assert other.scheduler.schedules == {} and other.metrics()["exception_cancelled"] == 1


# ---- interactions --------------------------------------------------------------------------------------------------
def follow_up(source: str, kind: str, **extra: Any) -> dict[str, Any]:
    return campaign("follow", trigger={"interaction": {"campaign_id": source, "type": kind}}, **extra)


def test_a_delivered_webhook_records_received_webhook_which_triggers_a_follow_up() -> None:
    world = World(campaign("first", delivery_type="api"), follow_up("first", "received_webhook"))
    WebhookInteractions(lambda: world.router, world.clock).delivered(
        campaign_counters_id("first"), [{"x": "u1", "d": "d1"}]
    )
    WebhookInteractions(lambda: world.router, world.clock).delivered("a-step", [{"x": "u2"}])  # a step's: no
    activities = [decode(b) for b in world.activities.bodies]
    assert activities == [interaction("u1", "first", "received_webhook", AFTER, "w:d1:u1")]
    world.connector.handle(activities)
    assert [w["x"] for w in world.queue.webhooks()] == ["u1"]


def test_interactions_with_a_stopped_campaign_or_before_publishing_trigger_nothing() -> None:
    world = World(campaign("first", status="stopped", delivery_type="api"), follow_up("first", "email_opened"))
    world.connector.handle([interaction("u1", "first", "email_opened", AFTER, "i1")])
    world.store.items["first"]["status"] = "active"
    world.connector.handle([interaction("u1", "first", "email_opened", PUBLISHED_MS - 1, "i2")])
    assert world.queue.webhooks() == []
    world.connector.handle([interaction("u1", "first", "email_opened", AFTER, "i3")])
    assert len(world.queue.webhooks()) == 1


def test_a_delayed_follow_up_of_a_control_group_waits_for_each_user() -> None:
    follow = campaign(
        "follow",
        trigger={"interaction": {"campaign_id": "first", "type": "enrolled_in_control_group"}},
        delay_seconds=60,
    )
    world = World(
        campaign("first", delivery_type="api", control_group_percent=50), follow, users=[f"u{i}" for i in range(20)]
    )
    from audience_sync.campaigns.models import TriggerRequest

    request = TriggerRequest.model_validate({"recipients": [{"external_id": f"u{i}"} for i in range(20)]})
    control = world.triggers.trigger("first", request, None)["control"]
    world.connector.handle([decode(b) for b in world.activities.bodies])
    assert len(world.scheduler.schedules) == control > 1  # one wait, and one schedule, a user
    world.fire()
    follow_ups = [u for m in world.queue.messages() if m.step_id == campaign_counters_id("follow") for u in m.users]
    assert len(follow_ups) == control and world.metrics()["triggered"] == control


def test_a_trigger_whose_control_group_cannot_be_recorded_still_answers() -> None:
    world = World(campaign("first", delivery_type="api", control_group_percent=50), users=[f"u{i}" for i in range(9)])
    from audience_sync.campaigns.models import TriggerRequest

    def down(bodies: Sequence[str], correlation_id: str | None = None) -> None:
        raise PublishFailed(len(bodies))

    world.activities.send = down  # type: ignore[method-assign]
    request = TriggerRequest.model_validate({"recipients": [{"external_id": f"u{i}"} for i in range(9)]})
    world.store.items["follow-up"] = follow_up("first", "enrolled_in_control_group")
    answer = world.triggers.trigger("first", request, None)
    assert answer["control"] > 0 and answer["queued"] == 9 - answer["control"]


def test_a_control_group_records_enrolled_in_control_group() -> None:
    world = World(
        campaign("first", delivery_type="api", control_group_percent=50),
        follow_up("first", "enrolled_in_control_group"),
        users=[f"u{i}" for i in range(20)],
    )
    from audience_sync.campaigns.models import TriggerRequest

    request = TriggerRequest.model_validate({"recipients": [{"external_id": f"u{i}"} for i in range(20)]})
    answer = world.triggers.trigger("first", request, None)
    enrolled = [decode(b) for b in world.activities.bodies]
    assert len(enrolled) == answer["control"] > 0
    assert {a.name for a in enrolled if isinstance(a, Activity)} == {"enrolled_in_control_group"}
    world.connector.handle(enrolled)
    follow_ups = [m for m in world.queue.messages() if m.step_id == campaign_counters_id("follow")]
    assert sum(len(m.users) for m in follow_ups) == answer["control"]


def test_posted_interactions_are_counted_once_and_unknown_ones_ignored() -> None:
    world = World(campaign("first", delivery_type="api"), follow_up("first", "email_clicked"))
    service = InteractionService(world.store, world.triggers, world.state, world.router, world.clock)
    body = {
        "interactions": [
            {"external_id": "u1", "campaign_id": "first", "type": "email_clicked", "time": "2026-12-06T10:05:00Z"},
            {"external_id": "u1", "campaign_id": "first", "type": "email_clicked", "time": "2026-12-06T10:05:00Z"},
            {"external_id": "nobody", "campaign_id": "first", "type": "email_clicked"},
            {"external_id": "u1", "campaign_id": "unknown", "type": "email_clicked"},
            {"external_id": "u2", "campaign_id": "first", "type": "email_opened"},  # accepted; nobody listens
        ]
    }
    answer = service.record(InteractionsRequest.model_validate(body), None)
    assert answer == {"message": "success", "accepted": 2, "ignored": 3}
    again = service.record(InteractionsRequest.model_validate(body), None)
    assert again["accepted"] == 0
    published = [decode(b) for b in world.activities.bodies]
    assert {(a.external_id, a.name) for a in published if isinstance(a, Activity)} == {("u1", "email_clicked")}
    world.connector.handle(published)  # repeats published again are one activity: one follow-up
    assert len(world.queue.webhooks()) == 1


def test_posted_interactions_that_could_not_be_published_are_accepted_when_posted_again() -> None:
    world = World(campaign("first", delivery_type="api"), follow_up("first", "email_clicked"))
    service = InteractionService(world.store, world.triggers, world.state, world.router, world.clock)
    body = InteractionsRequest.model_validate(
        {"interactions": [{"external_id": "u1", "campaign_id": "first", "type": "email_clicked"}]}
    )
    send = world.activities.send

    def down(bodies: Sequence[str], correlation_id: str | None = None) -> None:
        raise PublishFailed(len(bodies))

    world.activities.send = down  # type: ignore[method-assign]
    with pytest.raises(PublishFailed):
        service.record(body, None)  # a 503
    world.activities.send = send  # type: ignore[method-assign]
    assert service.record(body, None)["accepted"] == 1


def test_messages_survive_the_queue() -> None:
    activity = Activity("custom_event", "u1", "e", 5, "a", {"k": [1, "é"]})
    assert decode(encode(activity)) == activity
    assert decode(encode(Due("c", "u", "w"))) == Due("c", "u", "w")
    with pytest.raises(KeyError):
        decode('{"other": 1}')


def test_a_re_eligible_user_is_triggered_by_each_of_its_activities_in_one_batch() -> None:
    world = World(campaign(reeligible_after_seconds=0), campaign("hourly", reeligible_after_seconds=3_600))
    times = (AFTER, AFTER + 1_000, AFTER + 3_600_000)
    world.connector.handle(
        [Activity("custom_event", "u1", "signed_up", t, f"a{i}") for i, t in enumerate(reversed(times))]
        + [Activity("custom_event", "u2", "signed_up", AFTER, "b0")]
    )
    sent = [m.step_id for m in world.queue.messages() for _ in m.users]
    assert sent.count(campaign_counters_id("follow")) == 4  # u1 three times, u2 once
    assert sent.count(campaign_counters_id("hourly")) == 3  # u1 at the first and an hour later, u2


def test_an_interaction_counts_only_if_it_happened_while_its_campaign_was_active() -> None:
    world = World(
        campaign("first", delivery_type="api", published_at="2026-12-06T10:30:00.000Z"),
        follow_up("first", "email_opened"),
    )
    world.connector.handle([interaction("u1", "first", "email_opened", AFTER, "i1")])  # before it was published again
    assert world.queue.webhooks() == []
    world.connector.handle([interaction("u1", "first", "email_opened", PUBLISHED_MS + 1_800_000, "i2")])
    assert len(world.queue.webhooks()) == 1


def test_a_campaign_stopped_and_published_again_while_users_wait_sends_them_nothing() -> None:
    world = World(delayed())
    world.event()
    world.store.items["follow"]["published_at"] = "2026-12-06T10:05:00.000Z"  # stopped, then published again
    world.fire()
    assert world.queue.webhooks() == []
    world.event(user="u2", aid="b1", at=PUBLISHED_MS + 400_000)  # triggered after the new publication: sent
    world.fire()
    assert [w["x"] for w in world.queue.webhooks()] == ["u2"]


def test_posted_interactions_in_the_future_are_taken_as_now_and_epoch_numbers_are_refused() -> None:
    from pydantic import ValidationError

    body = {"external_id": "u1", "campaign_id": "c", "type": "email_opened"}
    future = InteractionsRequest.model_validate({"interactions": [{**body, "time": "9999-12-31T23:59:59Z"}]})
    assert future.interactions[0].time_ms(AFTER) == AFTER
    past = InteractionsRequest.model_validate({"interactions": [{**body, "time": "2026-12-06T10:00:00"}]})
    assert past.interactions[0].time_ms(AFTER) == PUBLISHED_MS  # no offset: UTC
    for epoch in (12345, "1700000000", "-1"):
        with pytest.raises(ValidationError, match="ISO 8601"):
            InteractionsRequest.model_validate({"interactions": [{**body, "time": epoch}]})


# ---- failures midway: nothing lost, nothing sent or counted twice ------------------------------------------------
def failing_once(target: Any, name: str) -> None:
    """`target.name` raises the first time it is called, then works."""
    real = getattr(target, name)
    calls = {"n": 0}

    def once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError(f"{name} failed")
        return real(*args, **kwargs)

    setattr(target, name, once)


def test_a_wait_recorded_but_not_scheduled_is_scheduled_when_its_activity_comes_again() -> None:
    world = World(delayed())
    failing_once(world.scheduler, "schedule")
    activity = Activity("custom_event", "u1", "signed_up", AFTER, "a1")
    with pytest.raises(RuntimeError):
        world.connector.handle([activity], holder="h1")
    assert world.scheduler.schedules == {} and world.metrics()["scheduled"] == 1
    world.connector.handle([activity], holder="h1")  # the same invocation, or a redelivery
    assert list(world.scheduler.schedules) == [schedule_name(dispatch_id("follow", "u1", "a1"))]
    world.fire()
    assert len(world.queue.webhooks()) == 1 and world.metrics()["scheduled"] == 0


def test_a_failed_batchs_messages_tried_one_by_one_send_and_count_each_once() -> None:
    world = World(campaign(), users=("u1", "u2"))
    failing_once(world.state, "finish")
    batch = [Activity("custom_event", u, "signed_up", AFTER, f"a-{u}") for u in ("u1", "u2")]
    with pytest.raises(RuntimeError):
        world.connector.handle(batch, holder="h1")  # both queued, then the first finish failed
    for activity in batch:
        world.connector.handle([activity], holder="h1")
    by_chunk = {m.chunk_id: m for m in world.queue.messages()}
    assert sorted(u["x"] for m in by_chunk.values() for u in m.users) == ["u1", "u2"]  # the ledger settles copies once
    assert sum(m.entry.get("triggered", 0) for m in by_chunk.values()) == 2


def test_a_re_eligible_users_later_activity_waits_for_the_earlier_one() -> None:
    world = World(campaign(reeligible_after_seconds=0))
    earlier = Activity("custom_event", "u1", "signed_up", AFTER, "a1")
    later = Activity("custom_event", "u1", "signed_up", AFTER + 1_000, "a2")
    failing_once(world.state, "finish")
    with pytest.raises(RuntimeError):
        world.connector.handle([earlier], holder="h1")  # its entry claimed, not finished
    with pytest.raises(UserBusy):
        world.connector.handle([later], holder="h2")  # delivered again later, not dropped
    world.connector.handle([earlier], holder="h1")
    world.connector.handle([later], holder="h2")
    assert len({m.chunk_id for m in world.queue.messages()}) == 2


def test_a_repeat_of_an_interaction_posted_with_a_future_time_is_still_a_repeat() -> None:
    world = World(
        campaign("first", delivery_type="api"), follow_up("first", "email_clicked", reeligible_after_seconds=0)
    )
    service = InteractionService(world.store, world.triggers, world.state, world.router, world.clock)
    body = InteractionsRequest.model_validate(
        {
            "interactions": [
                {"external_id": "u1", "campaign_id": "first", "type": "email_clicked", "time": "2030-01-01T00:00:00Z"}
            ]
        }
    )
    assert service.record(body, None)["accepted"] == 1
    world.clock.sleep(5)
    assert service.record(body, None)["accepted"] == 0
    published = [decode(b) for b in world.activities.bodies]
    assert len({a.activity_id for a in published if isinstance(a, Activity)}) == 1
    assert {a.time_ms for a in published if isinstance(a, Activity)} <= {AFTER, AFTER + 5_000}  # taken as now


def test_the_event_that_starts_a_wait_does_not_end_it_though_it_is_also_an_exception() -> None:
    world = World(
        campaign(trigger={"custom_event": "cart"}, delay_seconds=300, exceptions=[{"custom_event": "cart"}]),
        campaign("any", trigger={"purchase": "*"}, delay_seconds=300, exceptions=[{"purchase": "sku1"}]),
    )
    world.event("cart", aid="c1")
    world.connector.handle([Activity("purchase", "u1", "sku1", AFTER, "p1")])
    assert len(world.scheduler.schedules) == 2
    world.event("cart", aid="c2", at=AFTER + 10)  # a second cart while waiting: the exception of the first wait
    assert len(world.scheduler.schedules) == 1 and world.metrics()["exception_cancelled"] == 1
    world.fire()
    assert [m.step_id for m in world.queue.messages()] == [campaign_counters_id("any")]


def test_local_modes_time_scale_divides_re_eligibility() -> None:
    world = World(campaign(reeligible_after_seconds=600))
    world.connector.time_scale = 60  # 600 s is 10 s
    world.event(aid="a1")
    world.event(aid="a2", at=AFTER + 9_999)
    world.event(aid="a3", at=AFTER + 10_000)
    assert len(world.queue.webhooks()) == 2
