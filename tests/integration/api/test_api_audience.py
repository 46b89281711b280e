"""GET /v1/steps/{step_id}/audience: LinkedIn's status and counts, read on demand and explained."""

from __future__ import annotations

import requests

from tests.integration.api.api_helpers import Api, assert_error


def test_new_audience_is_building_and_its_size_is_hidden_below_300(api: Api) -> None:
    audience_id = api.active_step("s1")
    reply = api.get("/v1/steps/s1/audience")
    assert reply.status == 200, reply.text
    view = reply.json
    assert view["audience_id"] == audience_id
    assert view["status"] == "BUILDING"
    assert "48 hours" in view["explanation"]
    assert view["targetable"] is True
    assert view["audience_size"] is None
    assert "300" in view["size_note"]


def test_a_change_on_linkedins_side_shows_at_once(api: Api) -> None:
    audience_id = api.active_step("s1")
    assert requests.delete(f"{api.stack.sandbox.url}/_sandbox/segments/{audience_id}", timeout=10).status_code < 300
    assert_error(api.get("/v1/steps/s1/audience"), 404, "audience_not_found")


def test_a_step_without_an_audience_and_an_unknown_step(api: Api) -> None:
    assert api.put_step("draft-step").status == 200
    assert_error(api.get("/v1/steps/draft-step/audience"), 409, "step_not_launched")
    assert_error(api.get("/v1/steps/nope/audience"), 404, "step_not_found")
