"""campaigns/models.py: a campaign's definition is checked in full when it is saved, each error on its field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from audience_sync.campaigns.models import CampaignRequest

WEBHOOK = {
    "channel": "webhook",
    "url": "https://api.lytics.io/c/acct/braze_users?key={{custom_attribute.${lytics_key}}}",
    "headers": {"Content-Type": "application/json"},
    "body": '{"braze_id": "{{${braze_id}}}"}',
}
ACTION = {
    "type": "action",
    "trigger": {"custom_event": "signup", "property_filters": [{"property": "plan", "op": "eq", "value": "pro"}]},
    "delay_seconds": 3600,
    "exceptions": [{"purchase": "*"}],
    "reeligible_after_seconds": 86400,
    "start_at": "2026-12-05T00:00:00Z",
}
CAMPAIGN = {"name": "Lytics", "message": WEBHOOK, "delivery": ACTION, "rate_limit_per_minute": 600}


def errors(body: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as refused:
        CampaignRequest.model_validate(body)
    return [(e["loc"], e["msg"]) for e in refused.value.errors()]


def test_a_full_campaign_is_kept_as_given() -> None:
    parsed = CampaignRequest.model_validate(CAMPAIGN)
    dumped = parsed.model_dump(mode="json", exclude_none=True)
    assert dumped["message"] == {**WEBHOOK, "method": "POST"}
    assert dumped["delivery"]["trigger"] == ACTION["trigger"]
    assert CampaignRequest.model_validate(dumped) == parsed  # what is stored reads back the same


def test_an_api_campaign_that_puts_users_into_a_sync_step() -> None:
    parsed = CampaignRequest.model_validate(
        {"name": "To LinkedIn", "message": {"channel": "audience_sync", "step_id": "s1"}, "delivery": {"type": "api"}}
    )
    assert (parsed.message.channel, parsed.control_group_percent, parsed.rate_limit_per_minute) == (
        "audience_sync",
        0,
        None,
    )


@pytest.mark.parametrize(
    ("change", "where", "fragment"),
    [
        ({"message": {**WEBHOOK, "body": "{\n{{ x | }}"}}, ("message", "webhook", "body"), "line 2"),
        ({"message": {**WEBHOOK, "url": "ftp://example.com"}}, ("message", "webhook", "url"), "https://"),
        ({"message": {**WEBHOOK, "method": "GET"}}, ("message", "webhook"), "GET webhook has no body"),
        ({"message": {**WEBHOOK, "method": "PATCH"}}, ("message", "webhook", "method"), "POST"),
        ({"message": {**WEBHOOK, "headers": {"X Bad": "1"}}}, ("message", "webhook", "headers"), "HTTP tokens"),
        (
            {"message": {**WEBHOOK, "headers": {"X-A": "1\r\nX-Injected: 2"}}},
            ("message", "webhook", "headers"),
            "control character",
        ),
        ({"message": {**WEBHOOK, "url": "https://a.example/\nx"}}, ("message", "webhook", "url"), "control"),
        (
            {"message": {**WEBHOOK, "headers": {"Transfer-Encoding": "chunked"}}},
            ("message", "webhook", "headers"),
            "set by HTTP itself",
        ),
        ({"message": {**WEBHOOK, "headers": {"host": "internal"}}}, ("message", "webhook", "headers"), "HTTP itself"),
        (
            {"message": {**WEBHOOK, "headers": {"Authorization": "Bearer {% if %}"}}},
            ("message", "webhook", "headers"),
            "header Authorization: line 1",
        ),
        ({"message": {"channel": "sms"}}, ("message",), "does not match any of the expected tags"),
        (
            {"delivery": {**ACTION, "exceptions": [{"purchase": "*"}], "delay_seconds": 0}},
            ("delivery", "action"),
            "delay",
        ),
        ({"delivery": {**ACTION, "end_at": "2026-12-04T00:00:00Z"}}, ("delivery", "action"), "end_at"),
        ({"delivery": {**ACTION, "start_at": "2026-12-05T00:00:00"}}, ("delivery", "action", "start_at"), "offset"),
        ({"delivery": {**ACTION, "delay_seconds": 31 * 86400}}, ("delivery", "action", "delay_seconds"), "less than"),
        ({"delivery": {**ACTION, "delay_seconds": "10"}}, ("delivery", "action", "delay_seconds"), "integer"),
        ({"delivery": {**ACTION, "delay_seconds": True}}, ("delivery", "action", "delay_seconds"), "integer"),
        ({"delivery": {**ACTION, "start_at": 1796532155}}, ("delivery", "action", "start_at"), "ISO 8601"),
        ({"delivery": {**ACTION, "start_at": "1796532155"}}, ("delivery", "action", "start_at"), "ISO 8601"),
        ({"control_group_percent": "10"}, ("control_group_percent",), "integer"),
        ({"rate_limit_per_minute": True}, ("rate_limit_per_minute",), "integer"),
        (
            {"delivery": {**ACTION, "reeligible_after_seconds": 10**35}},
            ("delivery", "action", "reeligible_after_seconds"),
            "less than",
        ),
        ({"delivery": {**ACTION, "trigger": {"pageview": "x"}}}, ("delivery", "action", "trigger"), "a trigger is"),
        (
            {
                "delivery": {
                    **ACTION,
                    "trigger": {"custom_event": "e", "property_filters": [{"property": "p", "op": "zz"}]},
                }
            },
            ("delivery", "action", "trigger", "custom_event", "property_filters", 0),
            "'op' must be one of",
        ),
        (
            {"delivery": {**ACTION, "trigger": {"interaction": {"campaign_id": "c0", "type": "opened"}}}},
            ("delivery", "action", "trigger", "interaction", "interaction", "type"),
            "received_webhook",
        ),
        ({"control_group_percent": 51}, ("control_group_percent",), "less than or equal to 50"),
        ({"rate_limit_per_minute": 5}, ("rate_limit_per_minute",), "greater than or equal to 10"),
        ({"name": " "}, ("name",), "at least 1"),
        ({"colour": "red"}, ("colour",), "Extra inputs"),
        (
            {"message": {**WEBHOOK, "headers": {f"X-{n}": "v" * 90_000 for n in range(4)}}},
            (),
            "at most 350,000 bytes",
        ),
    ],
)
def test_a_bad_campaign_is_refused_on_the_field_at_fault(
    change: dict[str, Any], where: tuple[Any, ...], fragment: str
) -> None:
    found = errors({**CAMPAIGN, **change})
    assert any(loc == where and fragment in message for loc, message in found), found


def test_an_event_property_may_be_named_like_a_users_api_key() -> None:
    trigger = {"custom_event": "e", "property_filters": [{"property": "app_id", "op": "eq", "value": "ios"}]}
    assert CampaignRequest.model_validate({**CAMPAIGN, "delivery": {**ACTION, "trigger": trigger}})
