"""campaigns/delivery.py: planning each send (audience, control group, rendering, abort, failure) and an API trigger
queueing the planned webhooks for the one pipeline, with the campaign's counts riding on its messages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from audience_sync.campaigns.delivery import Campaign, CampaignTriggers, Send, in_control_group, load, plan
from audience_sync.campaigns.models import TriggerRequest
from audience_sync.campaigns.rendering import MAX_RENDERED_BYTES
from audience_sync.core.errors import Conflict, NotFound
from audience_sync.core.metrics import StepDelta
from audience_sync.pipeline.ingest import Entrant
from audience_sync.pipeline.messages import QueuedMessage
from audience_sync.profiles.ports import Item
from tests.fakes.campaign_fakes import FakeCampaignStore
from tests.fakes.profile_fakes import FakeProfileStore
from tests.fakes.sync_fakes import FakeClock

BODY = '{"id": "{{${user_id}}}", "name": "{{${first_name} | default: \'friend\'}}", "d": "{{campaign.${dispatch_id}}}"}'


def stored(
    message: dict[str, Any] | None = None, status: str = "active", updated_at: str = "t1", **extra: Any
) -> dict[str, Any]:
    definition = {
        "name": "c",
        "message": message or {"channel": "webhook", "url": "https://e.com/{{${braze_id}}}", "body": BODY},
        "delivery": {"type": "api"},
        **extra,
    }
    return {"campaign_id": "c1", "status": status, "updated_at": updated_at, "definition": definition}


def profile(external_id: str, **fields: Any) -> dict[str, Any]:
    custom = fields.pop("custom", {})
    segments = fields.pop("segments", {})
    return {
        "braze_id": "b-" + external_id,
        "external_id": external_id,
        "fields": fields,
        "custom": custom,
        "segments": segments,
    }


def test_each_user_gets_its_rendered_webhook_and_the_sends_dispatch_id() -> None:
    result = plan(load(stored()), [Send(profile("u1", first_name="Ann"), "d1"), Send(profile("u2"), "d1")])
    assert [q["x"] for q in result.queued] == ["u1", "u2"]
    first, second = result.queued
    assert first["d"] == "d1"
    assert first["w"] == {
        "m": "POST",
        "u": "https://e.com/b-u1",
        "h": {},
        "b": json.dumps({"id": "u1", "name": "Ann", "d": "d1"}),
    }
    assert json.loads(second["w"]["b"])["name"] == "friend"
    assert not result.counts  # the queued users' counts ride on their messages, one each


def test_the_audience_is_checked_and_outsiders_are_not_triggered() -> None:
    campaign = load(stored(audience={"segment_id": "gold"}))
    inside = profile("in", segments={"gold": "2026-01-01T00:00:00.000Z"})
    result = plan(campaign, [Send(inside, "d"), Send(profile("out", segments={"free": "x"}), "d")])
    assert [q["x"] for q in result.queued] == ["in"] and result.not_in_audience == 1
    assert result.counts.counts["triggered"] == 0


def test_the_control_group_is_a_stable_share_counted_and_sent_nothing() -> None:
    campaign = load(stored(control_group_percent=30))
    people = [profile(f"u{i}") for i in range(1000)]
    result = plan(campaign, [Send(p, "d") for p in people])
    control = result.counts.counts["control"]
    assert 230 < control < 370  # 30 % of 1,000, give or take the draw
    assert len(result.queued) == 1000 - control and result.counts.counts["triggered"] == control
    held = {p["external_id"] for p in people if in_control_group("c1", p["braze_id"], 30)}
    assert held.isdisjoint(q["x"] for q in result.queued) and len(held) == control
    assert not in_control_group("c1", "b-u1", 0)


def test_abort_message_template_errors_and_oversized_webhooks() -> None:
    body = (
        "{% if custom_attribute.${vip} != true %}{% abort_message('not vip') %}{% endif %}"
        "{{ custom_attribute.${n} | divided_by: 0 }}"
    )
    campaign = load(stored({"channel": "webhook", "url": "https://e.com", "body": body}))
    result = plan(
        campaign,
        [Send(profile("a", custom={"vip": False}), "d"), Send(profile("b", custom={"vip": True, "n": 4}), "d")],
    )
    assert result.queued == []
    assert result.counts.attributes() == {
        "triggered": 2,
        "aborted": 1,
        "errored": 1,
        "errored_reason_template_error": 1,
    }

    big = load(
        stored(
            {"channel": "webhook", "url": "https://e.com", "body": "{{ custom_attribute.${blob} }}"}, updated_at="t2"
        )
    )
    result = plan(big, [Send(profile("a", custom={"blob": "x" * MAX_RENDERED_BYTES}), "d")])
    assert result.counts.attributes() == {"triggered": 1, "errored": 1, "errored_reason_webhook_too_large": 1}


def test_standard_tags_read_the_profiles_standard_fields() -> None:
    tags = ["user_id", "braze_id", "first_name", "last_name", "email_address", "phone_number", "city", "country"]
    tags += ["language", "time_zone", "gender", "date_of_birth"]
    body = "|".join("{{${%s}}}" % tag for tag in tags)  # noqa: UP031 - Liquid's braces
    fields = {
        "first_name": "F",
        "last_name": "L",
        "email": "e@x.io",
        "phone": "555",
        "home_city": "Town",
        "country": "KR",
        "language": "ko",
        "time_zone": "Asia/Seoul",
        "gender": "F",
        "dob": "1990-02-03",
    }
    campaign = load(stored({"channel": "webhook", "url": "https://e.com", "body": body}, updated_at="t3"))
    (queued,) = plan(campaign, [Send(profile("u1", **fields), "d")]).queued
    assert queued["w"]["b"] == "u1|b-u1|F|L|e@x.io|555|Town|KR|ko|Asia/Seoul|F|1990-02-03"


def test_an_audience_sync_campaign_hands_its_users_to_the_step() -> None:
    campaign = load(stored({"channel": "audience_sync", "step_id": "s1"}, updated_at="t4"))
    result = plan(campaign, [Send(profile("u1", email="a@b.co"), "d")])
    assert result.queued == [] and [p["external_id"] for p in result.entrants] == ["u1"]
    assert result.counts.counts["triggered"] == 1


# ---- the API trigger -----------------------------------------------------------------------------------------
class Publisher:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, bodies: Sequence[str], correlation_id: str | None = None) -> None:
        self.bodies += bodies

    def messages(self) -> list[QueuedMessage]:
        return [QueuedMessage.model_validate_json(b) for b in self.bodies]


class Steps:
    def __init__(self) -> None:
        self.entered: list[tuple[str, list[str]]] = []

    def enter(self, step_id: str, users: Sequence[Entrant], correlation_id: str | None) -> dict[str, Any]:
        self.entered.append((step_id, [u.external_id for u in users]))
        return {"accepted": len(users) - 1, "filtered": 1, "not_synced": 0}


def triggers(*campaigns: dict[str, Any]) -> tuple[CampaignTriggers, Publisher, Steps]:
    store = FakeCampaignStore({c["campaign_id"]: c for c in campaigns})
    profiles = FakeProfileStore()
    for external_id in ("u1", "u2", "u3"):
        doc = profile(external_id, email=f"{external_id}@x.io")
        profiles.items[("u#x:" + external_id, "p")] = Item("u#x:" + external_id, "p", doc, 1)
    publisher, steps = Publisher(), Steps()
    ids = iter(f"dispatch-{i}" for i in range(10))
    return CampaignTriggers(store, profiles, publisher, steps, FakeClock(), lambda: next(ids)), publisher, steps


def request(*external_ids: str, **properties: Any) -> TriggerRequest:
    return TriggerRequest.model_validate(
        {"recipients": [{"external_id": e, "trigger_properties": properties} for e in external_ids]}
    )


def test_a_trigger_queues_one_webhook_a_known_recipient_with_its_counts() -> None:
    service, publisher, _ = triggers(stored(control_group_percent=0))
    answer = service.trigger("c1", request("u1", "u2", "nobody"), "req-1")
    assert answer == {
        "message": "success",
        "dispatch_id": "dispatch-0",
        "queued": 2,
        "control": 0,
        "aborted": 0,
        "failed": 0,
        "not_in_audience": 0,
        "unknown_users": 1,
    }
    (message,) = publisher.messages()
    assert message.step_id == "campaign#c1" and message.correlation_id == "req-1"
    assert (message.target.destination, message.target.connection_id, message.target.requests_per_minute) == (
        "webhook",
        "c1",
        None,
    )
    assert [u["x"] for u in message.users] == ["u1", "u2"] and {u["d"] for u in message.users} == {"dispatch-0"}
    assert message.entry == {"triggered": 2}


def test_a_campaigns_rate_limit_travels_with_its_target() -> None:
    service, publisher, _ = triggers(stored(rate_limit_per_minute=600))
    service.trigger("c1", request("u1"), None)
    assert publisher.messages()[0].target.requests_per_minute == 600


def test_an_audience_sync_trigger_enters_the_step_and_counts_what_it_took() -> None:
    service, publisher, steps = triggers(stored({"channel": "audience_sync", "step_id": "s1"}))
    answer = service.trigger("c1", request("u1", "u2"), None)
    assert (answer["queued"], answer["failed"]) == (1, 1)  # the step's entry filters kept one out
    assert steps.entered == [("s1", ["u1", "u2"])]
    (message,) = publisher.messages()
    assert message.users == []
    expected = StepDelta()
    for counter, n in (("triggered", 2), ("sent", 1), ("synced", 1)):
        expected.add(counter, n)
    expected.add("errored", 1, reason="step_entry_filtered")
    assert message.entry == expected.attributes()


@pytest.mark.parametrize(
    ("campaign", "code"),
    [
        (stored(status="draft"), "campaign_not_active"),
        (stored(status="stopped"), "campaign_not_active"),
        (
            {
                **stored(),
                "definition": {**stored()["definition"], "delivery": {"type": "action", "trigger": {"purchase": "*"}}},
            },
            "not_api_triggered",
        ),
    ],
)
def test_only_an_active_api_campaign_is_triggered(campaign: dict[str, Any], code: str) -> None:
    service, publisher, _ = triggers(campaign)
    with pytest.raises(Conflict) as refused:
        service.trigger("c1", request("u1"), None)
    assert refused.value.code == code and publisher.bodies == []
    with pytest.raises(NotFound):
        service.trigger("c2", request("u1"), None)


def test_a_recipient_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        request("u1", "u1")


def test_a_campaign_is_compiled_once_per_definition() -> None:
    first = load(stored())
    again = load(stored(updated_at="later"))  # the same definition: compiled once
    assert again.webhook is first.webhook and again.request is first.request
    changed = load(stored(control_group_percent=5))
    assert changed.webhook is not first.webhook and changed.request.control_group_percent == 5
    stopped = load(stored(status="stopped"))
    assert isinstance(stopped, Campaign) and stopped.status == "stopped" and stopped.webhook is first.webhook


@pytest.mark.parametrize(
    ("body", "failing", "fine"),
    [
        ("{{ api_trigger_properties.${n} | sum }}", [1, "a"], [1, 2]),  # decimal arithmetic on a string
        ("{{ api_trigger_properties.${n} | times: 10 | floor }}", 1e308, 1.5),  # an overflow
    ],
)
def test_a_filter_that_fails_on_the_users_values_fails_that_send_only(body: str, failing: Any, fine: Any) -> None:
    campaign = load(stored({"channel": "webhook", "url": "https://e.com", "body": body}))
    result = plan(campaign, [Send(profile("a"), "d", {"n": failing}), Send(profile("b"), "d", {"n": fine})])
    assert result.counts.attributes() == {"triggered": 1, "errored": 1, "errored_reason_template_error": 1}
    assert [q["x"] for q in result.queued] == ["b"]


def test_an_external_id_profiles_cannot_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="255"):
        request("x" * 256)
