"""Action-based campaigns and the Campaign Connector (contract v2 §6) on template.yaml in moto: events tracked through
/users/track reach the real profile writer, which hands what a campaign listens to to the campaign activity function;
its sends go through the one pipeline to a receiver on 127.0.0.1. Delays wait as EventBridge Scheduler schedules
(fired here as local mode fires them); an exception while waiting cancels the send; a delivered webhook records
received_webhook, which triggers a follow-up; interactions posted to /v1/interactions count once."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from bench.receiver import webhook_receiver
from localmode.scheduler import fire_due
from tests.integration.platform.platform_support import Platform
from tests.integration.platform.test_campaign_delivery import _admin, _metrics, _send, _users


def _publish(platform: Platform, campaign_id: str, body: dict[str, Any]) -> None:
    reply = _admin(platform, "PUT", f"/v1/campaigns/{campaign_id}", {"name": campaign_id, **body})
    assert reply.status == 200, reply.text
    assert _admin(platform, "POST", f"/v1/campaigns/{campaign_id}/publish").status == 200


def _track(platform: Platform, *events: dict[str, Any]) -> None:
    key = platform.new_key("users.track")
    assert platform.braze("/users/track", {"events": list(events)}, key).status == 201


def _run(platform: Platform) -> None:
    """Everything queued, handled: profile writes, campaign activities, sends (and their interactions), in turn."""
    while True:
        platform.settle()
        handled = platform.drain("CampaignActivityQueue", "CampaignActivityFunction")
        _send(platform)
        if not handled and not platform.drain("CampaignActivityQueue", "CampaignActivityFunction"):
            return


def _schedules() -> list[str]:
    scheduler = boto3.client("scheduler")
    return [
        s["Name"]
        for g in scheduler.list_schedule_groups()["ScheduleGroups"]
        for s in scheduler.list_schedules(GroupName=g["Name"])["Schedules"]
    ]


def test_a_custom_event_with_matching_properties_sends_the_webhook_with_them(platform: Platform) -> None:
    _users(platform, {"external_id": "ann", "first_name": "Ann"}, {"external_id": "bob", "first_name": "Bob"})
    with webhook_receiver() as receiver:
        body = '{"name": "{{${first_name}}}", "plan": "{{event_properties.${plan}}}"}'
        trigger = {"custom_event": "upgraded", "property_filters": [{"property": "plan", "op": "eq", "value": "gold"}]}
        message = {"channel": "webhook", "url": receiver.url + "/welcome", "body": body}
        _publish(platform, "upgrade", {"message": message, "delivery": {"type": "action", "trigger": trigger}})
        _track(
            platform,
            {"external_id": "ann", "name": "upgraded", "time": "2030-01-01T00:00:00Z", "properties": {"plan": "gold"}},
            {"external_id": "bob", "name": "upgraded", "time": "2030-01-01T00:00:00Z", "properties": {"plan": "free"}},
            {"external_id": "ann", "name": "other_event", "time": "2030-01-01T00:00:00Z"},
        )
        _run(platform)
    assert [(r.path, json.loads(r.body)) for r in receiver.received] == [("/welcome", {"name": "Ann", "plan": "gold"})]
    metrics = _metrics(platform, "upgrade")
    assert (metrics["triggered"], metrics["sent"], metrics["delivered"]) == (1, 1, 1)


def test_a_follow_up_to_a_received_webhook_waits_and_an_exception_cancels_it(platform: Platform) -> None:
    _users(platform, {"external_id": "ann"}, {"external_id": "bob"})
    with webhook_receiver() as receiver:
        first = {"channel": "webhook", "url": receiver.url + "/first", "body": "{{${user_id}}}"}
        _publish(platform, "first", {"message": first, "delivery": {"type": "api"}})
        follow = {"channel": "webhook", "url": receiver.url + "/follow", "body": "{{${user_id}}}"}
        delivery = {
            "type": "action",
            "trigger": {"interaction": {"campaign_id": "first", "type": "received_webhook"}},
            "delay_seconds": 3600,
            "exceptions": [{"custom_event": "unsubscribed"}],
        }
        _publish(platform, "follow", {"message": follow, "delivery": delivery})
        recipients = {"recipients": [{"external_id": "ann"}, {"external_id": "bob"}]}
        assert _admin(platform, "POST", "/v1/campaigns/first/trigger", recipients).status == 202
        _run(platform)
        assert sorted(r.body for r in receiver.received) == ["ann", "bob"]  # the first campaign's
        assert len(_schedules()) == 2 and _metrics(platform, "follow")["scheduled"] == 2

        _track(platform, {"external_id": "bob", "name": "unsubscribed", "time": "2099-01-01T00:00:00Z"})
        _run(platform)
        assert len(_schedules()) == 1  # bob's schedule deleted
        assert fire_due(time_scale=1.0, everything=True) == 1
        _run(platform)
    follow_ups = [r.body for r in receiver.received if r.path == "/follow"]
    assert follow_ups == ["ann"]
    metrics = _metrics(platform, "follow")
    assert {k: metrics[k] for k in ("triggered", "scheduled", "sent", "delivered", "exception_cancelled")} == {
        "triggered": 2,
        "scheduled": 0,
        "sent": 1,
        "delivered": 1,
        "exception_cancelled": 1,
    }


def test_posted_interactions_count_once_and_bad_ones_are_refused(platform: Platform) -> None:
    _users(platform, {"external_id": "ann"})
    _publish(
        platform,
        "email",
        {"message": {"channel": "webhook", "url": "https://hooks.example.com/x"}, "delivery": {"type": "api"}},
    )
    opened = {"external_id": "ann", "campaign_id": "email", "type": "email_opened", "time": "2026-12-01T00:00:00Z"}
    unknown = {"external_id": "nobody", "campaign_id": "email", "type": "email_opened"}
    reply = _admin(platform, "POST", "/v1/interactions", {"interactions": [opened, unknown]})
    assert (reply.status, reply.json) == (202, {"message": "success", "accepted": 1, "ignored": 1})
    again = _admin(platform, "POST", "/v1/interactions", {"interactions": [opened]})
    assert again.json["accepted"] == 0
    bad = _admin(platform, "POST", "/v1/interactions", {"interactions": [{**opened, "type": "email_eaten"}]})
    assert bad.status == 400 and "type" in bad.text
    too_many = _admin(platform, "POST", "/v1/interactions", {"interactions": [opened] * 1001})
    assert too_many.status == 400


def test_a_message_that_fails_is_delivered_again_alone_and_the_rest_of_its_batch_is_handled(platform: Platform) -> None:
    from audience_sync.campaigns.activities import Activity, Due, encode
    from tests.stack_support import sqs_record

    _users(platform, {"external_id": "ann"})
    # a campaign stored under checks it no longer passes, and a user waiting in it: its due cannot be planned
    boto3.resource("dynamodb").Table(platform.stack.stack.ref("CampaignsTable")).put_item(
        Item={"campaign_id": "broken", "status": "active", "definition": '{"name": "broken"}'}
    )
    boto3.resource("dynamodb").Table(platform.stack.stack.ref("CampaignStateTable")).put_item(
        Item={
            "pk": "c#broken#ann",
            "sk": "wait",
            "campaign_id": "broken",
            "external_id": "ann",
            "wait_id": "w1",
            "due_ms": 0,
            "trigger_ms": 0,
        }
    )
    with webhook_receiver() as receiver:
        message = {"channel": "webhook", "url": receiver.url + "/hi", "body": "{{${user_id}}}"}
        delivery = {"type": "action", "trigger": {"custom_event": "hi"}}
        _publish(platform, "hi", {"message": message, "delivery": delivery})
        good = Activity("custom_event", "ann", "hi", int(time.time() * 1000), "good")
        url = platform.stack.stack.ref("CampaignActivityQueue")
        records = [
            sqs_record(url, encode(good), "m-good"),
            sqs_record(url, encode(Due("broken", "ann", "w1")), "m-poison"),
            sqs_record(url, "not ours", "m-unreadable"),  # dropped: redelivering it would change nothing
        ]
        answer = platform.stack.invoke("CampaignActivityFunction", {"Records": records})
        assert answer == {"batchItemFailures": [{"itemIdentifier": "m-poison"}]}
        _send(platform)
    assert [r.body for r in receiver.received] == ["ann"]


def test_a_user_who_clicked_an_email_lands_in_a_linkedin_audience(platform: Platform) -> None:
    """The issue's example: an email sent elsewhere, its click posted as an interaction, a follow-up whose message is
    "enter sync step S" (the audience_sync channel), and the user in S's LinkedIn audience."""
    import requests

    from tests.integration.api.api_helpers import Api, sha256

    api = Api(platform.stack)
    _users(platform, {"external_id": "ann", "email": "Ann@Example.com"}, {"external_id": "bob", "email": "b@x.io"})
    audience_id = api.active_step("clickers")
    _publish(
        platform,
        "newsletter",
        {"message": {"channel": "webhook", "url": "https://mail.example.com/x"}, "delivery": {"type": "api"}},
    )
    follow = {"interaction": {"campaign_id": "newsletter", "type": "email_clicked"}}
    _publish(
        platform,
        "to-linkedin",
        {
            "message": {"channel": "audience_sync", "step_id": "clickers"},
            "delivery": {"type": "action", "trigger": follow},
        },
    )
    clicked = {"external_id": "ann", "campaign_id": "newsletter", "type": "email_clicked"}
    opened = {"external_id": "bob", "campaign_id": "newsletter", "type": "email_opened"}  # not the trigger
    reply = _admin(platform, "POST", "/v1/interactions", {"interactions": [clicked, opened]})
    assert reply.status == 202 and reply.json["accepted"] == 2
    _run(platform)
    members = requests.get(f"{platform.stack.sandbox.url}/_sandbox/segments/{audience_id}/members", timeout=10)
    assert {m["userIds"][0]["idValue"] for m in members.json()["members"]} == {sha256("ann@example.com")}
    assert api.metrics("clickers")["synced"] == 1
    metrics = _metrics(platform, "to-linkedin")
    assert (metrics["triggered"], metrics["sent"], metrics["delivered"]) == (1, 1, 1)


def test_a_stopped_campaign_shows_nobody_waiting_and_sends_nobody(platform: Platform) -> None:
    _users(platform, {"external_id": "ann"})
    message = {"channel": "webhook", "url": "https://hooks.example.com/x"}
    delivery = {"type": "action", "trigger": {"custom_event": "joined"}, "delay_seconds": 3600}
    _publish(platform, "later", {"message": message, "delivery": delivery})
    _track(platform, {"external_id": "ann", "name": "joined", "time": "2100-01-01T00:00:00Z"})
    _run(platform)
    assert _metrics(platform, "later")["scheduled"] == 1
    assert _admin(platform, "POST", "/v1/campaigns/later/stop").status == 200
    assert _metrics(platform, "later")["scheduled"] == 0
    assert fire_due(time_scale=1.0, everything=True) == 1
    _run(platform)
    assert _metrics(platform, "later")["sent"] == 0
