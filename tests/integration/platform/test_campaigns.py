"""Campaigns (contract v2 §6) on template.yaml in moto, through the management API: a definition saved (its templates
checked, an error naming its field and line), published once what it refers to exists, stopped, published again."""

from __future__ import annotations

from typing import Any

from tests.integration.platform.platform_support import Platform
from tests.stack_support import drain_queue

LYTICS = {
    "name": "Profiles to Lytics",
    "message": {
        "channel": "webhook",
        "url": "https://api.lytics.io/c/acct/braze_users?key={{custom_attribute.${lytics_key}}}",
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer s3cret-token"},
        "body": '{"braze_id": "{{${braze_id}}}", "email": "{{${email_address} | default: \'\'}}"}',
    },
    "audience": {"segment_id": "gold"},
    "delivery": {"type": "action", "trigger": {"custom_event": "signup"}, "delay_seconds": 60},
    "rate_limit_per_minute": 600,
}


def _admin(platform: Platform, method: str, path: str, body: Any = None) -> Any:
    return platform.request(method, path, body, {"x-api-key": platform.stack.api_key})


def test_a_webhook_campaign_from_draft_to_active_to_stopped(platform: Platform) -> None:
    saved = _admin(platform, "PUT", "/v1/campaigns/lytics", LYTICS)
    assert saved.status == 200, saved.text
    assert (saved.json["status"], saved.json["published_at"]) == ("draft", None)
    assert saved.json["message"]["headers"] == LYTICS["message"]["headers"]

    refused = _admin(platform, "POST", "/v1/campaigns/lytics/publish")
    assert refused.status == 422, refused.text
    assert [(p["field"], p["code"]) for p in refused.json["error"]["details"]] == [
        ("audience.segment_id", "segment_not_found")
    ]
    gold = {"name": "Gold", "filter": {"attribute": "plan", "op": "eq", "value": "gold"}}
    assert _admin(platform, "PUT", "/v1/segments/gold", gold).status == 200

    published = _admin(platform, "POST", "/v1/campaigns/lytics/publish")
    assert published.status == 200, published.text
    assert published.json["status"] == "active" and published.json["published_at"]
    assert _admin(platform, "GET", "/v1/campaigns/lytics").json == published.json

    in_use = _admin(platform, "DELETE", "/v1/segments/gold")
    assert (in_use.status, in_use.json["error"]["code"]) == (409, "segment_in_use") and "lytics" in in_use.text

    stopped = _admin(platform, "POST", "/v1/campaigns/lytics/stop")
    assert (stopped.status, stopped.json["status"]) == (200, "stopped")
    assert _admin(platform, "POST", "/v1/campaigns/lytics/publish").json["status"] == "active"
    assert _admin(platform, "POST", "/v1/campaigns/lytics/stop").status == 200
    assert _admin(platform, "DELETE", "/v1/segments/gold").status == 204  # a stopped campaign targets nothing


def test_a_bad_template_is_a_400_naming_the_field_and_the_line_and_nothing_is_stored(platform: Platform) -> None:
    bad = {**LYTICS, "message": {**LYTICS["message"], "body": '{\n  "a": "{{ x | }}"\n}'}}
    reply = _admin(platform, "PUT", "/v1/campaigns/lytics", bad)
    assert reply.status == 400, reply.text
    (detail,) = reply.json["error"]["details"]
    assert detail["loc"] == ["body", "message", "webhook", "body"] and "line 2" in detail["message"]
    assert "s3cret" not in reply.text
    assert _admin(platform, "GET", "/v1/campaigns/lytics").status == 404
    assert _admin(platform, "POST", "/v1/campaigns/lytics/stop").status == 404
    assert _admin(platform, "GET", "/v1/campaigns/bad%20id").status == 400


