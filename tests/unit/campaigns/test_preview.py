"""A campaign's webhook previewed for one user (campaigns/preview.py): rendered as a send renders it, from the
request's draft or the stored message, with clear errors, and nothing but the profile lookup called."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from audience_sync.campaigns.models import WebhookMessage
from audience_sync.campaigns.preview import CampaignPreviews, PreviewRequest
from audience_sync.core.errors import Invalid, NotFound
from tests.fakes.campaign_fakes import FakeCampaignStore

ADA = {
    "external_id": "ada",
    "braze_id": "b-1",
    "fields": {"first_name": "Ada", "home_city": "London"},
    "custom": {"tier": "gold", "visits": 3},
}
STORED = {"channel": "webhook", "url": "https://hooks.example/{{${user_id}}}", "body": "{{${city}}}"}


class Profiles:
    """The profile lookup, recording what it was asked."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def __call__(self, external_ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        self.asked.append(list(external_ids))
        return {x: ADA for x in external_ids if x == "ada"}


def _previews() -> tuple[CampaignPreviews, Profiles]:
    store = FakeCampaignStore()
    store.put("stored", {"name": "S", "message": STORED, "delivery": {"type": "api"}}, "2026-12-06T00:00:00Z")
    step = {"channel": "audience_sync", "step_id": "s1"}
    store.put("to-step", {"name": "T", "message": step, "delivery": {"type": "api"}}, "2026-12-06T00:00:00Z")
    profiles = Profiles()
    return CampaignPreviews(store, profiles), profiles


def test_the_stored_message_is_rendered_for_the_user_asked_for() -> None:
    previews, profiles = _previews()
    shown = previews.preview("stored", PreviewRequest(external_id="ada"))
    assert shown == {
        "aborted": False,
        "method": "POST",
        "url": "https://hooks.example/ada",
        "headers": {},
        "body": "London",
    }
    assert profiles.asked == [["ada"]]


def test_a_draft_wins_over_the_stored_message_with_the_properties_given() -> None:
    previews, _ = _previews()
    draft = WebhookMessage(
        channel="webhook",
        url="https://x.example/{{campaign.${api_id}}}?d={{campaign.${dispatch_id}}}",
        method="GET",
        headers={"X-Tier": "{{custom_attribute.${tier} | upcase}}"},
    )
    request = PreviewRequest(external_id="ada", message=draft, trigger_properties={"c": 1})
    shown = previews.preview("never-saved", request)
    assert (shown["url"], shown["headers"], shown["body"]) == (
        "https://x.example/never-saved?d=preview",
        {"X-Tier": "GOLD"},
        "",
    )
    event = WebhookMessage(
        channel="webhook", url="https://x.example", body="{{event_properties.${plan}}}-{{api_trigger_properties.${c}}}"
    )
    request = PreviewRequest(
        external_id="ada", message=event, event_properties={"plan": "pro"}, trigger_properties={"c": 1}
    )
    assert previews.preview("never-saved", request)["body"] == "pro-1"


def test_an_abort_is_reported_with_its_message_not_as_an_error() -> None:
    previews, _ = _previews()
    message = WebhookMessage(channel="webhook", url="https://x.example", body="{% abort_message('not today') %}")
    shown = previews.preview("stored", PreviewRequest(external_id="ada", message=message))
    assert shown == {"aborted": True, "abort_message": "not today"}


@pytest.mark.parametrize(
    ("campaign_id", "request_body", "error", "code"),
    [
        ("stored", {"external_id": "nobody"}, NotFound, "user_not_found"),
        ("missing", {"external_id": "ada"}, NotFound, "campaign_not_found"),
        ("to-step", {"external_id": "ada"}, Invalid, "not_a_webhook"),
    ],
)
def test_what_cannot_be_previewed_is_a_clear_error(
    campaign_id: str, request_body: dict[str, Any], error: type[Exception], code: str
) -> None:
    previews, _ = _previews()
    with pytest.raises(error) as raised:
        previews.preview(campaign_id, PreviewRequest.model_validate(request_body))
    assert raised.value.code == code  # type: ignore[attr-defined]


def test_a_template_failing_for_this_user_names_its_line_never_the_value() -> None:
    previews, _ = _previews()
    message = WebhookMessage(
        channel="webhook", url="https://x.example", body="ok\n{{ custom_attribute.${tier} | divided_by: 0 }}"
    )
    with pytest.raises(Invalid) as raised:
        previews.preview("stored", PreviewRequest(external_id="ada", message=message))
    assert raised.value.code == "template_error" and "line 2" in raised.value.message
    assert "gold" not in raised.value.message


def test_a_stored_message_the_checks_no_longer_pass_is_a_400_to_save_again() -> None:
    previews, _ = _previews()
    old = {"channel": "webhook", "url": "https://x.example", "method": "GET", "body": "a GET has no body now"}
    previews.campaigns.put("old", {"name": "O", "message": old, "delivery": {"type": "api"}}, "2026-01-01T00:00:00Z")
    with pytest.raises(Invalid) as raised:
        previews.preview("old", PreviewRequest(external_id="ada"))
    assert raised.value.code == "invalid_definition"
