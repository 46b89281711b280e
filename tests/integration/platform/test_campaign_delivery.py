"""API-triggered campaigns (contract v2 §6) on template.yaml in moto: a trigger renders each recipient's webhook and
queues it; the real batcher sends it to a receiver on 127.0.0.1 under Braze's delivery rules (2xx delivered; 408,
429 and 5xx retried by the Step Functions retry; 3xx and other 4xx failed), and the campaign's metrics count it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from bench.receiver import Receiver, webhook_receiver
from tests.integration.platform.platform_support import Platform
from tests.stack_support import drain_queue, invoke_batcher, settle_retries

# The sample body of Lytics' webhook (docs/integrations/lytics.md), as a Braze webhook campaign writes it.
LYTICS_BODY = (
    '{"city": "{{${city}}}", "country": "{{${country}}}", "first_name": "{{${first_name}}}", '
    '"gender": "{{${gender}}}", "language": "{{${language}}}", "last_name": "{{${last_name}}}", '
    '"date_of_birth": "{{${date_of_birth} | remove: \'-\'}}", "phone_number": "{{${phone_number}}}", '
    '"time_zone": "{{${time_zone}}}", "twitter_handle": "{{custom_attribute.${twitter_handle}}}", '
    '"email": "{{${email_address}}}", "braze_id": "{{${braze_id}}}"}'
)
JOHN = {
    "external_id": "john",
    "home_city": "AnyTown",
    "country": "US",
    "first_name": "John",
    "gender": "M",
    "language": "en",
    "last_name": "Smith",
    "dob": "1982-01-01",
    "phone": "5551231234",
    "time_zone": "Asia/Bangkok",
    "twitter_handle": "johnsmith",
    "email": "john.smith@email.com",
    "lytics_token": "tok-1",
}


def _admin(platform: Platform, method: str, path: str, body: Any = None) -> Any:
    return platform.request(method, path, body, {"x-api-key": platform.stack.api_key})


def _campaign(platform: Platform, campaign_id: str, message: dict[str, Any], **extra: Any) -> None:
    body = {"name": campaign_id, "message": message, "delivery": {"type": "api"}, **extra}
    assert _admin(platform, "PUT", f"/v1/campaigns/{campaign_id}", body).status == 200
    assert _admin(platform, "POST", f"/v1/campaigns/{campaign_id}/publish").status == 200


def _users(platform: Platform, *users: dict[str, Any]) -> None:
    key = platform.new_key("users.track")
    assert platform.braze("/users/track", {"attributes": list(users)}, key).status == 201
    platform.settle()


def _send(platform: Platform) -> list[dict[str, Any]]:
    """Deliver what is queued, as the event source mapping and the retry would, until nothing is left; the retry's
    executions."""
    while records := drain_queue(platform.stack):
        assert invoke_batcher(platform.stack, records) == []
    return settle_retries(platform.stack)


def _metrics(platform: Platform, campaign_id: str) -> dict[str, int]:
    reply = _admin(platform, "GET", f"/v1/campaigns/{campaign_id}/metrics")
    assert reply.status == 200, reply.text
    metrics: dict[str, int] = reply.json
    return metrics


def _webhook(receiver: Receiver, path: str = "/hook", **extra: Any) -> dict[str, Any]:
    return {"channel": "webhook", "url": receiver.url + path, **extra}


def test_a_lytics_webhook_campaign_sends_the_seeds_fields_to_the_receiver(platform: Platform) -> None:
    _users(platform, JOHN, {"external_id": "jane", "first_name": "Jane"})
    with webhook_receiver() as receiver:
        url = receiver.url + "/c/acct/braze_users?key={{custom_attribute.${lytics_token}}}"
        headers = {"Content-Type": "application/json", "X-Campaign": "{{campaign.${api_id}}}"}
        _campaign(platform, "lytics", {"channel": "webhook", "url": url, "headers": headers, "body": LYTICS_BODY})
        recipients = [{"external_id": "john"}, {"external_id": "jane"}, {"external_id": "nobody"}]
        reply = _admin(platform, "POST", "/v1/campaigns/lytics/trigger", {"recipients": recipients})
        assert reply.status == 202, reply.text
        assert (reply.json["queued"], reply.json["unknown_users"]) == (2, 1)
        _send(platform)
    by_user = {json.loads(r.body)["first_name"]: r for r in receiver.received}
    assert sorted(by_user) == ["Jane", "John"]
    john = by_user["John"]
    assert (john.method, john.path) == ("POST", "/c/acct/braze_users?key=tok-1")
    assert john.headers["Content-Type"] == "application/json" and john.headers["X-Campaign"] == "lytics"
    braze_id = platform.export(platform.new_key("users.export.ids"), "john")["users"][0]["braze_id"]
    assert json.loads(john.body) == {
        "city": "AnyTown",
        "country": "US",
        "first_name": "John",
        "gender": "M",
        "language": "en",
        "last_name": "Smith",
        "date_of_birth": "19820101",
        "phone_number": "5551231234",
        "time_zone": "Asia/Bangkok",
        "twitter_handle": "johnsmith",
        "email": "john.smith@email.com",
        "braze_id": braze_id,
    }
    assert json.loads(by_user["Jane"].body)["email"] == ""  # a field the profile lacks renders empty
    assert by_user["Jane"].path == "/c/acct/braze_users?key="
    metrics = _metrics(platform, "lytics")
    assert metrics == {
        "triggered": 2,
        "scheduled": 0,
        "sent": 2,
        "delivered": 2,
        "failed": 0,
        "aborted": 0,
        "control": 0,
        "exception_cancelled": 0,
    }
    # minute by minute, the same counts (decision 0023)
    history = _admin(platform, "GET", "/v1/campaigns/lytics/metrics/history?minutes=5")
    assert history.status == 200, history.text
    points = history.json["points"]
    assert len(points) == 5 and all(set(p) == {"minute", *metrics} for p in points)
    assert {name: sum(p[name] for p in points) for name in metrics if name != "scheduled"} == {
        name: n for name, n in metrics.items() if name != "scheduled"
    }
    assert points[-1]["scheduled"] == metrics["scheduled"]


def test_methods_trigger_properties_dispatch_ids_and_abort_message(platform: Platform) -> None:
    _users(platform, {"external_id": "a", "plan": "gold"}, {"external_id": "b", "plan": "free"})
    body = (
        "{% if custom_attribute.${plan} != 'gold' %}{% abort_message('not gold') %}{% endif %}"
        '{"coupon": "{{api_trigger_properties.${coupon} | default: \'none\'}}", '
        '"dispatch": "{{campaign.${dispatch_id}}}"}'
    )
    with webhook_receiver() as receiver:
        _campaign(platform, "put", _webhook(receiver, "/u/{{${user_id}}}", method="PUT", body=body))
        _campaign(platform, "delete", _webhook(receiver, "/u/{{${user_id}}}", method="DELETE"))
        recipients = [{"external_id": "a", "trigger_properties": {"coupon": "X1"}}, {"external_id": "b"}]
        reply = _admin(platform, "POST", "/v1/campaigns/put/trigger", {"recipients": recipients})
        assert (reply.json["queued"], reply.json["aborted"]) == (1, 1)
        dispatch_id = reply.json["dispatch_id"]
        assert (
            _admin(platform, "POST", "/v1/campaigns/delete/trigger", {"recipients": [{"external_id": "b"}]}).status
            == 202
        )
        _send(platform)
    sent = sorted((r.method, r.path, r.body) for r in receiver.received)
    assert sent == [
        ("DELETE", "/u/b", ""),
        ("PUT", "/u/a", json.dumps({"coupon": "X1", "dispatch": dispatch_id}, separators=(", ", ": "))),
    ]
    assert _metrics(platform, "put")["aborted"] == 1 and _metrics(platform, "put")["delivered"] == 1


@pytest.mark.parametrize(
    ("script", "delivered", "reason", "requests"),
    [
        ([500, 503, (429, {"Retry-After": "1"}), 408], 1, None, 5),  # retried until taken
        ([500] * 6, 0, "retry_horizon_webhook_500", 6),  # the first attempt and five retries, then failed
        # a Retry-After of 1,700 s: two retries (after 1,700 s, then the 100 s left), within the 30 minutes
        ([(503, {"Retry-After": "1700"})] * 3, 0, "retry_horizon_webhook_503", 3),
        ([302], 0, "webhook_302_redirect_not_followed", 1),  # a redirect is not followed
        ([404], 0, "webhook_404", 1),  # other 4xx: failed at once
    ],
)
def test_brazes_retry_rules(
    platform: Platform, script: list[Any], delivered: int, reason: str | None, requests: int
) -> None:
    _users(platform, {"external_id": "a"})
    with webhook_receiver(*script) as receiver:
        _campaign(platform, "c", _webhook(receiver))
        assert _admin(platform, "POST", "/v1/campaigns/c/trigger", {"recipients": [{"external_id": "a"}]}).status == 202
        _send(platform)
    assert len(receiver.received) == requests
    metrics = _metrics(platform, "c")
    assert (metrics["sent"], metrics["delivered"], metrics["failed"]) == (1, delivered, 1 - delivered)
    if reason:
        item = (
            boto3.resource("dynamodb")
            .Table(platform.stack.stack.ref("MetricsTable"))
            .get_item(Key={"step_id": "campaign#c"})["Item"]
        )
        assert item[f"errored_reason_{reason}"] == 1


def test_recipients_asking_different_waits_are_retried_each_after_its_own(platform: Platform) -> None:
    """Both fail at first and wait in one batch; at its first retry one answer asks for 1,700 s, the other is a 500.
    The 500's recipient is retried after the schedule's 120 s, the other after 1,700 s in an execution of its own
    that the retry function starts (one wait for both was the longest)."""
    from localmode import stepfunctions

    _users(platform, {"external_id": "a"}, {"external_id": "b"})
    waits_before = len(stepfunctions.requested_waits)
    with webhook_receiver(500, 500, (429, {"Retry-After": "1700"}), 500) as receiver:
        _campaign(platform, "c", _webhook(receiver))
        recipients = [{"external_id": "a"}, {"external_id": "b"}]
        assert _admin(platform, "POST", "/v1/campaigns/c/trigger", {"recipients": recipients}).status == 202
        executions = len(_send(platform))
    assert len(receiver.received) == 6
    assert (_metrics(platform, "c")["delivered"], executions) == (2, 2)
    waits = sorted(w for kind, w in stepfunctions.requested_waits[waits_before:] if kind == "wait")
    assert waits == [60.0, 120.0, 1700.0]


def test_control_group_audience_and_the_triggers_refusals(platform: Platform) -> None:
    _users(platform, *({"external_id": f"u{i}", "plan": "gold" if i % 2 else "free"} for i in range(40)))
    gold = {"name": "Gold", "filter": {"attribute": "plan", "op": "eq", "value": "gold"}}
    assert _admin(platform, "PUT", "/v1/segments/gold", gold).status == 200
    platform.settle()
    with webhook_receiver() as receiver:
        _campaign(platform, "held", _webhook(receiver), audience={"segment_id": "gold"}, control_group_percent=50)
        recipients = [{"external_id": f"u{i}"} for i in range(40)]
        reply = _admin(platform, "POST", "/v1/campaigns/held/trigger", {"recipients": recipients})
        assert reply.status == 202, reply.text
        _send(platform)
    assert reply.json["not_in_audience"] == 20
    control = reply.json["control"]
    assert 0 < control < 20 and reply.json["queued"] == 20 - control
    assert len(receiver.received) == 20 - control
    again = _admin(platform, "POST", "/v1/campaigns/held/trigger", {"recipients": recipients})
    assert again.json["control"] == control  # the same users: the draw is stable
    metrics = _metrics(platform, "held")
    assert (metrics["triggered"], metrics["control"]) == (20, control)

    def trigger(campaign_id: str, body: Any) -> Any:
        return _admin(platform, "POST", f"/v1/campaigns/{campaign_id}/trigger", body)

    assert trigger("missing", {"recipients": [{"external_id": "u1"}]}).status == 404
    assert trigger("held", {"recipients": []}).status == 400
    assert trigger("held", {"recipients": [{"external_id": "u1"}] * 2}).status == 400
    assert trigger("held", {"recipients": [{"external_id": f"u{i}"} for i in range(51)]}).status == 400
    assert _admin(platform, "POST", "/v1/campaigns/held/stop").status == 200
    stopped = trigger("held", {"recipients": [{"external_id": "u1"}]})
    assert (stopped.status, stopped.json["error"]["code"]) == (409, "campaign_not_active")
    action = {
        "name": "a",
        "message": {"channel": "webhook", "url": "https://example.com"},
        "delivery": {"type": "action", "trigger": {"custom_event": "x"}},
    }
    assert _admin(platform, "PUT", "/v1/campaigns/act", action).status == 200
    assert _admin(platform, "POST", "/v1/campaigns/act/publish").status == 200
    assert trigger("act", {"recipients": [{"external_id": "u1"}]}).json["error"]["code"] == "not_api_triggered"
    assert _admin(platform, "GET", "/v1/campaigns/missing/metrics").status == 404
    assert _admin(platform, "GET", "/v1/campaigns/missing/metrics/history").status == 404


def test_a_campaign_stopped_before_its_webhooks_leave_sends_nothing(platform: Platform) -> None:
    _users(platform, {"external_id": "a"})
    with webhook_receiver() as receiver:
        _campaign(platform, "late", _webhook(receiver))
        assert (
            _admin(platform, "POST", "/v1/campaigns/late/trigger", {"recipients": [{"external_id": "a"}]}).status == 202
        )
        assert _admin(platform, "POST", "/v1/campaigns/late/stop").status == 200
        _send(platform)
    assert receiver.received == []
    metrics = _metrics(platform, "late")
    assert (metrics["triggered"], metrics["sent"], metrics["delivered"], metrics["failed"]) == (1, 0, 0, 0)