def test_a_draft_cannot_be_stopped(platform: Platform) -> None:
    api = {"name": "API", "message": {"channel": "audience_sync", "step_id": "s1"}, "delivery": {"type": "api"}}
    assert _admin(platform, "PUT", "/v1/campaigns/api", api).status == 200
    reply = _admin(platform, "POST", "/v1/campaigns/api/stop")
    assert (reply.status, reply.json["error"]["code"]) == (409, "campaign_not_active")
    refused = _admin(platform, "POST", "/v1/campaigns/api/publish")
    assert [p["code"] for p in refused.json["error"]["details"]] == ["step_not_found"]


def test_brazes_campaign_catalogue_lists_and_details_them_with_their_permissions(platform: Platform) -> None:
    api = {"name": "API", "message": {"channel": "audience_sync", "step_id": "s1"}, "delivery": {"type": "api"}}
    assert _admin(platform, "PUT", "/v1/campaigns/lytics", LYTICS).status == 200
    assert _admin(platform, "PUT", "/v1/campaigns/api", api).status == 200
    key = platform.new_key("campaigns.list", "campaigns.details")
    bearer = {"Authorization": f"Bearer {key}"}

    listed = platform.request("GET", "/campaigns/list?sort_direction=desc", headers=bearer)
    assert listed.status == 200, listed.text
    assert [(c["id"], c["name"], c["is_api_campaign"]) for c in listed.json["campaigns"]] == [
        ("api", "API", True),
        ("lytics", "Profiles to Lytics", False),
    ]
    assert platform.request("GET", "/campaigns/list?page=1", headers=bearer).json["campaigns"] == []

    details = platform.request("GET", "/campaigns/details?campaign_id=lytics", headers=bearer)
    assert details.status == 200, details.text
    assert (details.json["draft"], details.json["enabled"], details.json["schedule_type"]) == (
        True,
        False,
        "action_based",
    )
    (message,) = details.json["messages"].values()
    assert {k: message[k] for k in ("channel", "url", "body", "type", "headers", "method")} == {
        **LYTICS["message"],
        "type": "raw_text",
        "method": "POST",
    }
    missing = platform.request("GET", "/campaigns/details?campaign_id=nope", headers=bearer)
    assert missing.status == 404 and missing.json["message"]
    only_list = {"Authorization": f"Bearer {platform.new_key('campaigns.list')}"}
    assert platform.request("GET", "/campaigns/details?campaign_id=lytics", headers=only_list).status == 403


def test_the_management_api_lists_every_campaign_as_it_shows_each(platform: Platform) -> None:
    api = {"name": "API", "message": {"channel": "audience_sync", "step_id": "s1"}, "delivery": {"type": "api"}}
    assert _admin(platform, "GET", "/v1/campaigns").json == {"campaigns": []}
    assert _admin(platform, "PUT", "/v1/campaigns/lytics", LYTICS).status == 200
    assert _admin(platform, "PUT", "/v1/campaigns/api", api).status == 200
    listed = _admin(platform, "GET", "/v1/campaigns")
    assert listed.status == 200, listed.text
    api_view, lytics_view = (_admin(platform, "GET", f"/v1/campaigns/{c}").json for c in ("api", "lytics"))
    # each as it is shown alone, less its templates and property filters (a list of whole definitions could pass
    # Lambda's 6 MB)
    lytics_delivery = {"type": "action", "trigger": {"custom_event": "signup"}, "delay_seconds": 60}
    assert listed.json["campaigns"] == [
        {**api_view, "message": {"channel": "audience_sync", "step_id": "s1"}},
        {**lytics_view, "message": {"channel": "webhook", "method": "POST"}, "delivery": lytics_delivery},
    ]
    assert "s3cret" not in listed.text


def _profile(platform: Platform) -> None:
    key = platform.new_key("users.track")
    user = {"external_id": "ada", "first_name": "Ada", "email": "ada@example.com", "lytics_key": "k-1", "plan": 3}
    assert platform.braze("/users/track", {"attributes": [user]}, key).status == 201
    platform.settle()


