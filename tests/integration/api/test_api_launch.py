"""POST /v1/steps/{step_id}/launch: every problem at once, read-only accounts, audiences new and existing."""

from __future__ import annotations

import requests

from tests.integration.api.api_helpers import ACCOUNT_ID, VIEWER_ACCOUNT_ID, Api, assert_error


def _problems(error: dict) -> dict[str, str]:
    for problem in error["details"]:
        assert set(problem) == {"field", "code", "message"}, problem
        assert problem["message"]
    return {p["field"]: p["code"] for p in error["details"]}


def test_launch_lists_every_problem_at_once(api: Api) -> None:
    assert api.put_step("s1", {}).status == 200
    error = assert_error(api.launch("s1"), 422, "launch_invalid")
    assert len(error["details"]) == 4
    assert _problems(error) == {
        "connection": "linkedin_disconnected",
        "ad_account_id": "required",
        "audience": "required",
        "match_fields": "required",
    }
    assert api.get("/v1/steps/s1").json["status"] == "draft"
    assert api.sandbox_segments() == []


def test_launch_when_not_connected_is_422_even_with_a_complete_config(api: Api) -> None:
    api.put_step("s1")
    error = assert_error(api.launch("s1"), 422, "launch_invalid")
    assert _problems(error) == {"connection": "linkedin_disconnected"}


def test_viewer_ad_account_is_read_only(api: Api) -> None:
    api.connect()
    api.put_step("s1", ad_account_id=VIEWER_ACCOUNT_ID)
    error = assert_error(api.launch("s1"), 422, "launch_invalid")
    assert _problems(error) == {"ad_account_id": "ad_account_read_only"}
    assert api.get("/v1/steps/s1").json["status"] == "draft"
    assert api.sandbox_segments() == []


def test_ad_account_the_member_cannot_use_is_422(api: Api) -> None:
    api.connect()
    api.put_step("s1", ad_account_id="123456")
    error = assert_error(api.launch("s1"), 422, "launch_invalid")
    assert _problems(error) == {"ad_account_id": "unknown_ad_account"}


def test_launch_creates_the_audience_once(api: Api) -> None:
    api.connect()
    api.put_step("s1", audience={"name": "Winback Q3"})
    first = api.launch("s1")
    assert first.status == 200
    assert set(first.json) == {"status", "audience_id"}
    assert first.json["status"] == "active"
    audience_id = first.json["audience_id"]
    segments = api.sandbox_segments()
    assert len(segments) == 1
    assert str(segments[0]["id"]) == audience_id
    assert segments[0]["name"] == "Winback Q3"
    assert segments[0]["type"] == "USER"
    assert segments[0]["account"] == f"urn:li:sponsoredAccount:{ACCOUNT_ID}"
    step = api.get("/v1/steps/s1").json
    assert step["status"] == "active"
    assert step["audience_id"] == audience_id
    assert step["error"] is None
    # Launching again reuses the audience.
    again = api.launch("s1")
    assert again.status == 200
    assert again.json == {"status": "active", "audience_id": audience_id}
    assert len(api.sandbox_segments()) == 1


def test_existing_audience_id_that_does_not_exist_is_422(api: Api) -> None:
    api.connect()
    api.put_step("s1", audience={"id": "123"})
    error = assert_error(api.launch("s1"), 422, "launch_invalid")
    assert _problems(error) == {"audience": "audience_not_found"}
    assert api.get("/v1/steps/s1").json["status"] == "draft"
    assert api.sandbox_segments() == []


def test_existing_audience_id_is_used_as_is(api: Api) -> None:
    audience_id = api.active_step("creator", audience={"name": "Shared audience"})
    api.put_step("s2", audience={"id": audience_id})
    reply = api.launch("s2")
    assert reply.status == 200
    assert reply.json == {"status": "active", "audience_id": audience_id}
    assert api.get("/v1/steps/s2").json["audience_id"] == audience_id
    assert len(api.sandbox_segments()) == 1  # nothing new was created


def test_an_unreadable_answer_for_an_existing_audience_is_502_and_the_step_stays_draft(api: Api) -> None:
    audience_id = api.active_step("creator", audience={"name": "Shared audience"})
    api.put_step("s2", audience={"id": audience_id})
    fault = {"status": 200, "body": "[]", "path_contains": "/dmpSegments/", "count": 1}
    assert requests.post(f"{api.stack.sandbox.url}/_sandbox/faults", json=fault, timeout=10).status_code == 201
    error = assert_error(api.launch("s2"), 502, "linkedin_unavailable")
    assert "linkedin_malformed_response" in error["message"]
    assert api.get("/v1/steps/s2").json["status"] == "draft"


def test_launch_after_disconnect_is_422(api: Api) -> None:
    api.active_step("s1")
    api.request("DELETE", "/v1/connections/linkedin")
    api.put_step("s1", audience={"name": "Other"})
    error = assert_error(api.launch("s1"), 422, "launch_invalid")
    assert _problems(error) == {"connection": "linkedin_disconnected"}


def test_an_audience_of_another_ad_account_is_refused(api: Api) -> None:
    api.connect()
    other = api.stack.sandbox.app.state.create_segment(
        {"name": "Someone else's", "type": "USER"}, "urn:li:sponsoredAccount:507000999"
    )
    api.put_step("s1", audience={"id": str(other.id)})
    error = assert_error(api.launch("s1"), 422, "launch_invalid")
    assert _problems(error) == {"audience": "audience_wrong_account"}


def test_relaunch_by_name_reuses_the_audience_this_step_created_not_one_picked_by_id(api: Api) -> None:
    created = api.active_step("s1", audience={"name": "Mine"})
    picked = api.active_step("other", audience={"name": "Picked"})
    api.put_step("s1", audience={"id": picked})
    assert api.launch("s1").json["audience_id"] == picked
    api.put_step("s1", audience={"name": "Mine"})
    assert api.launch("s1").json["audience_id"] == created
    assert len(api.sandbox_segments()) == 2