def test_a_preview_renders_the_stored_message_for_one_user_and_sends_nothing(platform: Platform) -> None:
    _profile(platform)
    assert _admin(platform, "PUT", "/v1/campaigns/lytics", LYTICS).status == 200

    preview = _admin(platform, "POST", "/v1/campaigns/lytics/preview", {"external_id": "ada"})
    assert preview.status == 200, preview.text
    assert preview.json == {
        "aborted": False,
        "method": "POST",
        "url": "https://api.lytics.io/c/acct/braze_users?key=k-1",
        "headers": LYTICS["message"]["headers"],
        "body": preview.json["body"],
    }
    body = preview.json["body"]
    assert '"email": "ada@example.com"' in body and '"braze_id": ""' not in body
    assert platform.queued() == [] and drain_queue(platform.stack) == []
    metrics = _admin(platform, "GET", "/v1/campaigns/lytics/metrics").json
    assert set(metrics.values()) == {0}


def test_a_draft_message_in_the_body_is_previewed_with_the_properties_given(platform: Platform) -> None:
    _profile(platform)
    draft = {
        "channel": "webhook",
        "url": "https://example.com/{{campaign.${api_id}}}/{{campaign.${dispatch_id}}}",
        "method": "PUT",
        "headers": {"X-Name": "{{${first_name} | upcase}}"},
        "body": "{{api_trigger_properties.${coupon}}} {{event_properties.${plan}}} {{custom_attribute.${plan}}}",
    }
    request = {
        "external_id": "ada",
        "message": draft,
        "trigger_properties": {"coupon": "C10"},
        "event_properties": {"plan": "gold"},
    }
    preview = _admin(platform, "POST", "/v1/campaigns/unsaved/preview", request)
    assert preview.status == 200, preview.text
    assert (preview.json["method"], preview.json["url"]) == ("PUT", "https://example.com/unsaved/preview")
    assert (preview.json["headers"], preview.json["body"]) == ({"X-Name": "ADA"}, "C10 gold 3")

    aborting = {**draft, "body": "{% if custom_attribute.${plan} < 5 %}{% abort_message('low plan') %}{% endif %}"}
    aborted = _admin(platform, "POST", "/v1/campaigns/unsaved/preview", {**request, "message": aborting})
    assert aborted.json == {"aborted": True, "abort_message": "low plan"}


def test_a_preview_refuses_what_it_cannot_render_with_clear_errors(platform: Platform) -> None:
    _profile(platform)
    assert _admin(platform, "PUT", "/v1/campaigns/lytics", LYTICS).status == 200
    step = {"name": "API", "message": {"channel": "audience_sync", "step_id": "s1"}, "delivery": {"type": "api"}}
    assert _admin(platform, "PUT", "/v1/campaigns/to-step", step).status == 200

    def error(path: str, body: Any) -> tuple[int, str]:
        reply = _admin(platform, "POST", path, body)
        return reply.status, reply.json["error"]["code"]

    assert error("/v1/campaigns/lytics/preview", {"external_id": "nobody"}) == (404, "user_not_found")
    assert error("/v1/campaigns/missing/preview", {"external_id": "ada"}) == (404, "campaign_not_found")
    assert error("/v1/campaigns/to-step/preview", {"external_id": "ada"}) == (400, "not_a_webhook")
    assert error("/v1/campaigns/lytics/preview", {}) == (400, "invalid_request")
    failing = {**LYTICS["message"], "body": "line one\n{{ custom_attribute.${plan} | divided_by: 0 }}"}
    failed = _admin(platform, "POST", "/v1/campaigns/lytics/preview", {"external_id": "ada", "message": failing})
    assert (failed.status, failed.json["error"]["code"]) == (400, "template_error")
    assert "line 2" in failed.json["error"]["message"] and "3" not in failed.json["error"]["message"].split("line")[0]
